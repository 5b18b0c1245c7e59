// The one error every call of every entry point throws: the server's RFC
// 9457 problem as the contract describes it, or one of the two codes the
// client gives itself when there is no problem to read.

import type { components } from './generated/openapi.js';

/** The problem body, as openapi.yaml's Problem schema describes it. */
export type Problem = components['schemas']['Problem'];

/**
 * What the client says when the server said nothing it could read:
 * `network` (status 0) when no answer came at all (offline, DNS, CORS,
 * a closed port), `unexpected_response` when the answer is not the one
 * the contract lists (a proxy's HTML error page, say).
 */
export type ClientProblem =
  | { status: 0; code: 'network' }
  | { status: number; code: 'unexpected_response' };

/** The fields an AccountpwError is made of. */
export interface ErrorFields {
  status: number;
  code: string;
  detail: string;
  field?: string | undefined;
  requestId?: string | undefined;
  retryAfter?: number | undefined;
  outcomeUnknown: boolean;
}

/**
 * AccountpwError is a failed call. `code` is the stable name to switch on
 * (openapi.yaml lists every code each status can carry); `detail` is safe
 * to show a person; `field` names the request member at fault; `requestId`
 * is what to quote to support; `retryAfter` is the server's Retry-After in
 * seconds. `outcomeUnknown` is true when the change may have been made
 * anyway (no answer, or a server error, after a new password was sent):
 * then do not simply send it again; say so, and let the person try to sign
 * in with the new password.
 */
export class AccountpwError extends Error implements ErrorFields {
  override readonly name = 'AccountpwError';
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly field: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfter: number | undefined;
  readonly outcomeUnknown: boolean;

  constructor(f: ErrorFields) {
    super(`${f.code}: ${f.detail}`);
    this.status = f.status;
    this.code = f.code;
    this.detail = f.detail;
    this.field = f.field;
    this.requestId = f.requestId;
    this.retryAfter = f.retryAfter;
    this.outcomeUnknown = f.outcomeUnknown;
  }
}

/**
 * ErrorOf turns a union of problems into a union of AccountpwErrors that
 * narrows on `code`: after `if (e.code === 'invalid_token')`, `e.status` is
 * 403.
 */
export type ErrorOf<P extends { status: number; code: string }> = P extends unknown
  ? AccountpwError & { readonly status: P['status']; readonly code: P['code'] }
  : never;

/** Responses of an operation of openapi.yaml's generated `operations`. */
type Responses<Op> = Op extends { responses: infer R } ? R : never;

/** The problem body of one response, if it has one. */
type ProblemIn<R> = R extends { content: { 'application/problem+json': infer P } } ? P : never;

/** Narrows a problem body to its status and code. */
type StatusAndCode<P> = P extends { status: infer S extends number; code: infer C extends string }
  ? { status: S; code: C }
  : never;

/**
 * ProblemOf is every status-and-code pair an operation can answer with,
 * read from openapi.yaml's generated types, so a code added to the
 * contract is a code of the client after `npm run generate`.
 */
export type ProblemOf<Op> = StatusAndCode<{ [S in keyof Responses<Op>]: ProblemIn<Responses<Op>[S]> }[keyof Responses<Op>]>;
