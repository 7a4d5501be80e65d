import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heartbeatLine, makeReporter } from '../../src/cli/progress.js';

/** A stderr stand-in: what was written, and whether it is a terminal. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  return {
    isTTY,
    columns: 80,
    write: (s: string) => {
      chunks.push(s);
      return true;
    },
    text: () => chunks.join(''),
  } as unknown as NodeJS.WriteStream & { text: () => string };
}

const beat = (s: number, lastLine?: string) => ({
  command: 'npm 11.21.3 ci --include=dev',
  elapsedMs: s * 1000,
  ...(lastLine !== undefined && { lastLine }),
});

describe('heartbeats of long builder commands', () => {
  test('without a terminal: one line every 10 s of a command, with its last output line', () => {
    const out = stream(false);
    const r = makeReporter({ quiet: false, stream: out });
    for (let s = 1; s <= 25; s++)
      r.heartbeat?.(beat(s, s > 12 ? 'CXX(target) Release/obj.target/sqlite3.o' : undefined));
    const lines = out.text().trimEnd().split('\n');
    assert.deepEqual(lines, [
      'distill: still running after 10s: npm 11.21.3 ci --include=dev',
      'distill: still running after 20s: npm 11.21.3 ci --include=dev | CXX(target) Release/obj.target/sqlite3.o',
    ]);
    // A stall of the event loop skips the lines it missed rather than printing them at once.
    r.heartbeat?.(beat(47));
    r.heartbeat?.(beat(48));
    assert.equal(out.text().trimEnd().split('\n').length, 3);
  });

  test('on a terminal: a live line under the step with the elapsed time and the last output line', () => {
    const out = stream(true);
    const r = makeReporter({ quiet: false, stream: out });
    r.step?.('install: npm 11.21.3 ci --include=dev');
    r.heartbeat?.(beat(3, 'gyp info spawn make'));
    assert.match(out.text(), /\n\x1b\[2K {2}3s gyp info spawn make\n/);
    r.step?.('build: npm 11.21.3 run build');
    assert.doesNotMatch(out.text().slice(out.text().lastIndexOf('build: npm')), /gyp info/);
  });

  test('--quiet: nothing', () => {
    const out = stream(false);
    const r = makeReporter({ quiet: true, stream: out });
    r.heartbeat?.(beat(30, 'x'));
    assert.equal(out.text(), '');
  });

  test('a long last line is cut', () => {
    const line = heartbeatLine(beat(12, 'x'.repeat(500)), 120);
    assert.ok(line.length <= 125, line);
    assert.ok(line.endsWith('…'));
  });
});
