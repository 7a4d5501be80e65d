import type { CommandSpec, Completion, OptionSpec } from './spec.js';

/**
 * `distill completion bash|zsh|fish`: a completion script made from the command tables, so it
 * knows every command, every option of each, and what values some take (a format, a file, a
 * directory). Nothing of distill runs while completing.
 */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(shell: Shell, commands: readonly CommandSpec[]): string {
  switch (shell) {
    case 'bash':
      return bash(commands);
    case 'zsh':
      return zsh(commands);
    case 'fish':
      return fish(commands);
  }
}

const flags = (o: OptionSpec) => [...(o.short !== undefined ? [`-${o.short}`] : []), `--${o.name}`];
const names = (commands: readonly CommandSpec[]) => [...commands.map((c) => c.name), 'help'].join(' ');

function bashValues(c: Completion | undefined): string {
  if (c === 'file') return 'compopt -o filenames; COMPREPLY=($(compgen -f -- "$cur"))';
  if (c === 'dir') return 'compopt -o filenames; COMPREPLY=($(compgen -d -- "$cur"))';
  if (c !== undefined) return `COMPREPLY=($(compgen -W '${c.join(' ')}' -- "$cur"))`;
  return 'COMPREPLY=()';
}

function bash(commands: readonly CommandSpec[]): string {
  const cases = commands.map((cmd) => {
    const valued = cmd.options.filter((o) => o.type === 'string');
    const byCompletion = new Map<string, string[]>();
    for (const o of valued) {
      const action = bashValues(o.complete);
      byCompletion.set(action, [...(byCompletion.get(action) ?? []), ...flags(o)]);
    }
    const values = [...byCompletion].map(([action, f]) => `        ${f.join('|')}) ${action}; return ;;`);
    return [
      `    ${cmd.name})`,
      '      case $prev in',
      ...values,
      '      esac',
      '      if [[ $cur == -* ]]; then',
      `        COMPREPLY=($(compgen -W '${cmd.options.flatMap(flags).join(' ')}' -- "$cur"))`,
      '      else',
      `        ${bashValues(cmd.positionals?.complete)}`,
      '      fi',
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for distill. Load it with: source <(distill completion bash)
_distill() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd= i
  # --opt=value: bash splits at the =
  if [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  if [[ $cur == = ]]; then cur=; fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=\${COMP_WORDS[i]}; break ;;
    esac
  done
  case $cmd in
    '')
      COMPREPLY=($(compgen -W '${names(commands)} --help --version' -- "$cur"))
      ;;
    help)
      COMPREPLY=($(compgen -W '${commands.map((c) => c.name).join(' ')}' -- "$cur"))
      ;;
${cases.join('\n')}
  esac
}
complete -F _distill distill
`;
}

/** Text inside a single-quoted zsh word, with _arguments' own specials escaped. */
function zq(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/([[\]:])/g, '\\$1')
    .replace(/'/g, "'\\''");
}

function zshAction(c: Completion | undefined): string {
  if (c === 'file') return '_files';
  if (c === 'dir') return '_files -/';
  if (c !== undefined) return `(${c.join(' ')})`;
  return '';
}

function zshOption(o: OptionSpec): string {
  const all = flags(o);
  const exclude = o.repeatable ? '*' : all.length > 1 ? `(${all.join(' ')})` : '';
  const names = all.length > 1 ? `{${all.join(',')}}` : all[0]!;
  const value = o.type === 'string' ? `:${zq(o.value ?? 'VALUE')}:${zshAction(o.complete)}` : '';
  return `'${exclude}'${names}'[${zq(o.description)}]${value}'`;
}

function zsh(commands: readonly CommandSpec[]): string {
  const described = [...commands.map((c) => [c.name, c.summary]), ['help', 'the help of a command']]
    .map(([name, summary]) => `    '${zq(name!)}:${zq(summary!)}'`)
    .join('\n');
  const cases = commands.map((cmd) => {
    const positional = cmd.positionals
      ? [`'*:${zq(cmd.positionals.name)}:${zshAction(cmd.positionals.complete)}'`]
      : [];
    const specs = [...cmd.options.map(zshOption), ...positional];
    return `    ${cmd.name})\n      _arguments -s -S \\\n        ${specs.join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef distill
# zsh completion for distill. Save it as _distill in a directory of $fpath:
#   distill completion zsh > "\${fpath[1]}/_distill"
# or load it in this shell (after compinit): source <(distill completion zsh)
_distill() {
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'distill command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
    help)
      _describe -t commands 'distill command' commands
      ;;
${cases.join('\n')}
  esac
}
if [[ $zsh_eval_context[-1] == loadautoload ]]; then
  _distill "$@"
else
  compdef _distill distill
fi
`;
}

/** A single-quoted fish word. */
function fq(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishValues(c: Completion | undefined): string {
  if (c === 'file') return ' -r -F';
  if (c === 'dir') return " -x -a '(__fish_complete_directories)'";
  if (c !== undefined) return ` -x -a ${fq(c.join(' '))}`;
  return ' -x';
}

function fish(commands: readonly CommandSpec[]): string {
  const lines = [
    '# fish completion for distill. Save it where fish looks for completions:',
    '#   distill completion fish > ~/.config/fish/completions/distill.fish',
    'complete -c distill -f',
    ...commands.map((c) => `complete -c distill -n __fish_use_subcommand -a ${c.name} -d ${fq(c.summary)}`),
    "complete -c distill -n __fish_use_subcommand -a help -d 'the help of a command'",
    `complete -c distill -n '__fish_seen_subcommand_from help' -a ${fq(commands.map((c) => c.name).join(' '))}`,
  ];
  for (const cmd of commands) {
    const when = `-n ${fq(`__fish_seen_subcommand_from ${cmd.name}`)}`;
    for (const o of cmd.options) {
      const short = o.short !== undefined ? ` -s ${o.short}` : '';
      const value = o.type === 'string' ? fishValues(o.complete) : '';
      lines.push(`complete -c distill ${when}${short} -l ${o.name}${value} -d ${fq(o.description)}`);
    }
    const p = cmd.positionals?.complete;
    if (p === 'dir') lines.push(`complete -c distill ${when} -a '(__fish_complete_directories)'`);
    else if (p === 'file') lines.push(`complete -c distill ${when} -F`);
    else if (p !== undefined) lines.push(`complete -c distill ${when} -a ${fq(p.join(' '))}`);
  }
  return `${lines.join('\n')}\n`;
}
