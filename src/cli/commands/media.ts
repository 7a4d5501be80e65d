import { artifactPlatforms, copy as copyImage, selectPlatform } from '../../media/copy.js';
import { openArtifact } from '../../media/index.js';
import { formatImageRef, parseImageRef } from '../../ref/transport.js';
import { pruneRegistryCache } from '../cache.js';
import { context, expectPositionals, platformChoice, textOrJson, usage } from '../context.js';
import { formatBytes } from '../progress.js';
import type { Call, Values } from '../spec.js';
import type { CACHE_OPTIONS, COPY_OPTIONS, DIGEST_OPTIONS } from '../specs/media.js';

/** `distill copy`, `distill digest` and `distill cache`: the commands that move or measure blobs. */
export async function run(
  call: Call<Values<typeof COPY_OPTIONS> | Values<typeof DIGEST_OPTIONS> | Values<typeof CACHE_OPTIONS>>,
): Promise<number> {
  switch (call.command) {
    case 'copy':
      return copy(call as Call<Values<typeof COPY_OPTIONS>>);
    case 'digest':
      return digest(call as Call<Values<typeof DIGEST_OPTIONS>>);
    default:
      return cache(call as Call<Values<typeof CACHE_OPTIONS>>);
  }
}

async function copy(call: Call<Values<typeof COPY_OPTIONS>>): Promise<number> {
  const v = call.values;
  expectPositionals(call.positionals, 2, 2, 'copy needs a source and a destination: distill copy SRC DST');
  const format = textOrJson(v.format);
  const src = parseImageRef(call.positionals[0]!);
  const dst = parseImageRef(call.positionals[1]!);
  const mf = v['manifest-format'];
  if (mf !== undefined && mf !== 'oci' && mf !== 'docker')
    throw usage('--manifest-format must be oci or docker');
  const platform = platformChoice(v.platform);
  if (v.referrers && v['no-referrers'])
    throw usage('--referrers and --no-referrers contradict each other; give one');
  const c = await context(call);
  const result = await copyImage(src, dst, {
    store: c.store,
    progress: c.reporter,
    // Reading uses the source's credentials and writing the destination's.
    registry: c.media('dest').registry ?? {},
    sourceRegistry: c.media('src').registry ?? {},
    daemon: { env: call.env },
    ...(platform !== undefined && { platform }),
    ...(mf !== undefined && { format: mf }),
    ...(v.referrers && { referrers: true }),
    ...(v['no-referrers'] && { referrers: false }),
  });
  c.reporter.done();
  if (format === 'json') {
    await call.print(JSON.stringify({ from: formatImageRef(src), to: formatImageRef(dst), ...result }));
  } else {
    await call.print(
      `copied ${formatImageRef(src)} to ${formatImageRef(dst)}: ${result.destination.digest} (${result.platforms.join(', ')})${result.referrers.length > 0 ? `, with ${result.referrers.length} referrer${result.referrers.length === 1 ? '' : 's'}` : ''}`,
    );
  }
  return 0;
}

async function digest(call: Call<Values<typeof DIGEST_OPTIONS>>): Promise<number> {
  const v = call.values;
  expectPositionals(call.positionals, 1, 1, 'digest needs one image reference: distill digest REF');
  const format = textOrJson(v.format);
  const ref = parseImageRef(call.positionals[0]!);
  const choice = platformChoice(v.platform) ?? 'all';
  const artifact = await selectPlatform(await openArtifact(ref, (await context(call)).media('src')), choice);
  if (format === 'json') {
    await call.print(
      JSON.stringify({
        reference: formatImageRef(ref),
        digest: artifact.manifest.digest,
        mediaType: artifact.manifest.mediaType,
        size: artifact.manifest.bytes.length,
        platforms: artifactPlatforms(artifact),
      }),
    );
  } else {
    await call.print(artifact.manifest.digest);
  }
  return 0;
}

async function cache(call: Call<Values<typeof CACHE_OPTIONS>>): Promise<number> {
  const v = call.values;
  expectPositionals(
    call.positionals,
    1,
    2,
    'cache needs a subcommand: distill cache du, distill cache prune, or distill cache prune REF --keep-days N',
  );
  const format = textOrJson(v.format);
  const c = await context(call);
  const { store } = c;
  const sub = call.positionals[0];
  if (sub === 'prune' && call.positionals[1] !== undefined) {
    return pruneRegistryCache(call.positionals[1], v['keep-days'], c, format, (s) => call.print(s));
  }
  if (v['keep-days'] !== undefined) throw usage('--keep-days goes with cache prune REF');
  if (call.positionals.length > 1) throw usage(`cache ${sub} takes no REF`);
  if (sub === 'du') {
    if (v['older-than'] !== undefined || v.all) throw usage('--older-than and --all go with cache prune');
    const du = await store.du();
    const areas = Object.entries(du.areas)
      .filter(([, a]) => a.bytes > 0)
      .map(([n, a]) => `  ${n.padEnd(11)}${formatBytes(a.bytes)} (${a.files} files)`);
    await call.print(
      format === 'json'
        ? JSON.stringify(du)
        : [`${du.root}: ${du.blobs} blobs, ${formatBytes(du.bytes)}`, ...areas].join('\n'),
    );
    return 0;
  }
  if (sub !== 'prune') throw usage(`cache has du and prune, not "${sub}"`);
  let olderThanMs = 0;
  const ot = v['older-than'];
  if (ot !== undefined) {
    if (v.all) throw usage('--all removes everything and --older-than keeps recent blobs; give one');
    const m = /^(\d+)d?$/.exec(ot);
    if (!m) throw usage('--older-than takes a number of days, e.g. --older-than 30');
    olderThanMs = Number(m[1]) * 86_400_000;
  }
  const r = await store.prune(olderThanMs);
  await call.print(
    format === 'json'
      ? JSON.stringify({ removed: r })
      : `removed ${r.blobs} blobs, ${formatBytes(r.bytes)} from ${store.root}`,
  );
  return 0;
}
