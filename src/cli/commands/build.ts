import { parseLayerCompression } from '../../layers/compression.js';
import { artifactPlatforms } from '../../media/copy.js';
import { shellWords } from '../../plan/choices.js';
import { parseMirrorArgs } from '../../plan/mirrors.js';
import { attachedJson, attachedLines, attestOptions } from '../attest.js';
import type { BaseContext } from '../base.js';
import { type BuildArgs, commandBuild } from '../build.js';
import { writeBuildxFiles } from '../buildx.js';
import { remoteCache } from '../cache.js';
import { context, expectPositionals, textOrJson, usage } from '../context.js';
import { nextSteps } from '../hints.js';
import { checkOutputs, tagOutputs } from '../refs.js';
import type { Call, Values } from '../spec.js';
import type { BUILD_OPTIONS } from '../specs/build.js';

/** `distill build [DIR]`: flags to a BuildArgs, the build (src/cli/build.ts), then what was made. */
export async function run(call: Call<BuildValues>): Promise<number> {
  const { values: v, positionals } = call;
  expectPositionals(positionals, 0, 1, 'build takes one app directory: distill build [DIR]');
  const format = textOrJson(v.format);
  const attest = attestOptions(v, 'build');
  const args = { ...buildArgs(v, positionals[0] ?? '.'), ...(attest && { attest }) };
  const c = await context(call);
  const ctx: BaseContext = {
    store: c.store,
    reporter: c.reporter,
    env: call.env,
    media: c.media('dest'),
    warn: c.warn,
  };
  const signing = v['sign-key'] === undefined || v.plan ? undefined : await import('../sign-outputs.js');
  const signer = await signing?.signerFromFlag(v['sign-key'], call.env, call.stderr);
  // The provenance and the SBOMs are signed too (DSSE envelopes attached beside them).
  if (attest && signer) attest.sign = signing!.attestationSigner(signer);
  // --load without -t writes to the Docker engine, which reads every layer: [] keeps none remote.
  const cache = v.plan === true ? undefined : remoteCache(v, c, args.load ? [] : args.outputs);
  // The cache's writes run beside the build; they are waited for, never fail it (warnings).
  const r = await commandBuild(args, ctx, v.plan === true).finally(() => cache?.flush());
  const published = r.published ?? [];
  const signed = signer ? await signing!.signOutputs(published, signer, c.media('dest'), c.warn) : [];
  c.reporter.done();
  if (v.plan) {
    await call.print(JSON.stringify(r.plan, null, 2));
    return 0;
  }
  const artifact = r.artifact!;
  await writeBuildxFiles(artifact, published, {
    ...(v.iidfile !== undefined && { iidfile: v.iidfile }),
    ...(v['metadata-file'] !== undefined && { metadataFile: v['metadata-file'] }),
  });
  if (format === 'json') {
    await call.print(
      JSON.stringify({
        digest: artifact.manifest.digest,
        mediaType: artifact.manifest.mediaType,
        platforms: artifactPlatforms(artifact),
        outputs: r.plan.outputs,
        attached: attachedJson(published),
        plan: r.plan,
        ...(signer && { signatures: signed }),
        warnings: c.warnings,
      }),
    );
    return 0;
  }
  const lines = [
    `built ${artifact.manifest.digest} (${artifactPlatforms(artifact).join(', ')})`,
    ...r.plan.outputs.map((o) => `  -> ${o}`),
    ...attachedLines(published),
    ...signed.map((x) => `  signed -> ${x.attachment}`),
    ...nextSteps(published, r.dockerName),
  ];
  await call.print(lines.join('\n'));
  return 0;
}

type BuildValues = Values<typeof BUILD_OPTIONS>;

function buildArgs(v: BuildValues, dir: string): BuildArgs {
  let cmd: string[] | undefined;
  if (v.cmd !== undefined) {
    cmd = shellWords(v.cmd);
    if (!cmd || cmd.length === 0) {
      throw usage('--cmd takes the arguments for node as one string, e.g. --cmd "server.js --port 8080"');
    }
    if (cmd[0] === 'node') cmd = cmd.slice(1);
  }
  for (const e of v.env ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw usage(`--env takes NAME=VALUE, not "${e}"`);
  }
  for (const p of v.port ?? []) {
    if (!/^\d{1,5}(\/(tcp|udp))?$/.test(p)) {
      throw usage(`--port takes a port number like 8080 or 8080/udp, not "${p}"`);
    }
  }
  if (v.init && v['no-init']) throw usage('--init and --no-init contradict each other; give one');
  const tags = v.tag ?? [];
  const outputs = [...(v.output ?? []), ...tagOutputs(tags, v.load === true, v.push === true)];
  checkOutputs(v.output ?? []);
  return {
    dir,
    packages: v.package ?? [],
    debug: v.debug === true,
    env: v.env ?? [],
    ports: v.port ?? [],
    writable: v.writable ?? [],
    volumes: v.volume ?? [],
    outputs,
    pull: v.pull === true,
    suites: v.suite ?? [],
    keyrings: v.keyring ?? [],
    // --load with no -t: the image is loaded under the name the build gives it.
    ...(v.load && tags.length === 0 && { load: true }),
    ...(cmd !== undefined && { cmd }),
    ...(v.init && { init: true }),
    ...(v['no-init'] && { init: false }),
    ...(v['no-strip'] && { strip: false }),
    ...(v.compression !== undefined && { compression: parseLayerCompression(v.compression) }),
    ...(v.node !== undefined && { node: v.node }),
    ...(v['node-mirror'] !== undefined && { nodeMirror: v['node-mirror'] }),
    ...(v['build-script'] !== undefined && { buildScript: v['build-script'] }),
    ...(v['no-build'] && { noBuild: true }),
    ...(v['no-prune'] && { prune: false }),
    ...((v.trace || v['trace-entry'] !== undefined || v['trace-include'] !== undefined) && {
      trace: {
        entries: v['trace-entry'] ?? [],
        include: v['trace-include'] ?? [],
      },
    }),
    ...(v.workspace !== undefined && { workspace: v.workspace }),
    ...(v.base !== undefined && { base: v.base }),
    ...(v.healthcheck !== undefined && { healthcheck: v.healthcheck }),
    ...(v.user !== undefined && { user: v.user }),
    ...(tags[0] !== undefined && { tag: tags[0] }),
    ...(v.mirror !== undefined && { mirrors: parseMirrorArgs(v.mirror) }),
    ...(v['include-secret'] !== undefined && { includeSecrets: v['include-secret'] }),
    ...(v['cross-toolchain'] !== undefined && { crossToolchain: v['cross-toolchain'] }),
    ...(v.platform !== undefined && {
      platforms: v.platform
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    }),
  };
}
