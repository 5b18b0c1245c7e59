// The retry rule and the shape of requests, with an injected fetch that
// answers from a script and an injected sleep that records the waits (no
// server: 503s and short Retry-Afters cannot be caused on demand).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccountClient, AccountpwError } from '../dist/index.js';

const problem = (status, code, headers = {}) => new Response(
  JSON.stringify({ type: `https://accountpw.dev/problems/${code}`, title: code, status, detail: `${code} detail`, code, request_id: 'req-1' }),
  { status, headers: { 'Content-Type': 'application/problem+json', ...headers } },
);
const accepted = () => new Response(JSON.stringify({ status: 'accepted', detail: 'x' }), { status: 202, headers: { 'Content-Type': 'application/json' } });
const noContent = () => new Response(null, { status: 204 });

/** scripted returns a client whose fetch answers with answers in order, and what it saw. */
function scripted(answers, options = {}) {
  const calls = [];
  const waits = [];
  const client = new AccountClient({
    baseUrl: 'https://accounts.example.test/',
    fetch: async (url, init) => {
      calls.push({ url, init });
      const a = answers.shift();
      if (a === undefined) throw new Error('more calls than answers');
      if (a instanceof Error) throw a;
      return a();
    },
    sleep: async (ms) => { waits.push(ms); },
    ...options,
  });
  return { client, calls, waits };
}

async function rejects(p) {
  try { await p; } catch (e) { return e; }
  assert.fail('resolved, want a rejection');
}

test('requests: one PUT to the resource, JSON body, bearer only for a change, no cookies', async () => {
  const { client, calls } = scripted([accepted, noContent, noContent], { headers: { 'Accept-Language': 'fr' } });
  await client.requestReset('a@example.org');
  await client.completeReset('tok', 'new one');
  await client.changePassword('jwt', 'old one', 'new one', { acceptLanguage: 'de' });
  assert.deepEqual(calls.map((c) => [c.url, c.init.method, JSON.parse(c.init.body)]), [
    ['https://accounts.example.test/api/v1/account/password', 'PUT', { email: 'a@example.org' }],
    ['https://accounts.example.test/api/v1/account/password', 'PUT', { token: 'tok', new: 'new one' }],
    ['https://accounts.example.test/api/v1/account/password', 'PUT', { old: 'old one', new: 'new one' }],
  ]);
  for (const c of calls) {
    assert.equal(c.init.headers['Content-Type'], 'application/json');
    assert.equal(c.init.credentials, 'omit');
    assert.equal(c.init.redirect, 'error');
  }
  assert.equal(calls[0].init.headers.Authorization, undefined);
  assert.equal(calls[1].init.headers.Authorization, undefined);
  assert.equal(calls[2].init.headers.Authorization, 'Bearer jwt');
  assert.equal(calls[0].init.headers['Accept-Language'], 'fr');
  assert.equal(calls[2].init.headers['Accept-Language'], 'de', 'a call overrides the client');
});

test('a reset request is sent again after a 429 or 503, after Retry-After', async () => {
  const { client, calls, waits } = scripted([
    () => problem(429, 'rate_limited', { 'Retry-After': '2' }),
    () => problem(503, 'unavailable', { 'Retry-After': '1' }),
    accepted,
  ]);
  assert.equal((await client.requestReset('a@example.org')).status, 'accepted');
  assert.equal(calls.length, 3);
  assert.deepEqual(waits, [2000, 1000]);
});

test('a 503 after a new password was sent is never sent again', async () => {
  for (const [method, args] of [['completeReset', ['tok', 'new one']], ['changePassword', ['jwt', 'old one', 'new one']]]) {
    const { client, calls, waits } = scripted([() => problem(503, 'unavailable', { 'Retry-After': '1' }), noContent]);
    const e = await rejects(client[method](...args));
    assert.ok(e instanceof AccountpwError);
    assert.equal(e.code, 'unavailable', method);
    assert.equal(e.status, 503);
    assert.equal(e.retryAfter, 1);
    assert.equal(e.outcomeUnknown, true, `${method}: the change may have been made`);
    assert.equal(calls.length, 1, `${method} was sent again`);
    assert.deepEqual(waits, []);
  }
});

test('busy is answered before anything is done: not sent again, but the outcome is known', async () => {
  const { client, calls } = scripted([() => problem(503, 'busy', { 'Retry-After': '1' })]);
  const e = await rejects(client.completeReset('tok', 'new one'));
  assert.equal(e.code, 'busy');
  assert.equal(e.outcomeUnknown, false);
  assert.equal(calls.length, 1);
});

test('a 429 is safe to send again for any call: nothing was done', async () => {
  const { client, calls, waits } = scripted([() => problem(429, 'rate_limited', { 'Retry-After': '3' }), noContent]);
  await client.changePassword('jwt', 'old one', 'new one');
  assert.equal(calls.length, 2);
  assert.deepEqual(waits, [3000]);
});

