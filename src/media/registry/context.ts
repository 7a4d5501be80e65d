import type { RegistryClient } from './client.js';

export interface ProgressEvent {
  digest: string;
  done: number;
  total: number;
  phase: 'push' | 'pull' | 'skip' | 'mount';
}

/** One repository on one registry, with the token scopes its requests need. */
export interface RepositoryContext {
  client: RegistryClient;
  registry: string;
  repository: string;
  scopes: readonly string[];
  onProgress?: ((e: ProgressEvent) => void) | undefined;
}
