// Prints the mutation score of each mutated area from Stryker's JSON report (npm run mutate), the
// policy in src/domain last, and exits 1 when that is below the bar the project holds it to.
import { readFileSync } from 'node:fs';

const REPORT = 'reports/mutation/mutation.json';
const DOMAIN_MIN = 90;

interface Mutant {
  status: string;
  mutatorName: string;
  replacement?: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const report = JSON.parse(readFileSync(REPORT, 'utf8')) as Report;
const groups: Array<[string, (path: string) => boolean]> = [
  ['src/pd/client.ts', (p) => p === 'src/pd/client.ts'],
  ['src/domain', (p) => p.startsWith('src/domain/')],
];

function score(match: (path: string) => boolean) {
  const n: Record<string, number> = {};
  for (const [path, file] of Object.entries(report.files)) {
    if (!match(path.replaceAll('\\', '/'))) continue;
    for (const m of file.mutants) n[m.status] = (n[m.status] ?? 0) + 1;
  }
  const get = (s: string) => n[s] ?? 0;
  // Stryker's definition: detected / (detected + undetected); compile and runtime errors do not count.
  const detected = get('Killed') + get('Timeout');
  const undetected = get('Survived') + get('NoCoverage');
  const pct = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
  return { pct, line: `${pct.toFixed(1)}% (killed ${get('Killed')}, timeout ${get('Timeout')}, survived ${get('Survived')}, no coverage ${get('NoCoverage')}, ignored ${get('Ignored')}, errors ${get('CompileError') + get('RuntimeError')})` };
}

// --survivors lists what the tests did not catch, as path:line:column mutator → replacement.
if (process.argv.includes('--survivors')) {
  for (const [path, file] of Object.entries(report.files)) {
    for (const m of file.mutants) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      console.log(`${path}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} → ${(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 120)}`);
    }
  }
}

let domain = 0;
for (const [name, match] of groups) {
  const s = score(match);
  if (name === 'src/domain') domain = s.pct;
  console.log(`mutation score ${name}: ${s.line}`);
}
if (domain < DOMAIN_MIN) process.exitCode = 1;
