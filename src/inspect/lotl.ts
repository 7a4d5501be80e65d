/**
 * The one list of "living off the land" tools: programs already in an image that an attacker who
 * gets code execution can use to download, connect out, compile, decode or escalate, without
 * bringing tools of their own. Shells and package managers are listed separately (facts.ts).
 * `node` is left out on purpose: it is the runtime of the images distill measures.
 *
 * A tool is found under its `names` in the image's bin directories, and under any name matching
 * `pattern` (versioned names: python3.12, perl5.40.0).
 */
export interface LotlTool {
  /** The name the fact reports. */
  readonly name: string;
  /** File names it goes by; the tool's own name when not given. */
  readonly names?: readonly string[];
  readonly pattern?: RegExp;
  readonly reason: string;
}

export const LOTL_TOOLS: readonly LotlTool[] = [
  { name: 'curl', reason: 'downloads payloads and sends data out over HTTP(S), FTP and more' },
  { name: 'wget', reason: 'downloads payloads and sends data out over HTTP(S)' },
  {
    name: 'nc',
    names: ['nc', 'netcat', 'ncat'],
    reason: 'opens raw TCP/UDP connections: reverse shells, exfiltration',
  },
  { name: 'socat', reason: 'relays sockets, files and programs: reverse shells, port forwarding' },
  { name: 'telnet', reason: 'opens raw TCP connections' },
  { name: 'ftp', names: ['ftp', 'tftp'], reason: 'transfers files to and from remote hosts' },
  { name: 'ssh', reason: 'connects out, tunnels and forwards ports' },
  { name: 'scp', names: ['scp', 'sftp'], reason: 'copies files to and from remote hosts' },
  { name: 'rsync', reason: 'copies files to and from remote hosts' },
  { name: 'git', reason: 'fetches code from remote repositories' },
  { name: 'openssl', reason: 'encrypted connections (s_client reverse shells), encoding and file transfer' },
  { name: 'base64', reason: 'decodes smuggled payloads' },
  { name: 'xxd', reason: 'turns hex dumps back into binaries' },
  {
    name: 'python',
    pattern: /^python[0-9.]*$/,
    reason: 'a full interpreter: network, files and process control in one line',
  },
  {
    name: 'perl',
    pattern: /^perl[0-9.]*$/,
    reason: 'a full interpreter: network, files and process control in one line',
  },
  {
    name: 'ruby',
    pattern: /^ruby[0-9.]*$/,
    reason: 'a full interpreter: network, files and process control in one line',
  },
  {
    name: 'php',
    pattern: /^php[0-9.]*$/,
    reason: 'a full interpreter: network, files and process control in one line',
  },
  { name: 'lua', pattern: /^lua[0-9.]*$/, reason: 'an interpreter that can run downloaded scripts' },
  {
    name: 'awk',
    names: ['awk', 'gawk', 'mawk'],
    reason: 'runs arbitrary programs; gawk opens network connections',
  },
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
  {
    name: 'sudo',
    names: ['sudo', 'su', 'doas'],
    reason: 'switches user: privilege escalation when misconfigured',
  },
  { name: 'nsenter', reason: 'enters other namespaces: container escape with enough privileges' },
  { name: 'mount', reason: 'mounts filesystems: host access with enough privileges' },
  { name: 'setcap', names: ['setcap', 'capsh'], reason: 'grants file capabilities' },
  { name: 'chroot', reason: 'changes the root: used in escapes with enough privileges' },
  { name: 'kubectl', reason: 'talks to the Kubernetes API with any mounted service account token' },
  { name: 'docker', reason: 'talks to a Docker engine: host takeover when the socket is mounted' },
  { name: 'busybox', reason: 'hundreds of applets in one binary: wget, nc, sh, base64 and more' },
];
