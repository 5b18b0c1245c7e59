// @accountpw/client/admin: the admin API of accountpw, for the adopting
// application's servers (never a browser: it carries an API key that can
// read every account and hand out reset links). The same Transport and
// errors as the password client; its request and answer types come from
// openapi.yaml (src/generated).

import { Transport, json, type CallOptions, type ClientOptions } from './core.js';
import { AccountpwError, type ClientProblem, type ErrorOf, type ProblemOf } from './errors.js';
import type { components, operations } from './generated/openapi.js';

export { AccountpwError };
export type { CallOptions, ClientOptions, ClientProblem, ErrorOf, ProblemOf };

type Schemas = components['schemas'];

/** An account as the admin API shows it: never its hash, only its format. */
export type Account = Schemas['Account'];
/** A PUT's body: one import line's members but the id. */
export type AccountPut = Schemas['AccountPut'];
/** The account after a PUT, with a note when the hash sent was not taken. */
export type AccountWritten = Schemas['AccountWritten'];
/** One page of a listing. */
export type AccountPage = Schemas['AccountPage'];
/** An import call's summary and per-line results. */
export type ImportAnswer = Schemas['ImportAnswer'];
/** A returned reset link and when it stops working. */
export type ResetLink = Schemas['ResetLink'];
/** The answer of a sign-in check. */
export type SignInResult = Schemas['SignInResult'];

/** Every status and code of the admin operations, and the client's own. */
export type AdminProblem =
  | ProblemOf<operations['putAccount']>
  | ProblemOf<operations['getAccount']>
  | ProblemOf<operations['listAccounts']>
  | ProblemOf<operations['deleteAccount']>
  | ProblemOf<operations['importAccounts']>
  | ProblemOf<operations['supportReset']>
  | ProblemOf<operations['verifyPassword']>
  | ClientProblem;

/** Every error an AdminClient call can throw; narrows on `code`. */
export type AdminError = ErrorOf<AdminProblem>;

/** Options of an AdminClient: the client's, and the API key, required. */
export interface AdminOptions extends ClientOptions {
  /** The admin listener's base URL, e.g. `http://accountpw.internal:8081`. */
  baseUrl: string;
  /** One of ACCOUNTPW_ADMIN_API_KEYS. */
  apiKey: string;
}

/** The sign-in check's question: the password and exactly one of id or email. */
export type SignIn =
  | { id: string; email?: never; password: string; clientIp?: string }
  | { email: string; id?: never; password: string; clientIp?: string };

const ACCOUNTS = '/admin/v1/accounts';
const path = (id: string): string => `${ACCOUNTS}/${encodeURIComponent(id)}`;

/**
 * AdminClient calls the admin API with an API key. Every method rejects
 * with an AdminError (or the abort reason of its signal). A 429 is sent
 * again after its Retry-After (when short); a 503 only for calls that do
 * no harm twice (reads, a PUT without a password in clear, import, returned
 * links, sign-in checks), never for a delete, a reset email or a PUT that
 * sets a password.
 */
export class AdminClient {
  readonly #t: Transport;
  readonly #key: string;

  constructor(options: AdminOptions) {
    const { apiKey, ...rest } = options;
    if (!apiKey) throw new TypeError('AdminClient needs apiKey');
    this.#t = new Transport(rest);
    this.#key = apiKey;
  }

  /**
   * putAccount creates the account `id` (`created`: true) or updates it.
   * Errors: `invalid_*` (400), `email_taken` (409), the policy's codes
   * (422, `field` "password"), `busy` (503), and the client's own.
   */
  async putAccount(id: string, account: AccountPut, o?: CallOptions): Promise<{ account: AccountWritten; created: boolean }> {
    // Sent twice, a password in clear is hashed twice: a second new
    // password, with its event and its end of links. Anything else is the
    // same account the second time.
    const idempotent = account.password === undefined;
    const res = await this.#t.send({ ...o, method: 'PUT', path: path(id), body: account, bearer: this.#key, idempotent, expect: [200, 201] });
    return { account: await json<AccountWritten>(res), created: res.status === 201 };
  }

