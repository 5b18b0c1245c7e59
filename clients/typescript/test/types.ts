// Compile-time checks of the public types (tsconfig.test.json; `npm test`
// runs tsc on it): the codes come from openapi.yaml, narrowing on `code`
// gives the status the contract pairs with it, and a code the contract does
// not have is an error. Each @ts-expect-error fails the build if the line
// under it compiles.
import { isAccountpwError, type PasswordError, type PasswordErrorCode, type ResetRequested } from '../src/index.js';
import type { AdminError, SignIn } from '../src/admin.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(): T | undefined => undefined;

// Every code of the resource, and the client's two: no more, no fewer.
assert<Equal<PasswordErrorCode,
  | 'invalid_body' | 'query_not_allowed' | 'invalid_email' | 'bad_request' | 'unauthenticated'
  | 'invalid_token' | 'wrong_password' | 'method_not_allowed' | 'body_too_large' | 'unsupported_media_type'
  | 'password_too_short' | 'password_too_long' | 'password_invalid_character' | 'password_blocklisted'
  | 'password_predictable' | 'password_context' | 'password_breached' | 'rate_limited' | 'internal'
  | 'busy' | 'unavailable' | 'body_timeout' | 'network' | 'unexpected_response'>>();

declare const e: PasswordError;
if (e.code === 'invalid_token') assert<Equal<typeof e.status, 403>>();
if (e.code === 'password_too_short') assert<Equal<typeof e.status, 422>>();
if (e.code === 'busy') assert<Equal<typeof e.status, 503>>();
if (e.code === 'network') assert<Equal<typeof e.status, 0>>();
// A 401 is the contract's unauthenticated, or an answer from something else.
if (e.status === 401) assert<Equal<typeof e.code, 'unauthenticated' | 'unexpected_response'>>();
// @ts-expect-error: not a code of the contract
if (e.code === 'token_expired') throw e;

declare const u: unknown;
if (isAccountpwError(u, 'rate_limited')) assert<Equal<typeof u.status, 429>>();
// @ts-expect-error: not a code of the contract
isAccountpwError(u, 'no_such_code');

assert<Equal<ResetRequested['status'], 'accepted'>>();

// The admin client's errors narrow the same way.
declare const a: AdminError;
if (a.code === 'email_taken') assert<Equal<typeof a.status, 409>>();
if (a.code === 'account_not_found') assert<Equal<typeof a.status, 404>>();
if (a.code === 'too_many_lines') assert<Equal<typeof a.status, 413>>();
// @ts-expect-error: not a code of the admin API
if (a.code === 'account_missing') throw a;
// A sign-in check names the account one way, not both.
const byEmail: SignIn = { email: 'ann@example.org', password: 'p' };
// @ts-expect-error: id and email together
const both: SignIn = { id: '42', email: 'ann@example.org', password: 'p' };
void byEmail;
void both;
