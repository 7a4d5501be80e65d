// The fuzz worker's entry: a worker thread does not inherit the tsx loader of the thread that
// started it, so it registers tsx itself and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
