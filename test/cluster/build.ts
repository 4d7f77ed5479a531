// npm run cluster:build [-- --only a,b]
// Builds the pinned binaries from the Go module proxy into the per-user cache, once per version:
// ${TIDB_STEWARD_CACHE:-~/.cache/tidb-steward}/bin/<name>-<version>/<name>. Only the Go wrapper
// modules (go.mod, go.sum, tools.go) live in the repository; no upstream code is copied.
// Each binary is built to a temporary name and renamed when complete, so an interrupted build never
// leaves a half-written binary behind. Go's output goes to ${cache}/logs/build-<name>-<version>.log.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTROL_PLANE, RECIPES } from './binaries.ts';
import { CACHE, GO_MODULES, binaryPath } from './paths.ts';
import type { BinaryRecipe } from './recipe.ts';
import { duration, historyOf, secondsLeft, type BuiltSoFar } from './build-progress.ts';

const say = (msg: string) => process.stdout.write(`[build] ${msg}\n`);
const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

/** Directory next to the kwok binary holding the stage files of its release (see kwokStageFiles). */
export const kwokStageDir = (recipe: Pick<BinaryRecipe, 'name' | 'version'>) => join(dirname(binaryPath(recipe)), 'stages');

export interface GoToolchain {
  /** Absolute path or command name of the go binary. */
  go: string;
  /** e.g. "1.26.8" */
  version: string;
}

/** Finds Go: $GO when set (and only it), else `go` on PATH, else /usr/local/go/bin/go. Null when there is none. */
export function findGo(): GoToolchain | null {
  const candidates = process.env.GO ? [process.env.GO] : ['go', '/usr/local/go/bin/go'];
  for (const go of candidates) {
    const r = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
    if (r.status === 0 && r.stdout.trim().startsWith('go')) return { go, version: r.stdout.trim().slice(2) };
  }
  return null;
}

const GO_INSTALL_HINT =
  'Install Go 1.26 or newer: download it from https://go.dev/dl/ and unpack it to /usr/local/go ' +
  '(tar -C /usr/local -xzf go1.26.*.linux-amd64.tar.gz), then put /usr/local/go/bin on PATH, or set GO=/path/to/go.';

/** Environment for every go command the harness runs. */
export function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' };
}

