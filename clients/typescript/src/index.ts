// @accountpw/client: the password resource of accountpw,
// PUT /api/v1/account/password, whose JSON body picks the operation. Its
// request and answer types come from openapi.yaml (src/generated), so a
// change of the contract that the client does not follow fails to compile.

import { Transport, json, type CallOptions, type ClientOptions } from './core.js';
import { AccountpwError, type ClientProblem, type ErrorOf, type ProblemOf } from './errors.js';
import type { components, operations, paths } from './generated/openapi.js';

export { AccountpwError };
export type { CallOptions, ClientOptions, ClientProblem, ErrorOf, ProblemOf };
export type { components, operations, paths } from './generated/openapi.js';

type Schemas = components['schemas'];

/** The one fixed answer to a reset request, the same for every address. */
export type ResetRequested = Schemas['ResetRequested'];

/** Every status and code the password resource can answer with, and the client's own. */
export type PasswordProblem = ProblemOf<operations['putPassword']> | ClientProblem;

/** Every error a call of AccountClient can throw; narrows on `code`. */
export type PasswordError = ErrorOf<PasswordProblem>;

/** Every `code` of a PasswordError. */
export type PasswordErrorCode = PasswordProblem['code'];

const PASSWORD = '/api/v1/account/password' satisfies keyof paths;

/**
 * isAccountpwError reports whether e is an AccountpwError, and with `code`
 * whether it has that code, narrowing it in either case.
 */
export function isAccountpwError<C extends PasswordErrorCode = PasswordErrorCode>(
  e: unknown,
  code?: C,
): e is Extract<PasswordError, { code: C }> {
  return e instanceof AccountpwError && (code === undefined || e.code === code);
}

/**
 * AccountClient calls the password resource. Every method rejects with a
 * PasswordError (or the abort reason of its signal).
 */
export class AccountClient {
  readonly #t: Transport;

  constructor(options?: ClientOptions) {
    this.#t = new Transport(options);
  }

  /**
   * requestReset asks for a reset email for `email`. The answer is the same
   * for every address, known or not, within the per-address quota or not;
   * it is retried after a 429 or 503 (a second email at worst). Errors:
   * `invalid_email` (400), `rate_limited` (429), `busy` or `unavailable`
   * (503), and the client's own.
   */
  async requestReset(email: string, o?: CallOptions): Promise<ResetRequested> {
    const body: Schemas['RequestReset'] = { email };
    return json<ResetRequested>(await this.#t.send({ ...o, method: 'PUT', path: PASSWORD, body, idempotent: true, expect: 202 }));
  }

  /**
   * completeReset sets `newPassword` with the token of an emailed link.
   * Errors: `invalid_token` (403: unknown, expired, used or superseded),
   * the policy's codes (422, `field` "new", the token stays usable),
   * `rate_limited` (429), `busy` or `unavailable` (503: never sent again,
   * see `outcomeUnknown`), and the client's own.
   */
  async completeReset(token: string, newPassword: string, o?: CallOptions): Promise<void> {
    const body: Schemas['Reset'] = { token, new: newPassword };
    await this.#t.send({ ...o, method: 'PUT', path: PASSWORD, body, idempotent: false, expect: 204 });
  }

  /**
   * changePassword changes the password of the holder of `bearer` (the
   * session token, without "Bearer "). Errors: `unauthenticated` (401: no
   * valid, current session), `wrong_password` (403), the policy's codes
   * (422), `rate_limited` (429), `busy` or `unavailable` (503: never sent
   * again, see `outcomeUnknown`), and the client's own.
   */
  async changePassword(bearer: string, oldPassword: string, newPassword: string, o?: CallOptions): Promise<void> {
    const body: Schemas['Change'] = { old: oldPassword, new: newPassword };
    await this.#t.send({ ...o, method: 'PUT', path: PASSWORD, body, bearer, idempotent: false, expect: 204 });
  }
}

/** createClient is `new AccountClient(options)`. */
export const createClient = (options?: ClientOptions): AccountClient => new AccountClient(options);
