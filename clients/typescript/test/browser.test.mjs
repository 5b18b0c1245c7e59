// The browser bundle (dist/accountpw-client.min.js, the file the size
// budget measures) in Debian's chromium, driven by playwright-core, on a
// test page of another origin than the service, as a frontend would call
// it: through CORS, so the client must read Retry-After and the request id
// from headers the service exposes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { BASE_URL, bearer, createUser, resetTokens, waitResetToken } from './env.mjs';

const PAGE_ORIGIN = process.env.CLIENT_TEST_PAGE_ORIGIN;
const bundle = readFileSync(new URL('../dist/accountpw-client.min.js', import.meta.url));
const page = `<!doctype html><meta charset="utf-8"><title>client test</title>
<script type="module">
  import * as accountpw from '/client.js';
  window.accountpw = accountpw;
  window.ready = true;
</script>`;

/** serveTestPage serves the page and the bundle on PAGE_ORIGIN's port. */
function serveTestPage() {
  const server = createServer((req, res) => {
    if (req.url === '/client.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(page);
    }
  });
  return new Promise((ok) => server.listen(Number(new URL(PAGE_ORIGIN).port), '127.0.0.1', () => ok(server)));
}

test('the client in Chromium, from another origin', async (t) => {
  const server = await serveTestPage();
  t.after(() => server.close());
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const tab = await browser.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  await tab.goto(`${PAGE_ORIGIN}/`);
  await tab.waitForFunction(() => window.ready === true);

  // call runs one method of a client in the page and returns its outcome.
  const call = (method, args, options = {}) => tab.evaluate(async ({ baseUrl, method, args, options }) => {
    const client = new window.accountpw.AccountClient({ baseUrl, ...options });
    try {
      return { ok: (await client[method](...args)) ?? null };
    } catch (e) {
      return {
        error: e instanceof window.accountpw.AccountpwError,
        code: e.code, status: e.status, field: e.field, requestId: e.requestId,
        retryAfter: e.retryAfter, outcomeUnknown: e.outcomeUnknown,
      };
    }
  }, { baseUrl: BASE_URL, method, args, options });

  const email = 'browser-client@example.org';
  const id = createUser(email, 'velvet orbit copper lantern');
  const before = resetTokens(email).length;
  assert.deepEqual(await call('requestReset', [email]), { ok: { status: 'accepted', detail: 'If an account exists for this address, an email with a reset link is on its way.' } });
  const token = await waitResetToken(email, before);

  const short = await call('completeReset', [token, 'too short']);
  assert.equal(short.error, true);
  assert.equal(short.code, 'password_too_short');
  assert.equal(short.status, 422);
  assert.equal(short.field, 'new');
  assert.match(short.requestId, /^[A-Za-z0-9._-]+$/, 'the request id is readable across origins');

  assert.deepEqual(await call('completeReset', [token, 'quartz meadow tundra violin']), { ok: null });
  assert.equal((await call('completeReset', [token, 'ember glacier saffron pylon'])).code, 'invalid_token');
  assert.deepEqual(await call('changePassword', [bearer(id), 'quartz meadow tundra violin', 'ember glacier saffron pylon']), { ok: null },
    'the bearer crosses origins');

  // Ten failed tokens from this browser (the server sees 127.0.0.1): the
  // used one above and nine wrong ones; then a 429 whose Retry-After must be
  // readable across origins.
  for (let i = 0; i < 9; i++) {
    assert.equal((await call('completeReset', [`wrong-${i}-${'y'.repeat(36)}`, 'quartz meadow tundra violin'])).code, 'invalid_token');
  }
  const limited = await call('completeReset', [`wrong-10-${'y'.repeat(36)}`, 'quartz meadow tundra violin'], { retries: 0 });
  assert.equal(limited.code, 'rate_limited');
  assert.equal(limited.status, 429);
  assert.ok(limited.retryAfter >= 1 && limited.retryAfter <= 900, `Retry-After ${limited.retryAfter} read across origins`);

  // A service that does not answer: network, outcome unknown for a change.
  const down = await tab.evaluate(async () => {
    const client = new window.accountpw.AccountClient({ baseUrl: 'http://127.0.0.1:9' });
    try { await client.completeReset('t', 'quartz meadow tundra violin'); } catch (e) { return [e.code, e.status, e.outcomeUnknown]; }
    return null;
  });
  assert.deepEqual(down, ['network', 0, true]);
  assert.deepEqual(errors, [], 'no script errors on the page');
});
