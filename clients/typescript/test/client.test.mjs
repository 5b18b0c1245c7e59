// The client against a running `accountpw serve` (test/run.mjs): every
// operation, and every error a person can cause, as the server answers it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccountClient, isAccountpwError } from '../dist/index.js';
import { BASE_URL, bearer, clientsIn, createUser, logEntries, rejects, resetTokens, waitResetToken } from './env.mjs';
import { freePort } from './serve.mjs';

const clientAs = clientsIn('198.51.100');
const OLD = 'velvet orbit copper lantern';
const NEW = 'quartz meadow tundra violin';
const NEWER = 'ember glacier saffron pylon';
const ACCEPTED = { status: 'accepted', detail: 'If an account exists for this address, an email with a reset link is on its way.' };


test('a reset: request, a refused password, the new one, the used link', async () => {
  const email = 'reset@example.org';
  createUser(email, OLD);
  const client = clientAs();
  const before = resetTokens(email).length;
  assert.deepEqual(await client.requestReset(email), ACCEPTED);
  const token = await waitResetToken(email, before);

  const short = await rejects(client.completeReset(token, 'too short'));
  assert.equal(short.code, 'password_too_short');
  assert.equal(short.status, 422);
  assert.equal(short.field, 'new');
  assert.match(short.detail, /15/);
  assert.match(short.requestId, /^[A-Za-z0-9._-]{1,64}$/);
  assert.equal(short.outcomeUnknown, false);

  assert.equal(await client.completeReset(token, NEW), undefined, 'the token stays usable after a refusal');
  const used = await rejects(client.completeReset(token, NEWER));
  assert.ok(isAccountpwError(used, 'invalid_token'));
  assert.equal(used.status, 403);
});

test('the answer to a reset request says nothing about the address or the quota', async () => {
  const known = 'quota@example.org';
  createUser(known, OLD);
  const client = clientAs();
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await client.requestReset(known)); // the quota is 3 per 15 minutes
  answers.push(await client.requestReset('nobody-here@example.org'));
  for (const a of answers) assert.deepEqual(a, ACCEPTED);
  // Only the log says why the fourth sent nothing.
  const events = logEntries().filter((e) => e.event === 'reset_requested' && e.ip === client.ip);
  assert.deepEqual(events.map((e) => [e.queued, e.reason, e.limit]), [
    [true, undefined, undefined], [true, undefined, undefined], [true, undefined, undefined],
    [false, 'address_quota', 'limits.reset_per_address_per_15m'],
    [true, undefined, undefined],
  ]);
});

test('a bad address is a 400 on the email field', async () => {
  const e = await rejects(clientAs().requestReset('not an address'));
  assert.equal(e.code, 'invalid_email');
  assert.equal(e.status, 400);
  assert.equal(e.field, 'email');
  assert.equal(e.outcomeUnknown, false);
});

test('a change with a bearer, a wrong old password, and no valid session', async () => {
  const email = 'change@example.org';
  const id = createUser(email, OLD);
  const client = clientAs();
  const session = bearer(id);

  const wrong = await rejects(client.changePassword(session, 'not the old password at all', NEW));
  assert.equal(wrong.code, 'wrong_password');
  assert.equal(wrong.status, 403);

  assert.equal(await client.changePassword(session, OLD, NEW), undefined);
  // (That the change ended this session is the server's rule, tested in
  // Go: a token of the same second as the change still passes, so it
  // cannot be shown here without waiting.)
  const none = await rejects(client.changePassword('not.a.jwt', NEW, NEWER));
  assert.equal(none.code, 'unauthenticated');
  assert.equal(none.status, 401);
});

test('too many wrong tokens: a 429 whose Retry-After is too long to wait for is reported at once', async () => {
  const waits = [];
  const client = clientAs({ sleep: async (ms) => { waits.push(ms); } });
  for (let i = 0; i < 10; i++) {
    const e = await rejects(client.completeReset(`guess-${i}-${'x'.repeat(36)}`, NEW));
    assert.equal(e.code, 'invalid_token', `guess ${i + 1}`);
  }
  // The 11th: refused for the rest of the quarter hour. It is retried only
  // if that is at most 10 s away (a run at the end of a window).
  const e = await rejects(client.completeReset(`guess-10-${'x'.repeat(36)}`, NEW));
  if (e.code === 'rate_limited') {
    assert.equal(e.status, 429);
    assert.ok(e.retryAfter > 10 && e.retryAfter <= 900, `Retry-After ${e.retryAfter}`);
    assert.deepEqual(waits, [], 'no wait for a Retry-After over maxRetryAfter');
  } else {
    assert.equal(e.code, 'invalid_token');
    assert.equal(waits.length, 1, 'a new window began within 10 s: waited once, then counted afresh');
  }
});

test('no answer at all: network, and the outcome of a change is unknown', async () => {
  const client = new AccountClient({ baseUrl: `http://127.0.0.1:${await freePort()}` });
  const req = await rejects(client.requestReset('a@example.org'));
  assert.equal(req.code, 'network');
  assert.equal(req.status, 0);
  assert.equal(req.outcomeUnknown, false, 'a reset request changes nothing');
  const reset = await rejects(client.completeReset('t'.repeat(43), NEW));
  assert.equal(reset.code, 'network');
  assert.equal(reset.outcomeUnknown, true, 'a reset that got no answer may have happened');
});

test('Accept-Language picks the language of the email', async () => {
  const email = 'sprache@example.org';
  createUser(email, OLD);
  const before = resetTokens(email).length;
  await clientAs().requestReset(email, { acceptLanguage: 'de-DE,de;q=0.9' });
  await waitResetToken(email, before);
  const mail = logEntries().filter((e) => e.msg === 'email (log mailer)' && e.to === email).at(-1);
  assert.equal(mail.language, 'de');
});

test('the base URL may end in a slash', async () => {
  assert.deepEqual(await clientAs({ baseUrl: `${BASE_URL}/` }).requestReset('slash@example.org'), ACCEPTED);
});
