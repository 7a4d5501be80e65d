import type { CommandSpec, OptionSpec } from './spec.js';

/**
 * `--help` texts, made from the command tables alone (spec.ts), the same on every terminal so
 * that docs/CLI.md can hold them exactly: lines of at most WIDTH characters.
 */
const WIDTH = 100;
/** The widest option label that still gets its description on the same line. */
const MAX_LABEL = 30;

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** Two columns: each label, then its text wrapped beside it (under it, for a long label). */
function columns(rows: readonly (readonly [string, string])[], labelWidth = widthOf(rows)): string[] {
  const indent = 2;
  const left = indent + labelWidth + 2;
  const out: string[] = [];
  for (const [l, text] of rows) {
    const body = wrap(text, WIDTH - left);
    const pad = ' '.repeat(left);
    if (l.length > labelWidth) {
      out.push(`${' '.repeat(indent)}${l}`);
      for (const b of body) out.push(`${pad}${b}`);
    } else {
      out.push(`${' '.repeat(indent)}${l.padEnd(labelWidth + 2)}${body[0] ?? ''}`.trimEnd());
      for (const b of body.slice(1)) out.push(`${pad}${b}`);
    }
  }
  return out;
}

function widthOf(rows: readonly (readonly [string, string])[]): number {
  return Math.min(MAX_LABEL, Math.max(...rows.map(([l]) => l.length)));
}

export function optionLabel(o: OptionSpec): string {
  const flag = o.short !== undefined ? `-${o.short}, --${o.name}` : `    --${o.name}`;
  return o.value !== undefined ? `${flag} ${o.value}` : flag;
}

function optionText(o: OptionSpec): string {
  return o.repeatable ? `${o.description} (repeatable)` : o.description;
}

export function synopsis(cmd: CommandSpec): string {
  return `distill ${cmd.name}${cmd.positionals ? ` ${cmd.positionals.name}` : ''} [options]`;
}

/** `distill CMD --help`: what it does, its options by group, and examples. */
export function commandHelp(cmd: CommandSpec): string {
  const out = [`Usage: ${synopsis(cmd)}`, ''];
  for (const p of cmd.description) out.push(...wrap(p, WIDTH), '');
  const groups = new Map<string, OptionSpec[]>();
  for (const o of cmd.options) {
    const g = o.group ?? 'Options';
    groups.set(g, [...(groups.get(g) ?? []), o]);
  }
  // "Options" first, "Common options" last, the rest in the order they are declared.
  const order = [...groups.keys()].sort(
    (a, b) => rank(a) - rank(b) || [...groups.keys()].indexOf(a) - [...groups.keys()].indexOf(b),
  );
  // One label width for the whole command, so that every group lines up.
  const width = widthOf(cmd.options.map((o) => [optionLabel(o), ''] as const));
  for (const g of order) {
    out.push(
      `${g}:`,
      ...columns(
        groups.get(g)!.map((o) => [optionLabel(o), optionText(o)] as const),
        width,
      ),
      '',
    );
  }
  out.push('Examples:');
  for (const [command, what] of cmd.examples)
    out.push(`  ${command}`, ...wrap(what, WIDTH - 6).map((l) => `      ${l}`));
  return `${out.join('\n')}\n`;
}

function rank(group: string): number {
  return group === 'Options' ? 0 : group === 'Common options' ? 2 : 1;
}

const REFERENCES = [
  ['oci:DIR[:TAG]', 'an OCI image layout directory'],
  ['oci-archive:FILE[:TAG]', 'an OCI layout in a tar file'],
  ['docker-archive:FILE[:NAME:TAG]', 'what docker save writes and docker load reads'],
  ['docker-daemon:NAME[:TAG]', 'the Docker engine (DOCKER_HOST, else /var/run/docker.sock)'],
  ['docker://REGISTRY/REPO[:TAG|@DIGEST]', 'an OCI registry; a bare REGISTRY/REPO[:TAG] too'],
] as const;

/** `distill --help`: every command, the image references, and where to read more. */
export function globalHelp(commands: readonly CommandSpec[]): string {
  const out = ['Usage: distill <command> [options]', '', 'Commands:'];
  out.push(
    ...columns(commands.map((c) => [`${c.name}${c.positionals ? ` ${c.positionals.name}` : ''}`, c.summary])),
  );
  out.push('', 'Image references (as skopeo writes them):', ...columns(REFERENCES), '');
  out.push(
    ...wrap(
      'Run "distill <command> --help" (or distill help <command>) for its options and examples; distill --version for the version. Exit status: 0 done, 1 failed (one sentence says why), 2 usage error, 3 a --deny rule broken; 141 when stdout was closed early (| head).',
      WIDTH,
    ),
  );
  return `${out.join('\n')}\n`;
}
