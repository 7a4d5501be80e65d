import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildLayer } from '../../src/layers/build.js';
import { entriesFromDirectory } from '../../src/layers/directory.js';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { appendLayers, emptyImage } from '../../src/oci/mutate.js';
import { Store } from '../../src/store/store.js';

export const exec = promisify(execFile);

/**
 * An image made by distill's layer builder with a store of its own (an empty cache), one layer
 * per directory, written as an OCI layout: `oci:OUT:t`. Device nodes (a debootstrap /dev) are
 * left out: a layer holds files, directories and links.
 */
export async function imageFromDirs(
  out: string,
  cache: string,
  layers: readonly { dir: string; prefix?: string }[],
): Promise<{ ref: string; layers: string[] }> {
  await mkdir(cache, { recursive: true });
  const store = new Store(cache);
  let image = emptyImage({ os: 'linux', architecture: 'amd64' });
  const digests: string[] = [];
  for (const l of layers) {
    const entries = await entriesFromDirectory(l.dir, {
      ...(l.prefix !== undefined && { prefix: l.prefix }),
      ignore: (_path, info) => info.type === 'other',
    });
    const layer = await buildLayer(entries, { store, sourceDateEpoch: 0 });
    digests.push(layer.descriptor.digest);
    image = appendLayers(image, { layer });
  }
  await writeLayoutDir(out, 't', image);
  return { ref: `oci:${out}:t`, layers: digests };
}

/** `debootstrap --variant=minbase trixie` from Debian's archive into DIR/root (about a minute). */
export async function debootstrap(dir: string): Promise<string> {
  const root = join(dir, 'root');
  await exec('debootstrap', ['--variant=minbase', 'trixie', root, 'http://deb.debian.org/debian'], {
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return root;
}
