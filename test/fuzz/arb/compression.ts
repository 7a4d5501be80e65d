import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { mutated } from './mutate.js';
import { plainTarArb } from './tar.js';

/**
 * Compressed streams: gzip made by zlib, zstd frames written by hand (raw, RLE, compressed and
 * reserved blocks, any window, skippable frames, checksums) or made by the zstd tool, xz streams
 * made by the xz tool; then damage. The tool-made ones are seeds (a small tar, compressed once
 * with `zstd -3`, `zstd -19 --check`, `xz`, `xz --check=sha256`), so no tool is needed to run.
 */
const SEEDS = {
  zstd: 'KLUv/QRYLQQA8oUVG2CJ24DZDJOUZVBKVW9HBzHT4jExqYNjECgpdgvb1ANwPZK3SA3DUuvnkMpEWQfBYBUIAQNqlmGMSJT1a+v0c8dTeTyPePX/h6rI/+NeTnAzWpEWhwMQAP1BBRmkwK+uGmNA1UCmAXIDDkwocqAOBCgr3pAaAJIDDKCtFQTgOmQCdU5NC1k=',
  zstdCheck:
    'KLUv/QRoBQQAsgUUGIBtDmD2fxaQdWbuDd8oMyKRKTsdi7Xgyk2E7J5w94ArFj2RyUnpaswciKEkxbIi+MR2BsLQXyWcJqVfbfzO3+/bdZ0L/mtP2FBLYEqsmToQIDBvYd0BkVBB+dukAr+qxpiqKZMcYAlAOORcJQoQ5ikJpgkzQiAB4ZAp1AFOTQtZ',
  xz: '/Td6WFoAAATm1rRGAgAhARYAAAB0L+Wj4A3/AIZdADKdCIYUqFwnkme6RssZhkRI4lCNvGzcUlwVzSfgVA6Sz5IfB3ChOQACtRvmhgK5zuhsWpcDFO06yM3oWGYpmpYFmR7WvYqyIKtXw1N59VsA4PzOETSpxczrNNCCEzMqwb1YERp4M57U3yh9+Rf+uj4QfHiVmS1ws+bqpukZugDjiQ8xdTYAAAAAOMFhpeJWO9IAAaIBgBwAAKehhFKxxGf7AgAAAAAEWVo=',
  xzSha:
    '/Td6WFoAAArh+wyhAgAhARYAAAB0L+Wj4A3/AIZdADKdCIYUqFwnkme6RssZhkRI4lCNvGzcUlwVzSfgVA6Sz5IfB3ChOQACtRvmhgK5zuhsWpcDFO06yM3oWGYpmpYFmR7WvYqyIKtXw1N59VsA4PzOETSpxczrNNCCEzMqwb1YERp4M57U3yh9+Rf+uj4QfHiVmS1ws+bqpukZugDjiQ8xdTYAAAAAH9G0IiuIg9PNNyjXu8fJLtWuGKWnUvSRAvHZ8CCAv4sAAboBgBwAAFEhAb226d8cAgAAAAAKWVo=',
};

const seedArb = fc.constantFrom(...Object.values(SEEDS)).map((b) => Buffer.from(b, 'base64'));

const gzipArb = fc
  .tuple(
    fc.oneof(
      plainTarArb,
      fc.uint8Array({ maxLength: 2000 }).map((u) => Buffer.from(u)),
    ),
    fc.integer({ min: 0, max: 9 }),
    fc.nat({ max: 2 }),
  )
  .map(([data, level, members]) =>
    Buffer.concat(Array.from({ length: members + 1 }, () => gzipSync(data, { level }))),
  );

type Block = { type: 0 | 1 | 2 | 3; size: number; payload: Uint8Array };

const blockArb: fc.Arbitrary<Block> = fc.record({
  type: fc.constantFrom(0 as const, 1 as const, 1 as const, 2 as const, 3 as const),
  size: fc.oneof(fc.nat({ max: 64 }), fc.constantFrom(128 * 1024, 128 * 1024 + 1, 2 ** 21 - 1)),
  payload: fc.uint8Array({ maxLength: 64 }),
});

/** zstd frames as RFC 8878 lays them out, each field from the range that matters. */
const zstdFrameArb = fc
  .record({
    singleSegment: fc.boolean(),
    fcsCode: fc.nat({ max: 3 }),
    dictCode: fc.nat({ max: 3 }),
    checksum: fc.boolean(),
    reserved: fc.constantFrom(false, false, false, true),
    windowDescriptor: fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x00, 0x38, 0x58, 0x88, 0xa8, 0xf8),
    ),
    fcs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    blocks: fc.array(blockArb, { maxLength: 6 }),
    skippable: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }),
  })
  .map((f) => {
    const fhd =
      (f.fcsCode << 6) |
      ((f.singleSegment ? 1 : 0) << 5) |
      ((f.checksum ? 1 : 0) << 2) |
      (f.reserved ? 8 : 0) |
      f.dictCode;
    const fcsBytes = f.fcsCode === 0 ? (f.singleSegment ? 1 : 0) : 1 << f.fcsCode;
    const dictBytes = [0, 1, 2, 4][f.dictCode]!;
    const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, fhd])];
    if (!f.singleSegment) parts.push(Buffer.from([f.windowDescriptor]));
    parts.push(Buffer.alloc(dictBytes, 1));
    const fcs = Buffer.alloc(8);
    fcs.writeBigUInt64LE(f.fcs);
    parts.push(fcs.subarray(0, fcsBytes));
    f.blocks.forEach((b, i) => {
      const h = (i === f.blocks.length - 1 ? 1 : 0) | (b.type << 1) | (b.size << 3);
      parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]));
      parts.push(Buffer.from(b.type === 1 ? b.payload.subarray(0, 1) : b.payload));
    });
    if (f.checksum) parts.push(Buffer.from([1, 2, 3, 4]));
    if (f.skippable) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(f.skippable.length);
      parts.unshift(Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18]), len, f.skippable]));
    }
    return Buffer.concat(parts);
  });

/** Bytes led by one of the magics, then anything. */
const magicLedArb = fc
  .tuple(
    fc.constantFrom(
      [0x1f, 0x8b],
      [0x1f, 0x8b, 8, 0],
      [0x28, 0xb5, 0x2f, 0xfd],
      [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
      [0x50, 0x2a, 0x4d, 0x18],
    ),
    fc.uint8Array({ maxLength: 200 }),
  )
  .map(([magic, rest]) => Buffer.concat([Buffer.from(magic), rest]));

export const compressedArb: fc.Arbitrary<Uint8Array> = mutated(
  fc.oneof(
    { weight: 3, arbitrary: gzipArb },
    { weight: 3, arbitrary: zstdFrameArb },
    { weight: 3, arbitrary: seedArb },
    { weight: 1, arbitrary: magicLedArb },
  ),
  (b) => b,
  3,
);
