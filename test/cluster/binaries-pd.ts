// PD's binaries for the local test cluster: pd-server and pd-simulator, both PD v8.5.4, built from
// wrapper modules under test/cluster/go/ (go.mod, go.sum, tools.go; no upstream code).
//
// PD's module path has no /v8, so the release is required by its pseudo-version (base tag
// v1.1.0-beta, the last v1 tag before v8.5.4's commit). pd-simulator lives in the nested module
// github.com/tikv/pd/tools, whose go.mod points github.com/tikv/pd and .../client at ../ with local
// replaces; the wrapper replaces both with the published pseudo-versions of the same commit.
//
// Module proxy gap. Where proxy.golang.org answers 403 "This module version is not available" for
// github.com/tikv/pd{,/client,/tools}, github.com/pingcap/tidb-dashboard and this kvproto version
// (true on the machine these were first built on), `node test/cluster/binaries-pd.ts prefetch --from
// <dir with owner+name git repos>` writes exactly those five module versions into a file:// GOPROXY
// (${cache}/goproxy) from local git clones, with our own tool in go/pd-server/modproxy (x/mod/zip,
// same file selection as the public proxy, so the go.sum lines are the public ones), then downloads
// both wrapper modules into GOMODCACHE. After that the generic builder (build.ts) needs no network for
// PD. Where the public proxy serves PD, nothing of this is needed.
//
// Usage: node test/cluster/binaries-pd.ts [prefetch [--from DIR]] [build] [version]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CACHE, GO_MODULES, binaryPath } from './paths.ts';
import type { BinaryRecipe } from './recipe.ts';

export const PD_VERSION = 'v8.5.4';
export const PD_COMMIT = 'ab1848b1274bfef46e949b9056c98c57aaf3da34';
/** Canonical module versions of PD_COMMIT (UTC commit time 2025-11-18 01:42:34). */
export const PD_MODULE_VERSION = 'v1.1.0-beta.0.20251118014234-ab1848b1274b';
export const PD_SUBMODULE_VERSION = 'v0.0.0-20251118014234-ab1848b1274b';

// What `pd-server -V` prints (names in pkg/versioninfo/versioninfo.go; Makefile LDFLAGS).
const versionFlags = [
  `-X github.com/tikv/pd/pkg/versioninfo.PDReleaseVersion=${PD_VERSION}`,
  `-X github.com/tikv/pd/pkg/versioninfo.PDGitHash=${PD_COMMIT}`,
  `-X github.com/tikv/pd/pkg/versioninfo.PDGitBranch=heads/refs/tags/${PD_VERSION}`,
];

export const pdRecipes: BinaryRecipe[] = [
  {
    name: 'pd-server',
    version: PD_VERSION,
    module: 'pd-server',
    pkg: 'github.com/tikv/pd/cmd/pd-server',
    tags: ['without_dashboard'],
    ldflags: versionFlags,
  },
  {
    name: 'pd-simulator',
    version: PD_VERSION,
    module: 'pd-simulator',
    pkg: 'github.com/tikv/pd/tools/pd-simulator',
    ldflags: versionFlags,
  },
];

export type PdBinary = 'pd-server' | 'pd-simulator';

/** Cache path of a PD binary: ${TIDB_STEWARD_CACHE:-~/.cache/tidb-steward}/bin/<name>-<version>/<name>. */
export function pdBinaryPath(name: PdBinary): string {
  const recipe = pdRecipes.find((r) => r.name === name);
  if (!recipe) throw new Error(`unknown PD binary ${name}`);
  return binaryPath(recipe);
}

