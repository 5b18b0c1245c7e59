// Drives Debian's chromium through the built-in reset page of a running
// accountpw (started by .ci/browser.sh) and checks that the token never
// leaves the page except in the PUT body (not in a URL, not in a Referer),
// that loading the page calls nothing, and the page's behaviour in every
// state, saving a screenshot of each. Elements are found by id; texts are
// checked in English (the browser asks for en-US), then once more in German
// (Accept-Language: de), which also picks the language of the email. The
// server runs with a product name, which the page must show, and a sign-in
// page, which the page must lead to once the reset succeeded.
//
// Environment: BASE_URL, SERVE_LOG (the server's log, the log mailer's
// "mailbox"), EMAIL (an existing account), ARTIFACTS (screenshot directory),
// PRODUCT (mail.product_name), SIGN_IN_URL (reset.sign_in_url).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { BASE_URL, SERVE_LOG, EMAIL, ARTIFACTS, PRODUCT, SIGN_IN_URL } = process.env;
for (const [k, v] of Object.entries({ BASE_URL, SERVE_LOG, EMAIL, ARTIFACTS, PRODUCT, SIGN_IN_URL })) {
  if (!v) throw new Error(`${k} is not set`);
}
const origin = new URL(BASE_URL).origin;
const PASSPHRASE = 'quartz meadow tundra violin';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// resetMails returns the reset emails sent to EMAIL so far, each with its
// link, language and subject.
function resetMails() {
  return readFileSync(SERVE_LOG, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    let e;
    try { e = JSON.parse(line); } catch { return []; }
    if (e.msg !== 'email (log mailer)' || e.kind !== 'reset' || e.to !== EMAIL) return [];
    const m = /(https?:\/\/\S+\/password-reset\?token=[A-Za-z0-9_-]+)/.exec(e.text);
    return m ? [{ link: m[1], language: e.language, subject: e.subject }] : [];
  });
}
const resetLinks = () => resetMails().map((m) => m.link);

// waitForNewMail polls the server's log (the log mailer's mailbox) until
// a reset email beyond the first `before` arrives.
async function waitForNewMail(before) {
  for (let i = 0; i < 150; i++) {
    const mails = resetMails();
    if (mails.length > before) return mails[mails.length - 1];
    await sleep(200);
  }
  throw new Error(`no reset email for ${EMAIL} within 30 s`);
}
const waitForNewLink = async (before) => (await waitForNewMail(before)).link;

const launch = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
const profile = mkdtempSync(join(tmpdir(), 'accountpw-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  ...launch, viewport: { width: 800, height: 720 }, deviceScaleFactor: 1, locale: 'en-US',
});

// Every request any page makes, with its headers and body.
const requests = [];
context.on('request', async (req) => {
  const entry = { method: req.method(), url: req.url(), body: req.postData() || '', headers: {} };
  requests.push(entry);
  try { entry.headers = await req.allHeaders(); } catch { /* page closed */ }
});
const problems = [];
let step = 0;
const shot = async (page, name) => {
  step++;
  await page.screenshot({ path: join(ARTIFACTS, `browser-${step}-${name}.png`), fullPage: true });
};
const statusText = (page) => page.locator('#status').innerText();

