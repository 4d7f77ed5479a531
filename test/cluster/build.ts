// npm run cluster:build [-- --only a,b]
// Builds the pinned binaries from the Go module proxy into the per-user cache, once per version, with
// progress. Only Go wrapper modules live in the repository; no upstream code is copied.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTROL_PLANE, RECIPES } from './binaries.ts';
import { CACHE, GO_MODULES, binaryPath } from './paths.ts';
import type { BinaryRecipe } from './recipe.ts';

const say = (msg: string) => process.stdout.write(`[build] ${msg}\n`);

export function goAvailable(): string | null {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Builds one recipe unless cached; returns the binary path. Throws with the tail of go's output. */
export async function buildOne(recipe: BinaryRecipe): Promise<string> {
  const out = binaryPath(recipe);
  if (existsSync(out)) return out;
  const moduleDir = join(GO_MODULES, recipe.module);
  mkdirSync(dirname(out), { recursive: true });
  const logFile = join(CACHE, 'logs', `build-${recipe.name}-${recipe.version}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const args = ['build', '-trimpath', '-o', `${out}.tmp`];
  if (recipe.tags?.length) args.push('-tags', recipe.tags.join(','));
  args.push('-ldflags', ['-s -w', ...(recipe.ldflags ?? [])].join(' '));
  args.push(recipe.pkg);
  const started = Date.now();
  say(`${recipe.name} ${recipe.version}: building (go ${args.slice(0, 2).join(' ')} ... ${recipe.pkg}); log ${logFile}`);
  const ticker = setInterval(() => say(`${recipe.name}: still building, ${Math.round((Date.now() - started) / 1000)}s`), 60_000);
  const log = createWriteStream(logFile);
  const code = await new Promise<number>((resolve) => {
    const child = spawn('go', args, {
      cwd: moduleDir,
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('close', (c) => resolve(c ?? 1));
    child.on('error', () => resolve(127));
  });
  clearInterval(ticker);
  await new Promise((r) => log.end(r));
  if (code !== 0) {
    const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
    throw new Error(`building ${recipe.name} ${recipe.version} failed (exit ${code}). Last lines:\n${tail}\nFull log: ${logFile}`);
  }
  renameSync(`${out}.tmp`, out);
  say(`${recipe.name} ${recipe.version}: built in ${Math.round((Date.now() - started) / 1000)}s`);
  return out;
}

export async function buildAll(names: readonly string[]): Promise<void> {
  const go = goAvailable();
  if (!go) {
    throw new Error('Go is not on PATH. The local control plane builds Kubernetes, etcd, kwok and PD from the Go module proxy: install Go 1.26 (https://go.dev/doc/install, or your package manager) and try again.');
  }
  const started = Date.now();
  say(`${go}; cache ${join(CACHE, 'bin')} (set TIDB_STEWARD_CACHE to move it)`);
  for (const name of names) {
    const recipe = RECIPES[name];
    if (!recipe) throw new Error(`unknown binary ${name}; known: ${Object.keys(RECIPES).join(', ')}`);
    if (existsSync(binaryPath(recipe))) {
      say(`${name} ${recipe.version}: cached`);
      continue;
    }
    await buildOne(recipe);
  }
  say(`all ${names.length} binaries ready in ${Math.round((Date.now() - started) / 1000)}s`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const names = values.only ? values.only.split(',').map((s) => s.trim()) : [...CONTROL_PLANE];
  buildAll(names).catch((err: Error) => {
    process.stderr.write(`[build] ${err.message}\n`);
    process.exit(1);
  });
}
