// `npm test`'s runner: builds and starts one `accountpw serve` for every
// test file (test/serve.mjs), runs the files with node's test runner, and
// stops the server. The node files and the Chromium file run by default;
// `node test/run.mjs node` or `... browser` runs one kind. On a failure the
// end of the server's log is printed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort, startServer } from './serve.mjs';

const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['node', 'browser'];
const files = {
  node: ['test/retry.test.mjs', 'test/client.test.mjs', 'test/admin.test.mjs'],
  browser: ['test/browser.test.mjs'],
};
for (const k of kinds) {
  if (!files[k]) throw new Error(`unknown kind of test ${k}: node or browser`);
}

const pageOrigin = `http://127.0.0.1:${await freePort()}`;
const server = await startServer({ corsOrigin: pageOrigin });
let status = 1;
try {
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...kinds.flatMap((k) => files[k])], {
    stdio: 'inherit',
    env: {
      ...process.env, CLIENT_TEST_BASE_URL: server.baseUrl, CLIENT_TEST_ADMIN_URL: server.adminUrl,
      CLIENT_TEST_DIR: server.dir, CLIENT_TEST_PAGE_ORIGIN: pageOrigin,
    },
  });
  status = run.status ?? 1;
} finally {
  await server.stop();
  if (status !== 0) {
    const log = readFileSync(server.log, 'utf8').trimEnd().split('\n');
    console.error(`\nthe last lines of the server's log (${server.log}):\n${log.slice(-40).join('\n')}`);
  } else {
    server.remove();
  }
}
process.exit(status);
