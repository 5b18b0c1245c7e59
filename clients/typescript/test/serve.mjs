// Builds accountpw from this repository and runs `accountpw serve` on the
// embedded default (SQLite, log mailer) in a fresh temporary directory on a
// free loopback port, as .ci/serve.sh does for newman and the reset page.
// The tests read reset links from its log (the log mailer's "mailbox").
//
// Besides the CI settings, the server trusts X-Forwarded-For from loopback,
// so that each test poses as a client of its own and the per-client limits
// of one test do not reach another; and it allows CORS from the origin of
// the Chromium test page.
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** freePort asks the kernel for a loopback port nobody uses now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** ADMIN_KEY is the admin API key of the test server. */
export const ADMIN_KEY = 'client-test-admin-key-0123456789abcdefghij';

/**
 * serverEnv is the environment of the server and its commands in dir, with
 * the admin API on adminPort.
 */
export function serverEnv(port, corsOrigin, adminPort) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ACCOUNTPW_')));
  return {
    ...env,
    ACCOUNTPW_HTTP_ADDR: `127.0.0.1:${port}`,
    ACCOUNTPW_RESET_URL: `http://127.0.0.1:${port}/password-reset`,
    ACCOUNTPW_METRICS_ADDR: 'off',
    ACCOUNTPW_MAIL_PROVIDER: 'log',
    ACCOUNTPW_LOG_LEVEL: 'info',
    ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB: '19456',
    ACCOUNTPW_PASSWORD_ARGON2_TIME: '2',
    ACCOUNTPW_PASSWORD_ARGON2_THREADS: '1',
    ACCOUNTPW_HTTP_TRUSTED_PROXIES: '127.0.0.1/32',
    ACCOUNTPW_HTTP_CORS_ALLOWED_ORIGINS: corsOrigin,
    ACCOUNTPW_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
    ACCOUNTPW_ADMIN_API_KEYS: ADMIN_KEY,
  };
}

/**
 * startServer builds and starts the server; stop() ends it and removes its
 * directory. It waits for /healthz, polling for at most 30 s.
 */
export async function startServer({ corsOrigin }) {
  const dir = mkdtempSync(join(tmpdir(), 'accountpw-client-'));
  execFileSync('go', ['build', '-o', join(dir, 'accountpw'), '.'], { cwd: ROOT, stdio: 'inherit' });
  const port = await freePort();
  const adminPort = await freePort();
  const log = join(dir, 'serve.log');
  const fd = openSync(log, 'a');
  const child = spawn(join(dir, 'accountpw'), ['serve'], { cwd: dir, env: serverEnv(port, corsOrigin, adminPort), stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => { exited = true; });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  };
  for (let i = 0; i < 150 && !exited; i++) {
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) {
        return { baseUrl, adminUrl: `http://127.0.0.1:${adminPort}`, dir, log, stop,
          remove: () => rmSync(dir, { recursive: true, force: true }) };
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200)); // polling for the listener, bounded above
  }
  await stop();
  throw new Error(`accountpw did not become healthy within 30 s; its log is ${log}`);
}
