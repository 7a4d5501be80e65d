import { DistillError } from '../../errors.js';
import { Authenticator } from './auth.js';
import { type Credentials, resolveCredentials } from './credentials.js';
import { httpFetch, readLimited, senderFor, toResponse } from './http.js';
import {
  backoffMs,
  isRetryableNetworkError,
  isRetryableStatus,
  networkReason,
  retryAfterMs,
  sleep,
} from './retry.js';
import { assertSchemeAllowed, registryBaseUrl } from './url.js';

export interface ClientOptions {
  creds?: Credentials | undefined;
  insecure?: boolean | undefined;
  dockerConfigPath?: string | undefined;
  retries?: number | undefined;
  fetchImpl?: typeof fetch | undefined;
}

export interface StreamBody {
  open(): Promise<AsyncIterable<Uint8Array>>;
}

function isStreamBody(b: Uint8Array | StreamBody): b is StreamBody {
  return typeof (b as StreamBody).open === 'function';
}

export interface ClientRequest {
  method: string;
  /** A path under the registry (`/v2/...`) or an absolute URL the registry handed out. */
  url: string | URL;
  headers?: Record<string, string>;
  /**
   * In memory (sent again on a retry), or a stream opened anew for every send (a 401 that
   * renews the token re-sends it; such requests are not retried otherwise).
   */
  body?: Uint8Array | StreamBody;
  /** Token scopes the request needs, e.g. `repository:acme/api:pull`. */
  scopes: readonly string[];
  /** What is being done, for error messages: "pulling manifest 127.0.0.1:5000/a:1". */
  what: string;
  /** Retry dropped connections, 429 and 5xx (default true); off for requests that are not idempotent. */
  retry?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * What OpenSSL says when the server's first bytes are not a TLS record: "HTTP/1.1 400" read as a
 * record header is a bad version ("wrong version number", OpenSSL 3 as in Node 20) or, in other
 * OpenSSL versions, an impossible record length ("packet length too long").
 */
const PLAIN_HTTP_ANSWER =
  /wrong version number|packet length too long|WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG/;
const MAX_REDIRECTS = 10;

/**
 * HTTP to one registry: the `/v2/` ping, authentication, retries with backoff for dropped
 * connections, 429 and 5xx (honouring Retry-After), redirects followed by hand so that the
 * Authorization header never leaves the registry's origin (blobs are often redirected to a
 * storage service). Connections are kept alive (see http.ts).
 */
export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: URL;
  readonly insecure: boolean;
  readonly retries: number;
  private readonly fetchImpl: typeof fetch;
  private readonly auth: Authenticator;
  private pinged: Promise<void> | undefined;
  private credentials: Promise<Credentials | undefined> | undefined;

  constructor(registry: string, opts: ClientOptions = {}) {
    this.registry = registry;
    this.insecure = opts.insecure ?? false;
    this.baseUrl = new URL(registryBaseUrl(registry, this.insecure));
    this.retries = Math.max(0, opts.retries ?? 4);
    this.fetchImpl = opts.fetchImpl ?? httpFetch;
    this.auth = new Authenticator({
      registry,
      insecure: this.insecure,
      credentials: () => {
        this.credentials ??= resolveCredentials(registry, opts);
        return this.credentials;
      },
      send: (url, init, what) => this.send(url, init, what, true),
    });
  }

  /** Resolves a registry path or a Location header against the registry (or a base URL). */
  resolve(url: string | URL, base: URL = this.baseUrl): URL {
    const u = typeof url === 'string' ? new URL(url, base) : url;
    assertSchemeAllowed(u, this.insecure, this.registry);
    return u;
  }

  /** `GET /v2/` once, to learn how the registry wants to be authenticated. */
  private ping(): Promise<void> {
    this.pinged ??= (async () => {
      const url = new URL('/v2/', this.baseUrl);
      const res = await this.send(url, { method: 'GET' }, `contacting registry ${this.registry}`, true);
      await drain(res);
      if (res.status === 401) this.auth.setChallenge(res.headers.get('www-authenticate'));
    })();
    // A failed ping is not remembered: the next operation tries again.
    this.pinged.catch(() => {
      this.pinged = undefined;
    });
    return this.pinged;
  }

