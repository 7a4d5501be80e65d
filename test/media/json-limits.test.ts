import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { openArtifact } from '../../src/media/index.js';
import { openRegistry } from '../../src/media/registry/index.js';
import { JSON_LIMITS, jsonLimit } from '../../src/oci/limits.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import { parseJsonDocument } from '../../src/oci/validate.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { tempDir } from '../helpers/components.js';
import { blobFile, rawLayer, writeRawLayout } from '../helpers/hostile.js';

/**
 * Issue 13, finding 10 (second part): one size cap policy for every JSON document, local or
 * remote (src/oci/limits.ts), checked before the document is read. The files here are sparse:
 * 1 TiB of nothing, which a reader that read first and checked after would choke on
 * (ERR_FS_FILE_TOO_LARGE, or memory) instead of refusing at once with DOCUMENT_TOO_LARGE.
 */

const TiB = 1024 ** 4;

function tooLarge(e: unknown, names: RegExp): boolean {
  assert.ok(isDistillError(e, 'DOCUMENT_TOO_LARGE'), String(e));
  assert.match((e as Error).message, names);
  assert.match((e as Error).message, /cap/);
  return true;
}

describe('issue 13 finding 10b: every JSON document has a size cap, checked before it is read', () => {
  let dir = '';
  let good = '';
  before(async () => {
    dir = await tempDir('distill-limits-');
    good = join(dir, 'good');
    await writeRawLayout(good, 'v1', [await rawLayer(1000, 41, true)]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('every cap has a reason, and parseJsonDocument holds bytes from anywhere to it', () => {
    for (const [kind, { bytes, why }] of Object.entries(JSON_LIMITS)) {
      assert.ok(bytes > 0 && why.length > 20, kind);
    }
    assert.equal(jsonLimit('manifest'), 8 * 1024 * 1024);
    const big = Buffer.alloc(jsonLimit('config') + 1, 0x20);
    assert.throws(
      () => parseJsonDocument(big, 'a config in memory', 'config'),
      (e) => tooLarge(e, /a config in memory/),
    );
  });

  test("finding 10b: a layout's index.json of 1 TiB is refused before it is read", async () => {
    const layout = join(dir, 'huge-index-json');
    execFileSync('cp', ['-a', good, layout]);
    await truncate(join(layout, 'index.json'), TiB);
    await assert.rejects(openArtifact(parseImageRef(`oci:${layout}:v1`)), (e) => tooLarge(e, /index\.json/));
    // the same through a link inside the layout; a link to a file elsewhere is refused before
    // anything is read (decision 0010)
    await rm(join(layout, 'index.json'));
    const inside = join(layout, 'big.json');
    await writeFile(inside, '');
    await truncate(inside, TiB);
    await symlink('big.json', join(layout, 'index.json'));
    await assert.rejects(openArtifact(parseImageRef(`oci:${layout}:v1`)), (e) => tooLarge(e, /index\.json/));
    await rm(join(layout, 'index.json'));
    const elsewhere = join(dir, 'elsewhere.json');
    await writeFile(elsewhere, '');
    await truncate(elsewhere, TiB);
    await symlink(elsewhere, join(layout, 'index.json'));
    await assert.rejects(openArtifact(parseImageRef(`oci:${layout}:v1`)), (e) =>
      isDistillError(e, 'LAYOUT_INVALID'),
    );
  });

  test('finding 10b: an oci-layout marker, an index blob, a manifest blob and a config over their caps', async () => {
    const marker = join(dir, 'huge-marker');
    execFileSync('cp', ['-a', good, marker]);
    await truncate(join(marker, 'oci-layout'), jsonLimit('layoutMarker') + 1);
    await assert.rejects(openArtifact(parseImageRef(`oci:${marker}:v1`)), (e) => tooLarge(e, /oci-layout/));

    // Descriptors that declare sizes over the caps: refused on the declared size, nothing read.
    for (const [kind, mediaType, size] of [
      ['manifest', MediaType.OciManifest, jsonLimit('manifest') + 1],
      ['index', MediaType.OciIndex, jsonLimit('index') + 1],
    ] as const) {
      const layout = join(dir, `huge-${kind}`);
      execFileSync('cp', ['-a', good, layout]);
      const digest = `sha256:${createHash('sha256').update(kind).digest('hex')}`;
      await writeFile(blobFile(layout, { digest: digest as `sha256:${string}` }), '');
      await truncate(blobFile(layout, { digest: digest as `sha256:${string}` }), size);
      await writeFile(
        join(layout, 'index.json'),
        JSON.stringify({
          schemaVersion: 2,
          manifests: [
            { mediaType, digest, size, annotations: { 'org.opencontainers.image.ref.name': 'v1' } },
          ],
        }),
      );
      await assert.rejects(openArtifact(parseImageRef(`oci:${layout}:v1`)), (e) =>
        tooLarge(e, new RegExp(digest)),
      );
    }

    const config = join(dir, 'huge-config');
    const image = await writeRawLayout(config, 'v1', [await rawLayer(1000, 42, true)]);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...image.config, size: jsonLimit('config') + 1 },
      layers: image.layers,
    });
    const mdigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}` as const;
    await writeFile(blobFile(config, { digest: mdigest }), manifest);
    await writeFile(
      join(config, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.OciManifest,
            digest: mdigest,
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': 'v1' },
          },
        ],
      }),
    );
    await assert.rejects(openArtifact(parseImageRef(`oci:${config}:v1`)), (e) =>
      tooLarge(e, /config sha256:/),
    );
  });

  test("finding 10b: a docker archive's manifest.json over its cap is refused from the tar header", async () => {
    const work = join(dir, 'archive');
    execFileSync('mkdir', ['-p', work]);
    await writeFile(join(work, 'manifest.json'), '');
    await truncate(join(work, 'manifest.json'), jsonLimit('archiveManifest') + 1);
    const tar = join(dir, 'huge-manifest.tar');
    execFileSync('tar', ['-cf', tar, '-C', work, 'manifest.json']);
    await assert.rejects(openArtifact(parseImageRef(`docker-archive:${tar}`)), (e) =>
      tooLarge(e, /manifest\.json/),
    );
  });

  describe('from a registry', () => {
    let server: Server;
    let host = '';
    let hugeToken = true;
    before(async () => {
      // A hostile registry (in-process: fault injection): endless manifests, huge tokens.
      server = createServer((req, res) => {
        const url = req.url ?? '';
        if (url === '/v2/') {
          if (req.headers.authorization === undefined) {
            res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="x"` });
            res.end();
            return;
          }
          res.end('{}');
          return;
        }
        if (url.startsWith('/token')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(`{"token":"${'t'.repeat(hugeToken ? jsonLimit('registryResponse') + 10 : 10)}"}`);
          return;
        }
        if (url.includes('/manifests/')) {
          // No content-length: an endless body, cut by the client at the cap.
          res.writeHead(200, { 'content-type': MediaType.OciManifest });
          const chunk = Buffer.alloc(1024 * 1024, 0x20);
          let sent = 0;
          const more = () => {
            while (sent < 64 * 1024 * 1024) {
              sent += chunk.length;
              if (!res.write(chunk)) return void res.once('drain', more);
            }
            res.end();
          };
          res.on('close', () => {
            sent = Number.POSITIVE_INFINITY;
          });
          more();
          return;
        }
        res.writeHead(404);
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    test('finding 10b: an endless manifest body is cut at the manifest cap; a huge token answer at its cap', async () => {
      const ref = parseDockerReference(`${host}/hostile/app:v1`);
      // The token answer first: more than 1 MiB.
      await assert.rejects(openRegistry(ref, { retries: 0 }), (e) => tooLarge(e, /token/));
      hugeToken = false;
      await assert.rejects(openRegistry(ref, { retries: 0 }), (e) =>
        tooLarge(e, /pulling manifest .*hostile\/app:v1 is more than 8388608 bytes/),
      );
    });
  });
});