function versionAtLeast(have: string, want: string): boolean {
  const a = have.split(/[.a-z]/).map((x) => Number(x) || 0);
  const b = want.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The `go` directive of a wrapper module. */
function goDirective(module: string): string | null {
  const mod = readFileSync(join(GO_MODULES, module, 'go.mod'), 'utf8');
  return /^go\s+(\S+)/m.exec(mod)?.[1] ?? null;
}

export interface BuildResult {
  name: string;
  version: string;
  path: string;
  /** Milliseconds spent building, or null when the binary was already cached. */
  ms: number | null;
}

/** Where the whole build stands, for the progress lines. */
export interface Overall {
  /** This binary's place among the ones to build, e.g. "2 of 6". */
  place: string;
  /** Seconds still to go after this binary, when it ends. */
  afterThis: number;
  started: number;
}

/** Builds one recipe unless cached; returns the binary path. Throws with the tail of go's output. */
export async function buildOne(recipe: BinaryRecipe, toolchain: GoToolchain | null = findGo(), overall?: Overall): Promise<BuildResult> {
  const out = binaryPath(recipe);
  const label = `${recipe.name} ${recipe.version}`;
  if (existsSync(out)) {
    if (recipe.name === 'kwok' && !existsSync(kwokStageDir(recipe)) && toolchain) copyKwokStages(recipe, toolchain);
    return { name: recipe.name, version: recipe.version, path: out, ms: null };
  }
  if (!toolchain) throw new Error(`${label} is not built yet and Go was not found. ${GO_INSTALL_HINT}`);
  const want = goDirective(recipe.module);
  if (want && !versionAtLeast(toolchain.version, want)) {
    throw new Error(`${label} needs Go ${want} or newer (test/cluster/go/${recipe.module}/go.mod); ${toolchain.go} is go${toolchain.version}. ${GO_INSTALL_HINT}`);
  }
  const moduleDir = join(GO_MODULES, recipe.module);
  mkdirSync(dirname(out), { recursive: true });
  const logFile = join(CACHE, 'logs', `build-${recipe.name}-${recipe.version}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const args = ['build', '-v', '-trimpath', '-o', tmp];
  if (recipe.tags?.length) args.push('-tags', recipe.tags.join(','));
  args.push('-ldflags', ['-s -w', ...(recipe.ldflags ?? [])].join(' '));
  args.push(recipe.pkg);
  const started = Date.now();
  say(`${overall ? `[${overall.place}] ` : ''}${label} ... building ${recipe.pkg} (log: ${logFile})`);
  const log = createWriteStream(logFile);
  log.write(`# cd ${moduleDir} && GOTOOLCHAIN=local GOFLAGS='-mod=mod -buildvcs=false' CGO_ENABLED=0 ${toolchain.go} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}\n`);
  let packages = 0;
  const ticker = setInterval(() => {
    const whole = overall ? `; whole build ${duration((Date.now() - overall.started) / 1000)} so far, about ${duration(overall.afterThis)} after this one` : '';
    say(`${label} ... ${secs(Date.now() - started)} (${packages} packages so far${whole})`);
  }, 60_000);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(toolchain.go, args, { cwd: moduleDir, env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.on('data', (chunk: Buffer) => {
      // `go build -v` names each package as it is compiled: a progress count for the ticker.
      for (const line of chunk.toString().split('\n')) if (line && !line.startsWith('go: ') && !line.includes(' ')) packages++;
    });
    child.stderr.pipe(log, { end: false });
    child.on('close', (c) => resolve(c ?? 1));
    child.on('error', (err) => {
      log.write(`${err.message}\n`);
      resolve(127);
    });
  });
  clearInterval(ticker);
  await new Promise((r) => log.end(r));
  if (code !== 0) {
    rmSync(tmp, { force: true });
    const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
    throw new Error(`building ${label} failed (go exited with ${code}). Last 30 lines of go's output:\n${tail}\nFull log: ${logFile}`);
  }
  renameSync(tmp, out);
  const ms = Date.now() - started;
  const mb = Math.round(statSync(out).size / 1e6);
  say(`${label} ... ${secs(ms)} (built, ${mb} MB, ${packages} packages)`);
  appendFileSync(join(CACHE, 'logs', 'build-times.jsonl'), `${JSON.stringify({ at: new Date().toISOString(), name: recipe.name, version: recipe.version, seconds: ms / 1000, go: toolchain.version })}\n`);
  if (recipe.name === 'kwok') copyKwokStages(recipe, toolchain);
  return { name: recipe.name, version: recipe.version, path: out, ms };
}

/**
 * kwok's default behaviour (nodes become Ready and keep a Lease, pods become Running, deleted pods go
 * away) is defined by stage files in its module's kustomize/stage folder, not compiled in. They are
 * copied next to the binary, so the cached bin/ folder is all cluster:up needs.
 */
function copyKwokStages(recipe: BinaryRecipe, toolchain: GoToolchain): void {
  const download = spawnSync(toolchain.go, ['mod', 'download', '-json', `sigs.k8s.io/kwok@${recipe.version}`], { cwd: join(GO_MODULES, recipe.module), env: goEnv(), encoding: 'utf8' });
  const dir = download.status === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : undefined;
  const src = dir ? join(dir, 'kustomize', 'stage') : '';
  if (!dir || !existsSync(src)) throw new Error(`could not fetch kwok ${recipe.version}'s stage files from the Go module proxy: ${download.stderr.trim()}`);
  const dest = kwokStageDir(recipe);
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  // File by file, YAML only: the module cache is read-only, and its modes must not follow.
  for (const rel of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.yaml')) continue;
    mkdirSync(dirname(join(tmp, rel)), { recursive: true });
    writeFileSync(join(tmp, rel), readFileSync(join(src, rel)));
  }
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
}

/** What Go's caches hold after a build, and how to free them (tidb-steward needs only the binaries). */
function goCacheUse(toolchain: GoToolchain): string {
  const env = spawnSync(toolchain.go, ['env', 'GOMODCACHE', 'GOCACHE'], { encoding: 'utf8', env: goEnv() });
  const [modcache, buildcache] = env.stdout.trim().split('\n');
  const size = (dir: string | undefined) => {
    if (!dir || !existsSync(dir)) return 0;
    const du = spawnSync('du', ['-sk', dir], { encoding: 'utf8' });
    return du.status === 0 ? Number(du.stdout.split(/\s/)[0]) * 1024 : 0;
  };
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  const mod = size(modcache);
  const build = size(buildcache);
  const bin = size(join(CACHE, 'bin'));
  return `disk: the binaries take ${gb(bin)} in ${join(CACHE, 'bin')}; Go's caches hold ${gb(mod + build)} (modules ${gb(mod)} in ${modcache}, build ${gb(build)} in ${buildcache}), needed only to build again: \`go clean -cache -modcache\` frees them`;
}

/** Builds whatever of `names` is missing; Go is needed only then. Prints a summary unless all were cached and quiet. */
export async function buildAll(names: readonly string[], opts: { quiet?: boolean } = {}): Promise<BuildResult[]> {
  const recipes = RECIPES;
  const unknown = names.filter((n) => !recipes[n]);
  if (unknown.length) throw new Error(`unknown binary ${unknown.join(', ')}; known: ${Object.keys(recipes).join(', ')}`);
  const wanted = names.map((n) => recipes[n]!);
  const missing = wanted.filter((r) => !existsSync(binaryPath(r)) || (r.name === 'kwok' && !existsSync(kwokStageDir(r))));
  if (missing.length === 0 && opts.quiet) return wanted.map((r) => ({ name: r.name, version: r.version, path: binaryPath(r), ms: null }));
  const toolchain = missing.length ? findGo() : null;
  if (missing.length && !toolchain) {
    throw new Error(`Go was not found, and ${missing.map((r) => r.name).join(', ')} must be built from the Go module proxy. ${GO_INSTALL_HINT}`);
  }
  const started = Date.now();
  const timesFile = join(CACHE, 'logs', 'build-times.jsonl');
  const history = existsSync(timesFile) ? historyOf(readFileSync(timesFile, 'utf8')) : {};
  const toBuild = missing.map((r) => r.name);
  if (toolchain) {
    say(`go${toolchain.version} (${toolchain.go}); cache ${join(CACHE, 'bin')} (TIDB_STEWARD_CACHE moves it); to build: ${toBuild.join(', ')}`);
    say(`${toBuild.length} to build: about ${duration(secondsLeft([], toBuild, history))} on 2 cores with empty Go caches (${Object.keys(history).length ? 'from this machine\'s earlier builds' : 'a guess until the first binary is done'}); progress every minute`);
  }
  const results: BuildResult[] = [];
  const done: BuiltSoFar[] = [];
  for (const recipe of wanted) {
    const i = toBuild.indexOf(recipe.name);
    const overall = i >= 0 ? { place: `${i + 1} of ${toBuild.length}`, afterThis: secondsLeft(done, toBuild.slice(i + 1), history), started } : undefined;
    const r = await buildOne(recipe, toolchain, overall);
    results.push(r);
    if (r.ms !== null) {
      done.push({ name: r.name, seconds: r.ms / 1000 });
      const rest = toBuild.slice(i + 1);
      if (rest.length) say(`${done.length} of ${toBuild.length} built in ${duration((Date.now() - started) / 1000)}; about ${duration(secondsLeft(done, rest, history))} left (${rest.join(', ')})`);
    }
  }
  const width = Math.max(...results.map((r) => `${r.name} ${r.version}`.length));
  say('summary:');
  for (const r of results) say(`  ${`${r.name} ${r.version}`.padEnd(width)}  ${(r.ms === null ? 'cached' : `built in ${secs(r.ms)}`).padEnd(14)}  ${r.path}`);
  const built = results.filter((r) => r.ms !== null).length;
  say(`${results.length} binaries ready (${built} built, ${results.length - built} cached) in ${secs(Date.now() - started)}`);
  if (built > 0 && toolchain) say(goCacheUse(toolchain));
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const names = values.only
    ? values.only.split(',').map((s) => s.trim()).filter(Boolean)
    : [...new Set([...CONTROL_PLANE, ...Object.keys(RECIPES)])];
  buildAll(names).catch((err: Error) => {
    process.stderr.write(`[build] ${err.message}\n`);
    process.exit(1);
  });
}
