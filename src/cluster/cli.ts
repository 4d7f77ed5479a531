// npm run manifests: writes the generated manifests (the TidbCluster CRD) into manifests/.
// npm run manifests -- --check: exits 1 when a committed file differs from what would be generated.
import { readFileSync, writeFileSync } from 'node:fs';
import { generatedManifests } from './manifests.ts';

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of Object.entries(generatedManifests())) {
  const url = new URL(`../../manifests/${file}`, import.meta.url);
  let current = '';
  try {
    current = readFileSync(url, 'utf8');
  } catch {
    // missing
  }
  if (current === text) continue;
  if (check) {
    stale++;
    process.stderr.write(`manifests/${file} is out of date: run npm run manifests\n`);
  } else {
    writeFileSync(url, text);
    process.stdout.write(`wrote manifests/${file}\n`);
  }
}
process.exit(stale ? 1 : 0);
