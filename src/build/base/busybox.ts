import type { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import type { LayerEntry } from '../../layers/entries.js';
import { BUSYBOX_DIR } from '../../plan/layout.js';

/**
 * The debug flavour's toolbox: Debian's busybox-static at /busybox/busybox with a link per applet
 * (/busybox/sh, /busybox/ls, ...), as the reference debug images have it.
 *
 * The applet list is read from the binary itself, so it is right for whatever busybox the suite
 * ships and for any architecture, without running a foreign binary: busybox keeps its applet
 * names in one sorted, NUL-separated table that starts with "[" and "[[" and ends at the first
 * empty name. A test checks this against `busybox --list` of a real binary.
 */
export async function busyboxApplets(binary: Readable): Promise<string[]> {
  const marker = Buffer.from('[\0[[\0', 'latin1');
  let tail = Buffer.alloc(0);
  let table: Buffer | undefined;
  for await (const chunk of binary) {
    const buf = Buffer.concat([tail, chunk as Buffer]);
    if (table === undefined) {
      const i = buf.indexOf(marker);
      if (i >= 0) table = buf.subarray(i);
      else tail = buf.subarray(Math.max(0, buf.length - marker.length));
    } else {
      table = Buffer.concat([table, chunk as Buffer]);
    }
    if (table !== undefined) {
      const end = table.indexOf(Buffer.from([0, 0]));
      if (end >= 0) {
        table = table.subarray(0, end);
        break;
      }
      if (table.length > 1 << 20) break;
    }
  }
  const names = table === undefined ? [] : table.toString('latin1').split('\0');
  if (!names.includes('sh') || !names.includes('ls') || names.some((n) => !/^[a-z0-9_.[\]-]+$/.test(n))) {
    throw new DistillError(
      'DEB_INVALID',
      'could not read the applet list from the busybox binary; is busybox-static the package it should be?',
    );
  }
  return names;
}

export function busyboxEntries(
  binary: { size: number; open: () => Promise<Readable> },
  applets: string[],
): LayerEntry[] {
  const out: LayerEntry[] = [
    { type: 'dir', path: BUSYBOX_DIR, mode: 0o755 },
    { type: 'file', path: `${BUSYBOX_DIR}/busybox`, mode: 0o755, source: { kind: 'stream', ...binary } },
  ];
  for (const a of applets) {
    if (a === 'busybox') continue;
    out.push({ type: 'symlink', path: `${BUSYBOX_DIR}/${a}`, target: 'busybox' });
  }
  return out;
}
