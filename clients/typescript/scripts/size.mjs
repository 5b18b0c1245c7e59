// Bundles the client for browsers as an application would (esbuild, ESM,
// minified, everything it imports), writes it to
// dist/accountpw-client.min.js (the Chromium test loads that very file), and
// fails when it is over the budget gzipped: a password form should not pay
// more than 4 KB for its client.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 4096; // bytes, minified and gzipped

const out = await build({
  entryPoints: ['src/index.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  legalComments: 'none',
});
const code = out.outputFiles[0].contents;
writeFileSync('dist/accountpw-client.min.js', code);
const gz = gzipSync(code, { level: 9 }).length;
console.log(`browser bundle: ${code.length} bytes minified, ${gz} bytes gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`over the budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