  /** getAccount reads the account `id`. Errors: `account_not_found` (404), … */
  async getAccount(id: string, o?: CallOptions): Promise<Account> {
    return json<Account>(await this.#t.send({ ...o, method: 'GET', path: path(id), bearer: this.#key, idempotent: true, expect: 200 }));
  }

  /** findAccount reads the account of an address, or undefined when it has none. */
  async findAccount(email: string, o?: CallOptions): Promise<Account | undefined> {
    const page = await json<AccountPage>(await this.#t.send({
      ...o, method: 'GET', path: `${ACCOUNTS}?email=${encodeURIComponent(email)}`, bearer: this.#key, idempotent: true, expect: 200,
    }));
    return page.accounts[0];
  }

  /** listAccounts reads one page: up to `limit` (≤ 1000) accounts after the id `after`. */
  async listAccounts(page: { after?: string; limit?: number } = {}, o?: CallOptions): Promise<AccountPage> {
    const q = new URLSearchParams();
    if (page.after) q.set('after', page.after);
    if (page.limit !== undefined) q.set('limit', String(page.limit));
    const query = q.size ? `?${q}` : '';
    return json<AccountPage>(await this.#t.send({ ...o, method: 'GET', path: ACCOUNTS + query, bearer: this.#key, idempotent: true, expect: 200 }));
  }

  /** accounts walks every account, a page of 1000 at a time. */
  async *accounts(o?: CallOptions): AsyncGenerator<Account> {
    let after: string | undefined;
    do {
      const page: AccountPage = await this.listAccounts(after === undefined ? { limit: 1000 } : { after, limit: 1000 }, o);
      yield* page.accounts;
      after = page.next_after;
    } while (after);
  }

  /** deleteAccount deletes the account `id`. Errors: `account_not_found` (404), … */
  async deleteAccount(id: string, o?: CallOptions): Promise<void> {
    await this.#t.send({ ...o, method: 'DELETE', path: path(id), bearer: this.#key, idempotent: false, expect: 204 });
  }

  /**
   * importAccounts sends up to 1000 import lines (objects, or JSON Lines
   * text) as one call: every line's result and the summary. With `dryRun`
   * nothing is written. Errors: `too_many_lines` or `body_too_large` (413), …
   */
  async importAccounts(lines: readonly object[] | string, opt: { dryRun?: boolean } = {}, o?: CallOptions): Promise<ImportAnswer> {
    const text = typeof lines === 'string' ? lines : lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    return json<ImportAnswer>(await this.#t.send({
      ...o, method: 'POST', path: `${ACCOUNTS}/import${opt.dryRun ? '?dry_run=true' : ''}`, raw: { contentType: 'application/x-ndjson', text },
      bearer: this.#key, idempotent: true, expect: 200,
    }));
  }

  /**
   * emailReset queues a reset email for the account `id`. Errors:
   * `account_not_found` (404), `rate_limited` (429: the address's quota), …
   */
  async emailReset(id: string, o?: CallOptions): Promise<void> {
    await this.#t.send({ ...o, method: 'POST', path: `${path(id)}/password-reset`, bearer: this.#key, idempotent: false, expect: 202 });
  }

  /** resetLink issues a reset link for the account `id` and returns it, for an application that sends its own mail. */
  async resetLink(id: string, o?: CallOptions): Promise<ResetLink> {
    return json<ResetLink>(await this.#t.send({
      ...o, method: 'POST', path: `${path(id)}/password-reset`, body: { deliver: 'return' }, bearer: this.#key, idempotent: true, expect: 200,
    }));
  }

  /**
   * verifyPassword is the sign-in check: `{valid: false}` alone for a wrong
   * password and for an unknown account alike. Pass the person's IP as
   * `clientIp`. Errors: `rate_limited` (429: the account's back-off or the
   * client's failures), `busy` (503), …
   */
  async verifyPassword(check: SignIn, o?: CallOptions): Promise<SignInResult> {
    const body: Schemas['SignIn'] = { password: check.password };
    if (check.id !== undefined) body.id = check.id;
    if (check.email !== undefined) body.email = check.email;
    if (check.clientIp !== undefined) body.client_ip = check.clientIp;
    return json<SignInResult>(await this.#t.send({
      ...o, method: 'POST', path: '/admin/v1/password/verify', body, bearer: this.#key, idempotent: true, expect: 200,
    }));
  }
}
