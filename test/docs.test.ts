// The README and docs/ hold up: every page is reachable from the index, every link and anchor leads
// somewhere, and every command they show names what exists (npm scripts, files) and parses (the
// tidb-steward CLI with its flags, through the CLI's and the service's own parsers).
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../src/cli/args.ts';
import { loadConfig } from '../src/config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const text = (page: string) => readFileSync(join(ROOT, page), 'utf8');
const scripts = Object.keys((JSON.parse(text('package.json')) as { scripts: Record<string, string> }).scripts);

/** GitHub's anchor of a heading. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
const anchors = (page: string) => new Set(text(page).split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ''))));

/** Shell lines of the fenced sh blocks, and the inline `code` that starts like a command. */
function commands(page: string): string[] {
  const out: string[] = [];
  const body = text(page);
  for (const m of body.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of m[1]!.replace(/\\\n\s*/g, ' ').split('\n')) {
      const line = raw.replace(/\s+#(?![^']*'[^']*$).*$/, '').trim();
      if (line && !line.startsWith('#')) out.push(line);
    }
  }
  for (const m of body.replace(/```[\s\S]*?```/g, '').matchAll(/`((?:npm |npx |(?:kubectl )?tidb-steward (?:drain-plan|status))[^`]*)`/g)) out.push(m[1]!.replace(/\s+/g, ' '));
  return out;
}

/** A command line's words, quotes removed (no shell features beyond quoting are used in the docs). */
const words = (line: string) => [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);

t.test('every page under docs/ is linked from the index, and the README links the index', async (t) => {
  const index = text('docs/README.md');
  for (const page of PAGES.filter((p) => p.startsWith('docs/') && p !== 'docs/README.md')) t.match(index, `](${page.slice('docs/'.length)})`, `docs/README.md links ${page}`);
  t.match(text('README.md'), '](docs/README.md)');
});

t.test('links and anchors lead somewhere', async (t) => {
  let checked = 0;
  for (const page of PAGES) {
    for (const m of text(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const path = file ? normalize(join(dirname(page), file)) : page;
      t.ok(existsSync(join(ROOT, path)), `${page}: ${target} exists`);
      if (anchor && path.endsWith('.md') && existsSync(join(ROOT, path))) t.ok(anchors(path).has(anchor), `${page}: ${target} names a heading of ${path}`);
      checked++;
    }
  }
  t.ok(checked > 20, `${checked} links checked`);
});

t.test('the README stays short enough to read in five minutes', async (t) => {
  const lines = text('README.md').split('\n').length;
  t.ok(lines <= 80, `README.md has ${lines} lines`);
});

t.test('commands name what exists and parse', async (t) => {
  let checked = 0;
  for (const page of PAGES) {
    for (const line of commands(page)) {
      const w = words(line.replace(/^[A-Z_]+=\S+ /, ''));
      const where = `${page}: ${line}`;
      // Files and folders of this repository named anywhere in the command.
      for (const p of w.filter((x, i) => /^(src|test|manifests|bin|docs)\/[\w./-]*$/.test(x) && w[i - 1] !== '--out')) t.ok(existsSync(join(ROOT, p)), `${where}: ${p} exists`);
      if (w[0] === 'npm' && w[1] === 'run') t.ok(scripts.includes(w[2]!), `${where}: npm script ${w[2]} exists`);
      else if (w[0] === 'npm') t.ok(['ci', 'test', 'start'].includes(w[1]!), `${where}: npm ${w[1]}`);
      const cli = w[0] === 'npx' && w[1] === 'tidb-steward' ? w.slice(2) : w[0] === 'kubectl' && w[1] === 'tidb-steward' ? w.slice(2) : w[0] === 'tidb-steward' ? w.slice(1) : w.includes('src/cli/main.ts') ? w.slice(w.indexOf('src/cli/main.ts') + 1) : null;
      if (cli && !cli.some((x) => x === '…' || x === '...')) {
        let args;
        try {
          args = parseArgs(cli);
        } catch (err) {
          t.fail(`${where}: ${(err as Error).message}`);
          continue;
        }
        t.not(args.command.name, 'help', `${where}: a command`);
        t.doesNotThrow(() => loadConfig(args.serviceArgs, {}), `${where}: its flags are the service's`);
      }
      if (w[0] === 'npx' && w[1] !== 'tidb-steward') t.ok(['tap', 'node', 'stryker'].includes(w[1]!), `${where}: npx ${w[1]} is a dev dependency`);
      checked++;
    }
  }
  t.ok(checked > 30, `${checked} commands checked`);
});
