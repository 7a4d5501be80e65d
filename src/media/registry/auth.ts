import { DistillError } from '../../errors.js';
import type { Credentials } from './credentials.js';
import { readLimited } from './http.js';
import { assertSchemeAllowed } from './url.js';

/** One challenge of a `WWW-Authenticate` header: `Bearer realm="...",service="...",scope="..."`. */
export interface Challenge {
  /** Lower case: `bearer`, `basic`, ... */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme followed
 * by comma-separated `key=value` or `key="quoted value"` parameters.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?\s*,?/gy;
  let current: Challenge | undefined;
  re.lastIndex = 0;
  while (re.lastIndex < header.length) {
    const m = re.exec(header);
    if (m === null) break;
    const name = m[1]!;
    const quoted = m[2];
    const plain = m[3];
    if (quoted === undefined && plain === undefined) {
      // A bare token starts a new challenge: "Bearer realm=..." has the scheme then a space.
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
      // The first parameter follows after whitespace, not a comma; the regex handles that.
      continue;
    }
    if (!current) continue;
    current.params[name.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : plain!;
  }
  return out;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface AuthContext {
  registry: string;
  insecure: boolean;
  /** Credentials, resolved at most once and only when a registry asks for them. */
  credentials(): Promise<Credentials | undefined>;
  /** Plain HTTP with the client's retries, no authentication of its own. */
  send(url: URL, init: RequestInit, what: string): Promise<Response>;
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/**
 * Answers the registry's authentication challenge: Basic sends the credentials on every
 * request; Bearer trades them (or nothing, for anonymous pulls) for a token at the realm, one
 * per set of scopes, cached until shortly before it expires.
 */
export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  /** Whether credentials were sent and found wanting; shapes the error message. */
  usedCredentials = false;

  constructor(private readonly ctx: AuthContext) {}

  /** Records the challenge of a 401; returns whether it is one distill can answer. */
  setChallenge(header: string | null): boolean {
    const challenges = header ? parseWwwAuthenticate(header) : [];
    const usable =
      challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (usable) this.challenge = usable;
    return usable !== undefined;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  /** The Authorization header for a request needing `scopes`, or undefined when none is needed. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const creds = await this.ctx.credentials();
      if (!creds) return undefined;
      this.usedCredentials = true;
      return basicAuthorization(creds);
    }
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached) {
      const token = await cached;
      if (token.expiresAt > Date.now()) return `Bearer ${token.token}`;
      if (this.tokens.get(key) === cached) this.tokens.delete(key);
      return this.authorization(scopes);
    }
    // One request per scope set, shared by every transfer that needs it at the same moment.
    const pending = this.fetchToken(ch, scopes);
    this.tokens.set(key, pending);
    pending.catch(() => {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
    });
    return `Bearer ${(await pending).token}`;
  }

  /**
   * After a 401 to an authenticated request: takes the new challenge, forgets cached tokens
   * for these scopes, and says whether trying once more can help (a fresh token can; the same
   * Basic credentials cannot).
   */
  async renew(header: string | null, scopes: readonly string[]): Promise<boolean> {
    const before = this.challenge;
    if (!this.setChallenge(header)) return false;
    const ch = this.challenge!;
    if (ch.scheme === 'basic') {
      // Basic after no challenge at all: retry with the credentials, if there are any.
      return before === undefined && (await this.ctx.credentials()) !== undefined;
    }
    this.tokens.delete(scopeKey(scopes));
    return true;
  }

  /** True when a challenge said the token lacked the scope (a permission problem, not a bad password). */
  isInsufficientScope(header: string | null): boolean {
    return (
      header !== null && parseWwwAuthenticate(header).some((c) => c.params.error === 'insufficient_scope')
    );
  }

  private async fetchToken(ch: Challenge, scopes: readonly string[]): Promise<CachedToken> {
    const { registry } = this.ctx;
    const realm = ch.params.realm;
    if (!realm) {
      throw new DistillError(
        'REGISTRY',
        `registry ${registry} asked for a bearer token but named no realm to get it from`,
      );
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch (err) {
      throw new DistillError('REGISTRY', `registry ${registry} named an invalid token realm "${realm}"`, {
        cause: err,
      });
    }
    assertSchemeAllowed(url, this.ctx.insecure, registry);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    const all = new Set(scopes);
    if (ch.params.scope) for (const s of ch.params.scope.split(' ')) if (s) all.add(s);
    for (const s of all) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    const creds = await this.ctx.credentials();
    if (creds) {
      headers.authorization = basicAuthorization(creds);
      this.usedCredentials = true;
    }
    const what = `getting a token from ${url.origin}${url.pathname}`;
    const res = await this.ctx.send(url, { method: 'GET', headers }, what);
    const text = (await readLimited(res, 'registryResponse', `the answer to ${what}`)).toString('utf8');
    if (res.status === 401) {
      throw new DistillError(
        'AUTH_FAILED',
        creds
          ? `registry ${registry} rejected the credentials for ${creds.username}; check the username and password, or run docker login ${registry}`
          : `registry ${registry} requires authentication; pass --creds USER:PASSWORD or run docker login ${registry}`,
      );
    }
    if (res.status === 403) {
      throw new DistillError(
        'AUTH_DENIED',
        `registry ${registry} refused a token for ${[...all].join(' ')}; check that your account may access that repository`,
      );
    }
    if (res.status !== 200) {
      throw new DistillError(
        'REGISTRY',
        `registry ${registry}: ${what} answered HTTP ${res.status}${text ? ` (${text.slice(0, 200).trim()})` : ''}`,
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw new DistillError('REGISTRY', `registry ${registry}: the token from ${url.origin} is not JSON`, {
        cause: err,
      });
    }
    const token =
      typeof body.token === 'string' && body.token !== ''
        ? body.token
        : typeof body.access_token === 'string'
          ? body.access_token
          : undefined;
    if (!token)
      throw new DistillError(
        'REGISTRY',
        `registry ${registry}: the token answer from ${url.origin} has no token`,
      );
    // The spec's default lifetime is 60 s; renew 10 s early so a token never expires in flight.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresAt: Date.now() + Math.max(lifetime - 10, 1) * 1000 };
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

/** `repository:NAME:pull,push` */
export function repositoryScope(repository: string, actions: readonly ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}
