import { run } from './run.js';

// A closed pipe is reported to the write that hit it (output.ts); without a listener the stream's
// 'error' event would also end the process with a stack trace. Progress on a closed stderr is
// dropped.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