try {
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  // 4xx answers are expected here; anything else logged as an error (a CSP
  // violation, say) is a failure.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource: the server responded with a status of 4')) {
      problems.push(`console error: ${msg.text()}`);
    }
  });

  // Chromium's DevTools issues about forms (an input without id or name, a
  // label for nothing, an autocomplete value it does not know, ...):
  // password managers and autofill read the same markup.
  const formIssues = [];
  const cdp = await context.newCDPSession(page);
  cdp.on('Audits.issueAdded', ({ issue }) => {
    const type = issue.details?.genericIssueDetails?.errorType || '';
    if (/^Form/.test(type)) formIssues.push(type);
  });
  await cdp.send('Audits.enable');

  // 1. The request form: keyboard only.
  await page.goto(`${BASE_URL}/password-reset/request`);
  await page.locator('#request-form').waitFor({ state: 'visible' });
  assert.equal(await page.locator('h1').innerText(), 'Forgot your password?');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('#product').innerText(), PRODUCT, 'the page names the product, as the emails do');
  assert.equal(await page.title(), `Forgot your password? · ${PRODUCT}`);
  await shot(page, 'request-form');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'email', 'Tab reaches the email field first');
  const before = resetLinks().length;
  await page.keyboard.type(EMAIL);
  await page.keyboard.press('Enter');
  await page.locator('#status.success').waitFor();
  assert.match(await statusText(page), /^If an account exists for this address/);
  await shot(page, 'request-sent');

  // 2. Open the emailed link: the token leaves the address bar, nothing is called.
  const link = await waitForNewLink(before);
  const token = new URL(link).searchParams.get('token');
  assert.equal(token.length, 43);
  const mark = requests.length;
  await page.goto(link);
  await page.locator('#reset-form').waitFor({ state: 'visible' });
  assert.equal(page.url(), `${BASE_URL}/password-reset`, 'token removed from the address bar');
  assert.equal(await page.evaluate(() => window.location.search + window.location.hash), '');
  await shot(page, 'reset-form');
  assert.equal(requests.slice(mark).filter((r) => r.url.includes('/api/')).length, 0, 'loading the page calls no API');
  assert.equal(await page.title(), `Reset your password · ${PRODUCT}`);
  // For password managers: an empty, hidden username field in the form.
  const username = page.locator('#reset-form input[autocomplete="username"]');
  assert.equal(await username.count(), 1, 'the reset form has a username field');
  assert.equal(await username.inputValue(), '', 'the username field is empty: the page does not know the address');
  assert.equal(await username.isVisible(), false, 'the username field is hidden');
  assert.equal(await page.locator('#sign-in').isVisible(), false, 'no sign-in link before the reset succeeded');

  // 3. Mismatched confirmation: a client-side error and no request.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'new-password', 'Tab reaches the new password first');
  await page.keyboard.type(PASSPHRASE);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-password');
  await page.keyboard.type('quartz meadow tundra violim');
  const beforeMismatch = requests.length;
  await page.keyboard.press('Enter');
  await page.locator('#status.error').waitFor();
  assert.match(await statusText(page), /do not match/);
  assert.equal(await page.getAttribute('#confirm-password', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-password', 'focus moves to the field to fix');
  await sleep(300);
  assert.equal(requests.slice(beforeMismatch).filter((r) => r.method === 'PUT').length, 0, 'no PUT for a mismatch');
  await shot(page, 'mismatch');

  // 4. A policy rejection shows the guidance and does not use the token up.
  await page.fill('#new-password', 'too short');
  await page.fill('#confirm-password', 'too short');
  await page.focus('#confirm-password');
  await page.keyboard.press('Enter');
  await page.locator('#status.error', { hasText: 'at least 15 characters' }).waitFor();
  await shot(page, 'policy');

  // 5. A good passphrase: done.
  await page.fill('#new-password', PASSPHRASE);
  await page.fill('#confirm-password', PASSPHRASE);
  await page.focus('#confirm-password');
  await page.keyboard.press('Enter');
  await page.locator('#status.success').waitFor();
  assert.match(await statusText(page), /Your password has been changed/);
  assert.equal(await page.locator('#reset-form').isVisible(), false);
  // The way on: the configured sign-in page (followed after the audit below).
  const signIn = page.locator('#sign-in a');
  await signIn.waitFor({ state: 'visible' });
  assert.equal(await signIn.innerText(), 'Continue to sign in');
  assert.equal(await signIn.getAttribute('href'), SIGN_IN_URL);
  await shot(page, 'success');

  // 6. The same link again: invalid or expired, with a way to ask for a new one.
  await page.goto(link);
  await page.locator('#reset-form').waitFor({ state: 'visible' });
  await page.fill('#new-password', 'ember glacier saffron pylon');
  await page.fill('#confirm-password', 'ember glacier saffron pylon');
  await page.click('#reset-submit');
  await page.locator('#status.error', { hasText: 'invalid or has expired' }).waitFor();
  assert.equal(await page.locator('#status a').getAttribute('href'), '/password-reset/request');
  assert.equal(await page.locator('#sign-in').isVisible(), false, 'no sign-in link after a refused link');
  await shot(page, 'used-link');

  // 7. What the page sent: same origin only; the token only in PUT bodies.
  await sleep(200);
  const puts = requests.filter((r) => r.method === 'PUT');
  assert.deepEqual(puts.map((r) => JSON.parse(r.body).token ? 'token' : 'email'), ['email', 'token', 'token', 'token']);
  for (const r of requests) {
    assert.equal(new URL(r.url).origin, origin, `third-party request ${r.url}`);
    const referer = r.headers.referer || '';
    assert.ok(!r.url.includes(token) || r.url === link, `token in the URL of ${r.method} ${r.url}`);
    assert.ok(!referer.includes(token), `token in the Referer of ${r.method} ${r.url}`);
    assert.equal(referer, '', `Referer sent with ${r.method} ${r.url}`);
    if (r.url !== link && r.method !== 'PUT') assert.ok(!r.body.includes(token));
  }
  const subresources = requests.filter((r) => r.url !== link && r.method === 'GET').map((r) => new URL(r.url).pathname);
  for (const p of subresources) {
    assert.ok(['/password-reset', '/password-reset/request', '/password-reset/app.js', '/password-reset/app.css'].includes(p), `unexpected request ${p}`);
  }

  // 7b. Following the sign-in link after a success: it goes where
  // reset.sign_in_url says, without a Referer. Nothing listens there, so
  // the test answers that one navigation itself.
  const success = await context.newPage();
  const linkBefore = resetLinks().length;
  await success.goto(`${BASE_URL}/password-reset/request`);
  await success.fill('#email', EMAIL);
  await success.click('#request-submit');
  await success.locator('#status.success').waitFor();
  await success.goto(await waitForNewLink(linkBefore));
  await success.fill('#new-password', 'ember glacier saffron pylon');
  await success.fill('#confirm-password', 'ember glacier saffron pylon');
  await success.click('#reset-submit');
  await success.locator('#sign-in a').waitFor({ state: 'visible' });
  let signInRequest;
  await context.route((url) => url.href === SIGN_IN_URL, (route) => {
    signInRequest = route.request();
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Sign in</title><h1>Sign in</h1>' });
  });
  await Promise.all([success.waitForURL(SIGN_IN_URL), success.click('#sign-in a')]);
  assert.equal(success.url(), SIGN_IN_URL);
  assert.equal((await signInRequest.allHeaders()).referer, undefined, 'no Referer to the sign-in page');
  await success.close();

  // 8. In German: the page, the email it causes, and the script's words. A
  // browser of its own, whose locale sets Accept-Language and
  // navigator.languages alike.
  const deBrowser = await chromium.launch(launch);
  const deContext = await deBrowser.newContext({ viewport: { width: 800, height: 720 }, deviceScaleFactor: 1, locale: 'de-DE' });
  const de = await deContext.newPage();
  de.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await de.goto(`${BASE_URL}/password-reset/request`);
  await de.locator('#request-form').waitFor({ state: 'visible' });
  assert.equal(await de.getAttribute('html', 'lang'), 'de');
  assert.equal(await de.locator('h1').innerText(), 'Passwort vergessen?');
  const beforeDe = resetMails().length;
  await de.fill('#email', EMAIL);
  await de.click('#request-submit');
  await de.locator('#status.success').waitFor();
  assert.match(await de.locator('#status').innerText(), /^Wenn für diese Adresse ein Konto besteht/);
  await shot(de, 'de-request-sent');
  const mail = await waitForNewMail(beforeDe);
  assert.equal(mail.language, 'de', 'the email follows the language of the request');
  assert.equal(mail.subject, `Passwort für ${PRODUCT} zurücksetzen`);
  await de.goto(mail.link);
  await de.locator('#reset-form').waitFor({ state: 'visible' });
  assert.equal(await de.locator('h1').innerText(), 'Passwort zurücksetzen');
  await de.fill('#new-password', PASSPHRASE);
  await de.fill('#confirm-password', 'nicht dasselbe Passwort');
  await de.click('#reset-submit');
  await de.locator('#status.error', { hasText: 'stimmen nicht überein' }).waitFor();
  await de.fill('#confirm-password', 'zu kurz');
  await de.fill('#new-password', 'zu kurz');
  await de.click('#reset-submit');
  await de.locator('#status.error', { hasText: 'mindestens 15 Zeichen' }).waitFor();
  await shot(de, 'de-policy');
  await deBrowser.close();

  assert.deepEqual(problems, [], 'no script errors or CSP violations');
  assert.deepEqual(formIssues, [], 'no DevTools issues about the forms');
  console.log(`browser: ${requests.length} requests checked, ${step} screenshots in ${ARTIFACTS}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
