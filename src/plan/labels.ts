import { gitInfo } from '../sources/app/git.js';
import type { AppDir } from '../sources/app/read.js';

/**
 * `created` and the org.opencontainers.image labels of an app image: the title and version from
 * package.json, the source and revision from its git checkout, `created` from SOURCE_DATE_EPOCH,
 * else the last commit's time, else 0.
 *
 * The source is the `origin` remote when it names one anyone can reach (a URL or ssh's
 * `host:path`), never a local path. The revision is the last commit only when the app directory
 * is what that commit holds: the OCI annotation is "the source control revision identifier for the
 * packaged software", and a tree with changes not committed is no revision at all (a
 * `<commit>-dirty` string would name a commit that does not hold these files, and tools that
 * read the label expect a commit). Such a build gets no revision label, and a progress line says
 * why.
 */
export function labelsOf(
  dir: string,
  app: AppDir,
  name: string,
  sourceDateEpoch: number | undefined,
  step?: (message: string) => void,
): { created: string; labels: Record<string, string> } {
  const git = gitInfo(dir);
  const created = new Date((sourceDateEpoch ?? git.time ?? 0) * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const clean = git.revision !== undefined && git.dirty === false;
  if (git.revision !== undefined && !clean) {
    step?.(
      `${dir} has changes not committed: no org.opencontainers.image.revision label (commit them to have one)`,
    );
  }
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': name,
    ...(app.packageJson.version !== undefined && {
      'org.opencontainers.image.version': String(app.packageJson.version),
    }),
    ...(clean && { 'org.opencontainers.image.revision': git.revision }),
    ...(git.source !== undefined && { 'org.opencontainers.image.source': git.source }),
    'org.opencontainers.image.created': created,
  };
  return { created, labels };
}

/** The label that says the image's bin/node is stripped (elf-strip.ts); absent when it is whole. */
export const NODE_STRIPPED_LABEL = 'dev.distill.node.stripped';

/** The labels an image with Node gets from how its Node was laid out. */
export function nodeLabels(strip: boolean): Record<string, string> {
  return strip ? { [NODE_STRIPPED_LABEL]: 'true' } : {};
}
