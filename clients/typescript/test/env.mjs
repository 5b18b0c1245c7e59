// What every test file shares: the running server that test/run.mjs
// started (CLIENT_TEST_BASE_URL, CLIENT_TEST_DIR; not ACCOUNTPW_*, a prefix
// the service reserves and refuses unknown names of), its commands, and the
// reset links in its log.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY, serverEnv } from './serve.mjs';
import assert from 'node:assert/strict';
import { AccountClient, AccountpwError } from '../dist/index.js';

export const BASE_URL = process.env.CLIENT_TEST_BASE_URL;
export const ADMIN_URL = process.env.CLIENT_TEST_ADMIN_URL;
export const DIR = process.env.CLIENT_TEST_DIR;
export { ADMIN_KEY };
if (!BASE_URL || !DIR || !ADMIN_URL) {
  throw new Error('CLIENT_TEST_BASE_URL and CLIENT_TEST_DIR are not set: run the tests with `npm test` (test/run.mjs starts the server)');
}
const PORT = new URL(BASE_URL).port;
const ADMIN_PORT = new URL(ADMIN_URL).port;

/** apw runs an accountpw command in the server's directory and environment. */
export function apw(args, input = '') {
  return execFileSync(join(DIR, 'accountpw'), args, {
    cwd: DIR, env: serverEnv(PORT, process.env.CLIENT_TEST_PAGE_ORIGIN, ADMIN_PORT), input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** createUser makes an account and returns its id. */
export function createUser(email, password) {
  return JSON.parse(apw(['users', 'create', '--email', email, '--password-stdin'], `${password}\n`)).id;
}

/** bearer is a session token for the account id, signed as the server verifies. */
export const bearer = (id) => apw(['token', '--user-id', id]).trim();

/** logEntries are the JSON lines of the server's log. */
export function logEntries() {
  return readFileSync(join(DIR, 'serve.log'), 'utf8').split('\n').flatMap((line) => {
    try { return [JSON.parse(line)]; } catch { return []; }
  });
}

/** resetTokens are the tokens of the reset emails sent to email so far. */
export const resetTokens = (email) => logEntries()
  .filter((e) => e.msg === 'email (log mailer)' && e.kind === 'reset' && e.to === email)
  .map((e) => /password-reset\?token=([A-Za-z0-9_-]+)/.exec(e.text)?.[1]);

/**
 * waitResetToken polls the log (at most 30 s) for a reset email to email
 * beyond the first `before`, and returns its token. The email is sent by a
 * queue worker after the 202, so it is polled for, not assumed.
 */
export async function waitResetToken(email, before) {
  for (let i = 0; i < 150; i++) {
    const tokens = resetTokens(email);
    if (tokens.length > before) return tokens[tokens.length - 1];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no reset email for ${email} within 30 s`);
}

/**
 * clientsIn returns clientAs for the /24 `net` ("198.51.100"; each test
 * file its own): clientAs(options) makes an AccountClient that poses as a
 * client of an address of its own (X-Forwarded-For, which the test server
 * trusts from loopback), so that the per-client limits a test spends are its
 * own.
 */
export function clientsIn(net) {
  let next = 1;
  return (options = {}) => {
    const ip = `${net}.${next++}`;
    const inner = options.fetch ?? fetch;
    const viaProxy = (input, init) => inner(input, { ...init, headers: { ...init.headers, 'X-Forwarded-For': ip } });
    const client = new AccountClient({ baseUrl: BASE_URL, ...options, fetch: viaProxy });
    client.ip = ip; // what the server logs as the client
    return client;
  };
}

/** rejects returns the AccountpwError promise p rejects with. */
export async function rejects(p) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AccountpwError, `rejected with ${e}, want an AccountpwError`);
    return e;
  }
  assert.fail('resolved, want a rejection');
}
