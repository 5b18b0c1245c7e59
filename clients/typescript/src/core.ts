// The plumbing every entry point shares: the base URL, the fetch to use,
// the retry rule, and turning an answer into a result or an AccountpwError.
// The password client (index.ts) is one entry point; the server-side admin
// client (admin.ts) is the other, on the same Transport with its API key as
// the bearer and its own operations' problems (ProblemOf).

import { AccountpwError } from './errors.js';

/** Options of a client. */
export interface ClientOptions {
  /**
   * Where the service is, e.g. `https://accounts.example.com`. Empty (the
   * default) means the page's own origin, for a page the service serves;
   * outside a browser it must be set.
   */
  baseUrl?: string;
  /** The fetch to call: the global one by default; inject one for tests, SSR or a proxy. */
  fetch?: typeof fetch;
  /** Headers sent with every request, e.g. `{ 'Accept-Language': 'de' }` on a server. */
  headers?: Record<string, string>;
  /** How many times a call is sent again after a 429 or a safe 503 (default 2). */
  retries?: number;
  /**
   * The longest Retry-After, in seconds, the client waits for before it
   * sends a call again (default 10); a longer one is reported at once, with
   * `retryAfter` set, for the person to decide.
   */
  maxRetryAfter?: number;
  /** How to wait before a retry; for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Options of one call. */
export interface CallOptions {
  /** Abort the call, including a wait before a retry. */
  signal?: AbortSignal;
  /** The reader's languages, for the email a reset request causes (a browser sends its own). */
  acceptLanguage?: string;
}

/** One request as an entry point describes it. */
export interface Call extends CallOptions {
  method: string;
  path: string;
  /** A body sent as JSON. */
  body?: unknown;
  /** A body sent as it is, with its media type (the admin API's JSON Lines). */
  raw?: { contentType: string; text: string };
  bearer?: string;
  /**
   * Whether sending it twice does no harm, so that a 503 may be retried.
   * A 429 is retried for any call: the server refused it before doing
   * anything. A call that changes a password is never idempotent: after a
   * 503 or no answer it may have been done, and sending it again would
   * report its own success as a failure (the token used, the old password
   * wrong).
   */
  idempotent: boolean;
  /** The status of success; several when the answer says which (201 or 200). */
  expect: number | readonly number[];
}

const wait = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });

/**
 * retryAfter reads Retry-After in seconds: delay-seconds, or an HTTP date
 * (RFC 9110), which is rounded up.
 */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Transport sends Calls under one client's options. */
export class Transport {
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  readonly #retries: number;
  readonly #maxRetryAfter: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(o: ClientOptions = {}) {
    this.#base = (o.baseUrl ?? '').replace(/\/+$/, '');
    // Looked up per call, and never called as a method of something else:
    // a browser's fetch throws when its `this` is not the window.
    this.#fetch = o.fetch ?? ((input, init) => fetch(input, init));
    this.#headers = { ...o.headers };
    this.#retries = o.retries ?? 2;
    this.#maxRetryAfter = o.maxRetryAfter ?? 10;
    this.#sleep = o.sleep ?? wait;
  }

  /**
   * send makes the call and resolves with the answer of status
   * `call.expect`, sending it again after a 429 (or, for an idempotent
   * call, a 503) whose Retry-After is at most maxRetryAfter, up to
   * `retries` times. Anything else is thrown as an AccountpwError; an
   * abort is thrown as the signal's reason.
   */
  async send(call: Call): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...this.#headers };
    if (call.body !== undefined) headers['Content-Type'] = 'application/json';
    if (call.raw !== undefined) headers['Content-Type'] = call.raw.contentType;
    if (call.bearer !== undefined) headers['Authorization'] = `Bearer ${call.bearer}`;
    if (call.acceptLanguage) headers['Accept-Language'] = call.acceptLanguage;
    const init: RequestInit = {
      method: call.method,
      headers,
      // Sessions travel as bearers only; no cookie, no cache, no redirect
      // to follow with a password in the body.
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    };
    if (call.body !== undefined) init.body = JSON.stringify(call.body);
    if (call.raw !== undefined) init.body = call.raw.text;
    if (call.signal) init.signal = call.signal;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(this.#base + call.path, init);
      } catch (e) {
        if (call.signal?.aborted) throw call.signal.reason;
        throw new AccountpwError({
          status: 0, code: 'network', outcomeUnknown: !call.idempotent,
          detail: `no answer from the service: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
      if (typeof call.expect === 'number' ? res.status === call.expect : call.expect.includes(res.status)) return res;
      const err = await failure(res, call.idempotent);
      const again = res.status === 429 || (res.status === 503 && call.idempotent);
      if (!again || attempt >= this.#retries || err.retryAfter === undefined || err.retryAfter > this.#maxRetryAfter) {
        throw err;
      }
      await this.#sleep(err.retryAfter * 1000, call.signal);
    }
  }
}

/** json reads an answer's JSON body, or throws unexpected_response. */
export async function json<T>(res: Response): Promise<T> {
  try {
    return (await res.json()) as T;
  } catch {
    throw new AccountpwError({ status: res.status, code: 'unexpected_response', detail: 'the answer is not JSON', outcomeUnknown: false });
  }
}

/**
 * failure turns an answer other than the expected one into an
 * AccountpwError. Its outcome is unknown when a change was sent and the
 * server failed (5xx) other than by `busy`, which it answers before doing
 * anything.
 */
async function failure(res: Response, idempotent: boolean): Promise<AccountpwError> {
  let p: { code?: unknown; detail?: unknown; field?: unknown; request_id?: unknown } | null = null;
  try {
    p = await res.json();
  } catch { /* not JSON: below */ }
  const requestId = str(p?.request_id) ?? res.headers.get('X-Request-Id') ?? undefined;
  const code = str(p?.code);
  return new AccountpwError({
    status: res.status,
    code: code ?? 'unexpected_response',
    detail: str(p?.detail) ?? `unexpected answer: HTTP ${res.status}`,
    field: str(p?.field),
    requestId,
    retryAfter: retryAfter(res.headers.get('Retry-After')),
    outcomeUnknown: !idempotent && res.status >= 500 && code !== 'busy',
  });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
