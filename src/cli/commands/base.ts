import { parseLayerCompression } from '../../layers/compression.js';
import { artifactPlatforms } from '../../media/copy.js';
import { parseMirrorArgs } from '../../plan/mirrors.js';
import { attachedJson, attachedLines, attestOptions } from '../attest.js';
import type { BaseArgs, BaseContext } from '../base.js';
import { type CacheValues, remoteCache } from '../cache.js';
import { context, ExitWith, expectPositionals, textOrJson } from '../context.js';
import { checkOutputs } from '../refs.js';
import type { Call, Values as ValuesOf } from '../spec.js';
import type { BASE_OPTIONS, LOCK_OPTIONS } from '../specs/base.js';

/** `distill base VARIANT` and `distill lock VARIANT`: flags to BaseArgs, then what was made. */
type Values = ValuesOf<typeof BASE_OPTIONS> & ValuesOf<typeof LOCK_OPTIONS>;

function baseArgs(v: Values, variant: string | undefined): BaseArgs {
  return {
    packages: v.package ?? [],
    suites: v.suite ?? [],
    keyrings: v.keyring ?? [],
    ...(variant !== undefined && { variant }),
    ...(v.file !== undefined && { file: v.file }),
    ...(v.nonroot && { nonroot: true }),
    ...(v.debug && { debug: true }),
    ...(v.arch !== undefined && { arch: v.arch }),
    ...(v.mirror !== undefined && { mirrors: parseMirrorArgs(v.mirror) }),
    ...(v.node !== undefined && { node: v.node }),
    ...(v['node-mirror'] !== undefined && { nodeMirror: v['node-mirror'] }),
    ...(v.lock !== undefined && { lock: v.lock }),
    ...(v['no-strip'] && { strip: false }),
    ...(v.compression !== undefined && { compression: parseLayerCompression(v.compression) }),
  };
}

export async function run(call: Call<Values>): Promise<number> {
  const v = call.values;
  const { positionals, command } = call;
  expectPositionals(positionals, 0, 1, `${command} takes one variant: distill ${command} VARIANT [options]`);
  const format = textOrJson(v.format);
  const attest = command === 'base' ? attestOptions(v, 'base') : undefined;
  const args = { ...baseArgs(v, positionals[0]), ...(attest && { attest }) };
  const c = await context(call);
  const ctx: BaseContext = { store: c.store, reporter: c.reporter, env: call.env, warn: c.warn };
  const { commandBase, commandLock } = await import('../base.js');
  if (command === 'lock') {
    const r = await commandLock(args, ctx, v.check === true, v.output as string | undefined).catch(
      (err: unknown) => {
        // lock --check exits 1 only when updates exist: any failure to check is 2, whatever it was.
        throw v.check === true ? new ExitWith(2, err) : err;
      },
    );
    c.reporter.done();
    if (r.outdated !== undefined) {
      if (format === 'json') await call.print(JSON.stringify({ lockfile: r.file, outdated: r.outdated }));
      else if (r.outdated.length === 0) await call.print(`${r.file}: every locked package is current`);
      else {
        await call.print(
          [
            `${r.file}: ${r.outdated.length} locked packages have newer versions:`,
            ...r.outdated.map((o) => `  ${o.name} (${o.arch}): ${o.locked} -> ${o.available} in ${o.suite}`),
            'Run distill lock again to take them.',
          ].join('\n'),
        );
      }
      return r.outdated.length === 0 ? 0 : 1;
    }
    const n = Object.values(r.lock!.architectures).reduce((k, l) => k + l.length, 0);
    if (format === 'json') await call.print(JSON.stringify({ lockfile: r.file, packages: n }));
    else
      await call.print(
        `wrote ${r.file}: ${n} packages${r.lock!.node ? `, Node ${r.lock!.node.version}` : ''}`,
      );
    return 0;
  }
  const outputs = (v.output as string[] | undefined) ?? [];
  checkOutputs(outputs);
  const signing = v['sign-key'] === undefined ? undefined : await import('../sign-outputs.js');
  const signer = await signing?.signerFromFlag(v['sign-key'], call.env, call.stderr);
  // The provenance and the SBOMs are signed too (DSSE envelopes attached beside them).
  if (attest && signer) attest.sign = signing!.attestationSigner(signer);
  const cache = remoteCache(v as CacheValues, c, outputs);
  // The cache's writes run beside the build; they are waited for, never fail it (warnings).
  const r = await commandBase(args, { ...ctx, media: c.media('dest') }, outputs).finally(() =>
    cache?.flush(),
  );
  const signed = signer ? await signing!.signOutputs(r.published, signer, c.media('dest'), c.warn) : [];
  c.reporter.done();
  if (format === 'json') {
    await call.print(
      JSON.stringify({
        digest: r.artifact.manifest.digest,
        mediaType: r.artifact.manifest.mediaType,
        platforms: artifactPlatforms(r.artifact),
        outputs: r.outputs,
        packages: r.lock.architectures,
        node: r.lock.node?.version,
        attached: attachedJson(r.published),
        ...(signer && { signatures: signed }),
        warnings: c.warnings,
      }),
    );
  } else {
    await call.print(
      [
        `built ${r.artifact.manifest.digest} (${artifactPlatforms(r.artifact).join(', ')})`,
        ...r.outputs.map((o) => `  -> ${o}`),
        ...attachedLines(r.published),
        ...signed.map((x) => `  signed -> ${x.attachment}`),
      ].join('\n'),
    );
  }
  return 0;
}
