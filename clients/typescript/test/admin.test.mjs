// The admin client against a running `accountpw serve` with its admin API
// on (test/run.mjs): an application's signup, sign-in checks, look-ups, a
// move, a support reset by email and by returned link, an import, a delete,
// and the errors each can meet, as the server answers them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccountClient } from '../dist/index.js';
import { AdminClient } from '../dist/admin.js';
import { ADMIN_KEY, ADMIN_URL, BASE_URL, rejects, resetTokens, waitResetToken } from './env.mjs';

const admin = new AdminClient({ baseUrl: ADMIN_URL, apiKey: ADMIN_KEY });
const PASSWORD = 'velvet orbit copper lantern';
const NEW = 'quartz meadow tundra violin';


test('a signup, sign-in checks, look-ups and a delete', async () => {
  const id = `ts:${Date.now()}`;
  const email = `signup-${Date.now()}@example.org`;
  const created = await admin.putAccount(id, { email, password: PASSWORD, locale: 'de' });
  assert.equal(created.created, true);
  assert.equal(created.account.id, id);
  assert.equal(created.account.hash_format, 'argon2id');
  assert.equal('password_hash' in created.account, false);
  const again = await admin.putAccount(id, { email });
  assert.equal(again.created, false);
  assert.equal(again.account.locale, 'de');

  const valid = await admin.verifyPassword({ email: email.toUpperCase(), password: PASSWORD, clientIp: '203.0.113.9' });
  assert.equal(valid.valid, true);
  assert.equal(valid.id, id);
  assert.equal(valid.password_changed_at, created.account.password_changed_at);
  assert.deepEqual(await admin.verifyPassword({ id, password: NEW }), { valid: false });
  assert.deepEqual(await admin.verifyPassword({ email: `nobody-${email}`, password: PASSWORD }), { valid: false });

  assert.equal((await admin.getAccount(id)).email, email);
  assert.equal((await admin.findAccount(email)).id, id);
  assert.equal(await admin.findAccount(`nobody-${email}`), undefined);
  const seen = [];
  for await (const a of admin.accounts()) seen.push(a.id);
  assert.ok(seen.includes(id), 'the walk of every account misses the new one');
  assert.deepEqual(seen, [...seen].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)), 'not in byte order');

  await admin.deleteAccount(id);
  const gone = await rejects(admin.getAccount(id));
  assert.equal(gone.status, 404);
  assert.equal(gone.code, 'account_not_found');
  const twice = await rejects(admin.deleteAccount(id));
  assert.equal(twice.code, 'account_not_found');
});

test('the errors of a PUT: the key, a weak password, a taken address', async () => {
  const id = `err:${Date.now()}`;
  const email = `err-${Date.now()}@example.org`;
  const wrongKey = new AdminClient({ baseUrl: ADMIN_URL, apiKey: 'x'.repeat(40) });
  const unauth = await rejects(wrongKey.getAccount(id));
  assert.equal(unauth.status, 401);
  assert.equal(unauth.code, 'unauthenticated');
  assert.throws(() => new AdminClient({ baseUrl: ADMIN_URL, apiKey: '' }), TypeError);

  const weak = await rejects(admin.putAccount(id, { email, password: 'short' }));
  assert.equal(weak.status, 422);
  assert.equal(weak.code, 'password_too_short');
  assert.equal(weak.field, 'password');
  await admin.putAccount(id, { email });
  const taken = await rejects(admin.putAccount(`${id}-2`, { email }));
  assert.equal(taken.status, 409);
  assert.equal(taken.code, 'email_taken');
  const bad = await rejects(admin.putAccount(id, { email: 'not an address' }));
  assert.equal(bad.code, 'invalid_email');
  assert.equal(bad.field, 'email');
});

test('a move ends the pending link; a support reset by email and by returned link', async () => {
  const id = `mv:${Date.now()}`;
  const email = `move-${Date.now()}@example.org`;
  const moved = `moved-${Date.now()}@example.org`;
  await admin.putAccount(id, { email, password: PASSWORD });
  const person = new AccountClient({ baseUrl: BASE_URL, headers: { 'X-Forwarded-For': '198.51.102.1' } });
  const before = resetTokens(email).length;
  await person.requestReset(email);
  const pending = await waitResetToken(email, before);
  await admin.putAccount(id, { email: moved });
  const ended = await rejects(person.completeReset(pending, NEW));
  assert.equal(ended.code, 'invalid_token');

  const mailed = resetTokens(moved).length;
  await admin.emailReset(id);
  await waitResetToken(moved, mailed);
  const { link, expires_at: expires } = await admin.resetLink(id);
  assert.match(link, /\/password-reset\?token=[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(expires) > Date.now());
  await person.completeReset(new URL(link).searchParams.get('token'), NEW);
  assert.equal((await admin.verifyPassword({ id, password: NEW })).valid, true);
});

test('an import: per-line results, a dry run, and the line cap', async () => {
  const stamp = Date.now();
  const lines = [
    { id: `imp:${stamp}`, email: `imp-${stamp}@example.org`, password_hash: '$2a$04$F/7tYD.C..5USMpXvOIftuyNryzZ8JoFsbRiNHd70.492qy2DaeE2' },
    { id: `bad:${stamp}`, email: 'not an address' },
  ];
  const dry = await admin.importAccounts(lines, { dryRun: true });
  assert.deepEqual(dry.summary, { imported: 1, updated: 0, unchanged: 0, errors: 1 });
  assert.equal((await admin.findAccount(`imp-${stamp}@example.org`)), undefined, 'a dry run wrote');
  const real = await admin.importAccounts(lines);
  assert.deepEqual(real.results.map((r) => [r.line, r.outcome, r.code]), [[1, 'imported', undefined], [2, 'error', 'invalid_email']]);
  // The imported bcrypt hash verifies, and is upgraded by that first check.
  assert.equal((await admin.verifyPassword({ id: `imp:${stamp}`, password: 'correct horse battery staple' })).valid, true);
  assert.equal((await admin.getAccount(`imp:${stamp}`)).hash_format, 'argon2id');
  const many = Array.from({ length: 1001 }, (_, i) => ({ id: `many:${stamp}:${i}`, email: `many-${stamp}-${i}@example.org` }));
  const over = await rejects(admin.importAccounts(many));
  assert.equal(over.status, 413);
  assert.equal(over.code, 'too_many_lines');
});
