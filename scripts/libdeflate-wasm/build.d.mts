// Types of build.mjs for the TypeScript that imports it (test/layers/libdeflate.test.ts).
export declare const LIBDEFLATE_VERSION: string;
export declare const TARBALL_URL: string;
export declare const TARBALL_SHA256: string;
export declare const TS_OUT: string;
export declare const CFLAGS: string[];
export declare function buildLibdeflateWasm(opts?: { tarballPath?: string }): Promise<Buffer>;
export declare function wasmModuleSource(wasm: Buffer): string;
