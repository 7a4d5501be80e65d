/**
 * The one list of "living off the land" tools: programs already in an image that an attacker who
 * gets code execution can use to download, connect out, compile, decode or escalate, without
 * bringing tools of their own. Shells and package managers are listed separately (facts-tools.ts).
 * `node` is left out on purpose: it is the runtime of the images distill measures.
 *
 * A tool is found under its name in the image's bin directories, and under any name matching
 * `pattern` (versioned names: python3.12, perl5.40.0). A finding is named after its own binary
 * (`su` is su, `python3.12` is python3.12), with the reason of the tool it belongs to; programs that
 * differ (su, sudo and doas; nc and ncat) are tools of their own, each with its reason.
 */
export interface LotlTool {
  /** The tool's name: `--deny lotl:NAME` names it, and the file name it goes by. */
  readonly name: string;
  /** Other file names of the same tool (python3.13); findings keep their own name. */
  readonly pattern?: RegExp;
  readonly reason: string;
}

const INTERPRETER = 'a full interpreter: network, files and process control in one line';
const NETCAT = 'opens raw TCP/UDP connections: reverse shells, exfiltration';

export const LOTL_TOOLS: readonly LotlTool[] = [
  { name: 'curl', reason: 'downloads payloads and sends data out over HTTP(S), FTP and more' },
  { name: 'wget', reason: 'downloads payloads and sends data out over HTTP(S)' },
  { name: 'nc', reason: NETCAT },
  { name: 'netcat', reason: NETCAT },
  { name: 'ncat', reason: "Nmap's netcat: raw TCP/UDP and TLS connections, reverse shells, exfiltration" },
  { name: 'socat', reason: 'relays sockets, files and programs: reverse shells, port forwarding' },
  { name: 'telnet', reason: 'opens raw TCP connections' },
  { name: 'ftp', reason: 'transfers files to and from remote hosts over FTP' },
  { name: 'tftp', reason: 'transfers files over TFTP, which has no authentication' },
  { name: 'ssh', reason: 'connects out, tunnels and forwards ports' },
  { name: 'scp', reason: 'copies files to and from remote hosts over SSH' },
  { name: 'sftp', reason: 'transfers files to and from remote hosts over SSH' },
  { name: 'rsync', reason: 'copies files to and from remote hosts' },
  { name: 'git', reason: 'fetches code from remote repositories' },
  { name: 'openssl', reason: 'encrypted connections (s_client reverse shells), encoding and file transfer' },
  { name: 'base64', reason: 'decodes smuggled payloads' },
  { name: 'xxd', reason: 'turns hex dumps back into binaries' },
  { name: 'python', pattern: /^python[0-9.]*$/, reason: INTERPRETER },
  { name: 'perl', pattern: /^perl[0-9.]*$/, reason: INTERPRETER },
  { name: 'ruby', pattern: /^ruby[0-9.]*$/, reason: INTERPRETER },
  { name: 'php', pattern: /^php[0-9.]*$/, reason: INTERPRETER },
  { name: 'lua', pattern: /^lua[0-9.]*$/, reason: 'an interpreter that can run downloaded scripts' },
  { name: 'awk', reason: 'runs arbitrary programs (often a link to gawk or mawk)' },
  { name: 'gawk', reason: 'runs arbitrary programs and opens network connections (/inet/tcp)' },
  { name: 'mawk', reason: 'runs arbitrary programs' },
  {
    name: 'gcc',
    pattern: /^(gcc|cc|c\+\+|g\+\+|clang)(-[0-9.]+)?$/,
    reason: 'compiles exploits inside the container',
  },
  { name: 'make', reason: 'builds code inside the container' },
  { name: 'gdb', reason: 'attaches to and alters running processes' },
  { name: 'strace', reason: 'spies on system calls of other processes (secrets in read/write calls)' },
  { name: 'tcpdump', reason: 'captures network traffic' },
  { name: 'nmap', reason: 'scans the network from inside' },
  { name: 'su', reason: 'switches user with a password: privilege escalation when one is known or weak' },
  { name: 'sudo', reason: 'runs commands as another user: privilege escalation when misconfigured' },
  { name: 'doas', reason: 'runs commands as another user: privilege escalation when misconfigured' },
  { name: 'nsenter', reason: 'enters other namespaces: container escape with enough privileges' },
  { name: 'mount', reason: 'mounts filesystems: host access with enough privileges' },
  { name: 'setcap', reason: 'grants file capabilities' },
  { name: 'capsh', reason: 'runs programs with the capabilities it is told to keep or add' },
  { name: 'chroot', reason: 'changes the root: used in escapes with enough privileges' },
  { name: 'kubectl', reason: 'talks to the Kubernetes API with any mounted service account token' },
  { name: 'docker', reason: 'talks to a Docker engine: host takeover when the socket is mounted' },
  { name: 'busybox', reason: 'hundreds of applets in one binary: wget, nc, sh, base64 and more' },
];

/** The tool a binary belongs to: the one of that name, else the first whose pattern matches. */
export function lotlToolOf(binary: string): LotlTool | undefined {
  return LOTL_TOOLS.find((t) => t.name === binary) ?? LOTL_TOOLS.find((t) => t.pattern?.test(binary));
}
