import { run } from './run.js';

// Nothing distill or the programs it runs (npm in the scratch copy) create may be group- or
// world-writable, whatever umask distill was started with: raise the umask's floor to 022.
process.umask(process.umask() | 0o022);
// A closed pipe is reported to the write that hit it (output.ts); without a listener the stream's
// 'error' event would also end the process with a stack trace. Progress on a closed stderr is
// dropped.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

// No top-level await: the same module is also bundled as a classic script for Node 20's code
// cache (scripts/bundle.mjs), and a rejection ends the process with the error either way.
void run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
}).then((code) => {
  process.exitCode = code;
});
