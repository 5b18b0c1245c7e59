// Fails when src/generated/openapi.ts is not what openapi-typescript makes
// of ../../openapi.yaml today: the contract changed and `npm run generate`
// was not run (and committed). The file is checked in so that the package
// builds without the generator's view of the spec drifting unnoticed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'accountpw-generated-'));
try {
  const fresh = join(dir, 'openapi.ts');
  execFileSync(process.execPath, ['node_modules/openapi-typescript/bin/cli.js', '../../openapi.yaml', '--output', fresh], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (readFileSync(fresh, 'utf8') !== readFileSync('src/generated/openapi.ts', 'utf8')) {
    console.error('src/generated/openapi.ts is stale: openapi.yaml changed. Run `npm run generate` in clients/typescript and commit the result.');
    process.exit(1);
  }
  console.log('src/generated/openapi.ts matches openapi.yaml');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