  /**
   * Sends an authenticated request and returns the response, whatever its status after
   * retries, renewing the token once on a 401. The caller reads or drains the body.
   */
  async request(req: ClientRequest): Promise<Response> {
    await this.ping();
    let url = this.resolve(req.url);
    let method = req.method;
    let body = req.body;
    let renewed = false;
    for (let redirects = 0; ; ) {
      const headers: Record<string, string> = { ...req.headers };
      const sameOrigin = url.origin === this.baseUrl.origin;
      if (sameOrigin) {
        const authorization = await this.auth.authorization(req.scopes);
        if (authorization) headers.authorization = authorization;
      }
      let res: Response;
      if (body !== undefined && isStreamBody(body)) {
        res = await this.sendStream(url, method, headers, body, req.what);
      } else {
        const init: RequestInit = { method, headers, redirect: 'manual' };
        if (body !== undefined) init.body = body;
        res = await this.send(url, init, req.what, req.retry ?? true);
      }
      if (res.status === 401 && sameOrigin && !renewed) {
        renewed = true;
        if (await this.auth.renew(res.headers.get('www-authenticate'), req.scopes)) {
          await drain(res);
          continue;
        }
      }
      if (REDIRECTS.has(res.status) && res.headers.has('location')) {
        if (++redirects > MAX_REDIRECTS) {
          await drain(res);
          throw new DistillError(
            'REGISTRY',
            `registry ${this.registry}: too many redirects while ${req.what}`,
          );
        }
        const location = res.headers.get('location')!;
        await drain(res);
        url = this.resolve(location, url);
        if (res.status === 303 && method !== 'HEAD') {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      return res;
    }
  }

  /**
   * One HTTP exchange with retries for dropped connections, 429 and 5xx. Throws NETWORK when
   * the connection keeps failing; returns the last response otherwise.
   */
  async send(url: URL, init: RequestInit, what: string, retry: boolean): Promise<Response> {
    const attempts = retry ? this.retries + 1 : 1;
    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= attempts;
      let res: Response;
      try {
        res = await this.fetchImpl(url, init);
      } catch (err) {
        if (!last && isRetryableNetworkError(err)) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw this.networkError(err, what, attempt + 1);
      }
      if (!last && isRetryableStatus(res.status)) {
        const wait = retryAfterMs(res.headers.get('retry-after')) ?? backoffMs(attempt);
        await drain(res);
        await sleep(wait);
        continue;
      }
      return res;
    }
  }

  /**
   * Sends a streamed body with node:http(s), writing as the socket drains. Node 20's fetch reads
   * an async-iterable body with no backpressure (a 300 MB upload held ~300 MB of buffers and took
   * twice as long in a measurement here), so uploads of big blobs do not go through it. Errors of
   * the source stream (a digest mismatch) are thrown as they are; the (small) response is read
   * whole and returned as a fetch Response so that callers treat both paths alike.
   */
  private async sendStream(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: StreamBody,
    what: string,
  ): Promise<Response> {
    const { send, agent } = await senderFor(url);
    const source = await body.open();
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err instanceof DistillError ? err : this.networkError(err, what, 1));
      };
      const req = send(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          resolve(toResponse(res, method, Buffer.concat(chunks)));
        });
      });
      req.on('error', fail);
      (async () => {
        for await (const chunk of source) {
          if (settled) return;
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch((err: unknown) => {
        req.destroy();
        fail(err);
      });
    });
  }

  networkError(err: unknown, what: string, attempts: number): DistillError {
    if (err instanceof DistillError) return err;
    // OpenSSL's messages end in a newline and carry its source location: one line is enough.
    const reason = networkReason(err).replace(/\s+/g, ' ').trim();
    if (PLAIN_HTTP_ANSWER.test(reason)) {
      // OpenSSL read an HTTP response where a TLS record should be: not a certificate problem.
      return new DistillError(
        'INSECURE_REFUSED',
        `registry ${this.registry} answered plain HTTP to an HTTPS request; if you trust it, add --insecure`,
        { cause: err },
      );
    }
    const tls = /certificate|self.signed|CERT_|SSL|TLS/i.test(reason)
      ? '; if the registry uses a private CA, point NODE_EXTRA_CA_CERTS at its certificate'
      : '';
    return new DistillError(
      'NETWORK',
      `${what} failed: the connection to registry ${this.registry} broke (${reason})${
        attempts > 1 ? ` ${attempts} times` : ''
      }${tls || '; check the network and try again'}`,
      { cause: err },
    );
  }

  /**
   * The error for a response distill did not expect, naming the registry and what was being
   * done; the registry's own error code and message are quoted when it sent them.
   */
  async responseError(res: Response, what: string): Promise<DistillError> {
    const detail = await errorDetail(res);
    const suffix = detail ? `: ${detail}` : '';
    if (res.status === 401) {
      if (this.auth.isInsufficientScope(res.headers.get('www-authenticate'))) {
        return new DistillError(
          'AUTH_DENIED',
          `registry ${this.registry} denied ${what} (insufficient scope); check the repository name and that your account may access it`,
        );
      }
      return new DistillError(
        'AUTH_FAILED',
        this.auth.usedCredentials
          ? `registry ${this.registry} rejected the credentials while ${what}; check the username and password, or run docker login ${this.registry}`
          : `registry ${this.registry} requires authentication for ${what}; pass --creds USER:PASSWORD or run docker login ${this.registry}`,
      );
    }
    if (res.status === 403) {
      return new DistillError(
        'AUTH_DENIED',
        `registry ${this.registry} denied ${what} (HTTP 403${suffix}); check that your account may access that repository`,
      );
    }
    if (isRetryableStatus(res.status)) {
      return new DistillError(
        'REGISTRY',
        `registry ${this.registry} kept failing while ${what} (HTTP ${res.status}${suffix}) after ${this.retries + 1} attempts; try again later`,
      );
    }
    return new DistillError(
      'REGISTRY',
      `registry ${this.registry} refused ${what}: HTTP ${res.status}${suffix}`,
    );
  }
}

/** Reads and discards a response body so the connection can be reused. */
export async function drain(res: Response): Promise<void> {
  try {
    await res.arrayBuffer();
  } catch {
    // the connection is gone anyway
  }
}

/** The registry's error list (`{"errors":[{"code","message"}]}`) as one short string. */
async function errorDetail(res: Response): Promise<string> {
  let text: string;
  try {
    text = (await readLimited(res, 'registryResponse', 'an error response')).toString('utf8');
  } catch {
    return '';
  }
  try {
    const v = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    if (Array.isArray(v.errors) && v.errors.length > 0) {
      return v.errors
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x !== '').join(' '))
        .join('; ');
    }
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}