/** Like pdBinaryPath, but throws with the command that builds it when it is missing. */
export function requirePdBinary(name: PdBinary): string {
  const path = pdBinaryPath(name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing; build it with: npm run cluster:build -- --only pd-server,pd-simulator (or node test/cluster/binaries-pd.ts build)`);
  }
  return path;
}

/** file:// GOPROXY holding the module versions the public proxy may refuse. */
export const LOCAL_GOPROXY = join(CACHE, 'goproxy');

/** The module versions the local GOPROXY serves, and where their sources come from. */
const LOCAL_MODULES = [
  { path: 'github.com/tikv/pd', version: PD_MODULE_VERSION, repo: 'tikv+pd', rev: PD_COMMIT, subdir: '' },
  { path: 'github.com/tikv/pd/client', version: PD_SUBMODULE_VERSION, repo: 'tikv+pd', rev: PD_COMMIT, subdir: 'client' },
  { path: 'github.com/tikv/pd/tools', version: PD_SUBMODULE_VERSION, repo: 'tikv+pd', rev: PD_COMMIT, subdir: 'tools' },
  { path: 'github.com/pingcap/tidb-dashboard', version: 'v0.0.0-20251001025619-8cfdaf48f4b1', repo: 'pingcap+tidb-dashboard', rev: '8cfdaf48f4b1', subdir: '' },
  { path: 'github.com/pingcap/kvproto', version: 'v0.0.0-20250707084400-caf41f244ad8', repo: 'pingcap+kvproto', rev: 'caf41f244ad8', subdir: '' },
];

/** Go environment for PD: the local file:// GOPROXY first (when filled), then the public proxy. */
export function pdGoEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' };
  if (existsSync(LOCAL_GOPROXY)) {
    env.GOPROXY = `file://${LOCAL_GOPROXY},${process.env.GOPROXY ?? 'https://proxy.golang.org,direct'}`;
    // These versions come from git clones, so sum.golang.org is not asked; go.sum pins them.
    env.GONOSUMDB = [process.env.GONOSUMDB, 'github.com/tikv/pd,github.com/pingcap/tidb-dashboard,github.com/pingcap/kvproto'].filter(Boolean).join(',');
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, input?: string): string {
  const r = spawnSync(cmd, args, { cwd, env, input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

/** Fills LOCAL_GOPROXY from git repositories named <owner>+<name> (bare or not) under `from`. */
export function fillLocalGoproxy(from: string): void {
  const specs = LOCAL_MODULES.map((m) => {
    const base = join(from, m.repo);
    const repo = existsSync(join(base, 'repo')) ? join(base, 'repo') : base;
    if (!existsSync(repo)) throw new Error(`no git repository for ${m.path} at ${base}`);
    return { ...m, repo };
  });
  const tool = join(GO_MODULES, 'pd-server', 'modproxy');
  process.stdout.write(run('go', ['run', '.', '-out', LOCAL_GOPROXY], tool, { ...pdGoEnv(), GOFLAGS: '-mod=mod' }, JSON.stringify(specs)));
}

/** Downloads everything both wrapper modules need into GOMODCACHE (go.sum must already list it). */
export function downloadPdModules(): void {
  for (const r of pdRecipes) run('go', ['mod', 'download'], join(GO_MODULES, r.module), pdGoEnv());
}

/** Builds one PD binary into the cache (without the generic builder); returns its path and seconds. */
export function buildPdBinary(name: PdBinary): { path: string; seconds: number } {
  const recipe = pdRecipes.find((r) => r.name === name)!;
  const out = binaryPath(recipe);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const args = ['build', '-trimpath', '-o', tmp];
  if (recipe.tags?.length) args.push('-tags', recipe.tags.join(','));
  args.push('-ldflags', ['-s -w', ...(recipe.ldflags ?? [])].join(' '), recipe.pkg);
  const started = Date.now();
  try {
    run('go', args, join(GO_MODULES, recipe.module), pdGoEnv());
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  renameSync(tmp, out);
  return { path: out, seconds: (Date.now() - started) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const fromAt = args.indexOf('--from');
  const from = fromAt >= 0 ? args[fromAt + 1] : '/work/.mirror';
  if (args.includes('prefetch')) {
    fillLocalGoproxy(from!);
    downloadPdModules();
    process.stdout.write(`PD modules in GOMODCACHE (local GOPROXY ${LOCAL_GOPROXY})\n`);
  }
  if (args.includes('build')) {
    for (const r of pdRecipes) {
      const path = pdBinaryPath(r.name as PdBinary);
      if (existsSync(path)) {
        process.stdout.write(`${r.name} ${r.version}: cached at ${path}\n`);
        continue;
      }
      process.stdout.write(`${r.name} ${r.version}: building ...\n`);
      const b = buildPdBinary(r.name as PdBinary);
      process.stdout.write(`${r.name} ${r.version}: built in ${Math.round(b.seconds)}s (${Math.round(statSync(b.path).size / 1e6)} MB) at ${b.path}\n`);
    }
  }
  if (args.includes('version')) {
    for (const r of pdRecipes) {
      const path = pdBinaryPath(r.name as PdBinary);
      if (existsSync(path) && r.name === 'pd-server') process.stdout.write(run(path, ['-V'], CACHE, process.env));
    }
  }
}