test('a Retry-After over maxRetryAfter, a missing one, or no retries left is reported', async () => {
  let s = scripted([() => problem(429, 'rate_limited', { 'Retry-After': '11' })]);
  let e = await rejects(s.client.requestReset('a@example.org'));
  assert.deepEqual([e.code, e.retryAfter, s.waits.length], ['rate_limited', 11, 0]);

  s = scripted([() => problem(429, 'rate_limited', { 'Retry-After': '60' }), accepted], { maxRetryAfter: 60 });
  await s.client.requestReset('a@example.org');
  assert.deepEqual(s.waits, [60000]);

  s = scripted([() => problem(503, 'unavailable')]);
  e = await rejects(s.client.requestReset('a@example.org'));
  assert.deepEqual([e.code, e.retryAfter, s.waits.length], ['unavailable', undefined, 0]);

  const again = () => problem(429, 'rate_limited', { 'Retry-After': '1' });
  s = scripted([again, again, again, accepted]);
  e = await rejects(s.client.requestReset('a@example.org'));
  assert.deepEqual([e.code, s.calls.length, s.waits.length], ['rate_limited', 3, 2], 'two retries by default');

  s = scripted([again], { retries: 0 });
  e = await rejects(s.client.requestReset('a@example.org'));
  assert.deepEqual([e.code, s.calls.length], ['rate_limited', 1]);
});

test('Retry-After as an HTTP date', async () => {
  const at = new Date(Date.now() + 120_000).toUTCString();
  const { client } = scripted([() => problem(429, 'rate_limited', { 'Retry-After': at })]);
  const e = await rejects(client.requestReset('a@example.org'));
  assert.ok(e.retryAfter >= 119 && e.retryAfter <= 121, `retryAfter ${e.retryAfter}`);
});

test('an answer the contract does not list: unexpected_response, with the status and request id', async () => {
  const html = () => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html', 'X-Request-Id': 'edge-7' } });
  const { client } = scripted([html, html]);
  let e = await rejects(client.requestReset('a@example.org'));
  assert.deepEqual([e.code, e.status, e.requestId, e.outcomeUnknown], ['unexpected_response', 502, 'edge-7', false]);
  e = await rejects(client.completeReset('tok', 'new one'));
  assert.deepEqual([e.code, e.outcomeUnknown], ['unexpected_response', true]);

  const s = scripted([() => new Response('not json', { status: 202 })]);
  e = await rejects(s.client.requestReset('a@example.org'));
  assert.equal(e.code, 'unexpected_response');
});

test('an abort rejects with the signal\'s reason, also while waiting to retry', async () => {
  const ctl = new AbortController();
  const reason = new Error('gone');
  const { client } = scripted([() => problem(429, 'rate_limited', { 'Retry-After': '1' })], {
    sleep: (ms, signal) => new Promise((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      ctl.abort(reason);
    }),
  });
  assert.equal(await rejects(client.requestReset('a@example.org', { signal: ctl.signal })), reason);

  const aborted = AbortSignal.abort(reason);
  const s = scripted([new TypeError('aborted by the fetch')]);
  assert.equal(await rejects(s.client.completeReset('tok', 'new one', { signal: aborted })), reason);
});

test('the default sleep waits for Retry-After and stops at an abort', async (t) => {
  // Node's mock timers stand in for the clock: the retry is sent only once
  // the Retry-After's second has passed, and an abort during a second wait
  // ends it without a third request.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let answered = 0;
  let resolveSecond;
  const second = new Promise((r) => { resolveSecond = r; });
  const client = new AccountClient({
    baseUrl: 'https://accounts.example.test',
    fetch: async () => {
      answered++;
      if (answered === 2) resolveSecond();
      return problem(429, 'rate_limited', { 'Retry-After': '1' });
    },
  });
  const ctl = new AbortController();
  const p = client.requestReset('a@example.org', { signal: ctl.signal });
  const failed = rejects(p);
  await new Promise((r) => setImmediate(r)); // the first answer is read, the wait begins
  assert.equal(answered, 1);
  t.mock.timers.tick(999);
  await new Promise((r) => setImmediate(r));
  assert.equal(answered, 1, 'sent again before Retry-After had passed');
  t.mock.timers.tick(1);
  await second;
  assert.equal(answered, 2);
  await new Promise((r) => setImmediate(r)); // the second wait begins
  ctl.abort(new Error('left the page'));
  assert.equal((await failed).message, 'left the page');
  assert.equal(answered, 2);
});

test('the admin client sends a PUT again after a 503 only when it sets no password', async () => {
  const { AdminClient } = await import('../dist/admin.js');
  const written = () => new Response(JSON.stringify({ id: 'a', email: 'a@example.org', locale: '', created_at: '2026-01-01T00:00:00Z',
    password_changed_at: '2026-01-01T00:00:00Z', hash_format: 'argon2id' }), { status: 200, headers: { 'Content-Type': 'application/json' } });
  const run = async (account, answers) => {
    let sent = 0;
    const admin = new AdminClient({
      baseUrl: 'http://admin.example.test', apiKey: 'k'.repeat(32), sleep: async () => {},
      fetch: async () => { sent++; return answers.shift()(); },
    });
    try {
      await admin.putAccount('a', account);
      return { sent, error: undefined };
    } catch (e) {
      return { sent, error: e };
    }
  };
  const moved = await run({ email: 'a@example.org' }, [() => problem(503, 'unavailable', { 'Retry-After': '1' }), written]);
  assert.equal(moved.sent, 2);
  assert.equal(moved.error, undefined);
  const withPassword = await run({ email: 'a@example.org', password: 'quartz meadow tundra violin' },
    [() => problem(503, 'unavailable', { 'Retry-After': '1' }), written]);
  assert.equal(withPassword.sent, 1, 'a new password was sent twice');
  assert.equal(withPassword.error.code, 'unavailable');
  assert.equal(withPassword.error.outcomeUnknown, true);
});
