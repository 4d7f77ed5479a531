// Real PD for tests, from binaries the user brings (PD_BIN_DIR, see pdBinaries()): a pd-server cluster on 127.0.0.1 whose member names are the PD pod names, a
// pd-simulator standing in for the TiKV stores, and followPods(), which keeps both in step with the
// pods of a TidbCluster in the local control plane (a deleted PD pod stops its member, the pod
// Running again starts it with its data, as a pod with a PersistentVolume would), and with
// `membership` also who is a member: members join (pd-server `join`) and leave (removed through PD's
// API) at run time, and new TiKV pods get new simulated stores.
//
// Everything listens on 127.0.0.1. Ports: member i serves clients on basePort+2i and peers on
// basePort+2i+1 (default 12379: 12379/12380, 12381/12382, ...), clear of etcd's 2379/2380 and
// 32379/32380. Each member has its data dir, generated TOML config and log under dataRoot.
//
// Store <-> pod: pd-simulator registers stores as `mock:://tikv-<id>`, which no pod name can prefix,
// so startSimulator() labels store i (ascending id) `pod=<cluster>-tikv-<i>` through
// POST /pd/api/v1/store/{id}/label; the product finds a TiKV pod's store by address host
// `<pod>.` first and by that label second.
import { CoreV1Api, KubeConfig, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { portFree, portOwner } from './procs.ts';

/** The PD release line the harness and the recorded fixtures are made for. */
export const PD_RELEASE = 'v8.5';

const WHERE_TO_GET_PD =
  'PD_BIN_DIR must name a folder holding pd-server and pd-simulator of PD v8.5.x. pd-server: tiup\'s `pd` ' +
  'component (`tiup install pd:v8.5.4`, then copy pd-server from ~/.tiup/components/pd/v8.5.4/) or the ' +
  '`pingcap/pd:v8.5.4` image (its /pd-server). pd-simulator ships with neither: `make simulator` in a ' +
  'checkout of PD\'s v8.5.4 tag puts it in bin/. Without PD_BIN_DIR the tests and the demo use the PD stand-in.';

export interface PdBinaries {
  dir: string;
  pdServer: string;
  pdSimulator: string;
  /** e.g. "v8.5.4", from `pd-server -V`. */
  version: string;
  /** The Git hash `pd-server -V` prints. */
  gitHash: string;
}

let checked: PdBinaries | null = null;

/** PD_BIN_DIR when set (and not empty), else null. */
export function pdBinDir(): string | null {
  const dir = process.env.PD_BIN_DIR?.trim();
  return dir ? dir : null;
}

function executable(path: string): string | null {
  if (!existsSync(path)) return 'is missing';
  if (!statSync(path).isFile()) return 'is not a file';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'is not executable (chmod +x it)';
  }
  return null;
}

/**
 * The two PD binaries from PD_BIN_DIR, checked once per process: both present and executable, and
 * `pd-server -V` naming a v8.5 release. Throws with what was found, what is expected and where to get
 * PD when anything is off.
 */
export function pdBinaries(): PdBinaries {
  const dir = pdBinDir();
  if (checked && checked.dir === dir) return checked;
  if (!dir) throw new Error(`PD_BIN_DIR is not set. ${WHERE_TO_GET_PD}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`PD_BIN_DIR=${dir} is not a folder. ${WHERE_TO_GET_PD}`);
  const pdServer = join(dir, 'pd-server');
  const pdSimulator = join(dir, 'pd-simulator');
  const problems = [
    [pdServer, executable(pdServer)],
    [pdSimulator, executable(pdSimulator)],
  ].filter(([, p]) => p !== null);
  if (problems.length) throw new Error(`${problems.map(([f, p]) => `${f} ${p}`).join('; ')}. ${WHERE_TO_GET_PD}`);
  const r = spawnSync(pdServer, ['-V'], { encoding: 'utf8', timeout: 10_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.status !== 0 || !/Release Version:/.test(out)) {
    throw new Error(`${pdServer} -V did not print a PD version (exit ${r.status ?? r.signal ?? r.error?.message}): ${out.slice(0, 300) || '(no output)'}. Is it pd-server? ${WHERE_TO_GET_PD}`);
  }
  const version = /Release Version:\s*(\S+)/.exec(out)?.[1] ?? '';
  if (!version.startsWith(`${PD_RELEASE}.`)) {
    throw new Error(`${pdServer} is PD ${version || '(no release version)'}; expected ${PD_RELEASE}.x (the release the stand-in and the fixtures in test/fixtures/pd/ are held to). ${WHERE_TO_GET_PD}`);
  }
  checked = { dir, pdServer, pdSimulator, version, gitHash: /Git Commit Hash:\s*(\S+)/.exec(out)?.[1] ?? '' };
  return checked;
}

export const PD_BASE_PORT = 12379 + Number(process.env.TIDB_STEWARD_PORT_OFFSET ?? 0);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** PD test tuning (server/config/config.go keys; PD's defaults in the comments). */
export interface PdTuning {
  /** Leader lease in seconds (`lease`, default 5). */
  lease: number;
  /** etcd raft tick (`tick-interval`, default 500ms). */
  tickInterval: string;
  /** etcd election timeout (`election-interval`, default 3s). */
  electionInterval: string;
  /** Raw TOML appended to every member's config. */
  extraToml?: string;
}

export const TEST_TUNING: PdTuning = { lease: 3, tickInterval: '100ms', electionInterval: '1s' };

export interface PdClusterOptions {
  namespace: string;
  cluster: string;
  /** Member names, equal to the PD pod names, e.g. basic-pd-0..2. */
  names: string[];
  /** Parent of each member's data dir, config and log. */
  dataRoot: string;
  basePort?: number;
  /** Remove earlier data first (pd-simulator needs a PD that was never bootstrapped). Default true. */
  fresh?: boolean;
  tuning?: Partial<PdTuning>;
  /** How long to wait for the cluster to elect a leader and report every member healthy. */
  timeoutMs?: number;
}

export interface PdCluster {
  namespace: string;
  cluster: string;
  /** Current members' names (those started with the cluster, plus added, minus removed). */
  readonly names: readonly string[];
  /** Client URLs, in member order. */
  readonly endpoints: string[];
  urlOf(name: string): string;
  /** Stops a member: SIGTERM (PD resigns its leadership), SIGKILL after graceMs; `kill` for a crash. */
  stop(name: string, opts?: { kill?: boolean; graceMs?: number }): Promise<void>;
  /** Starts a stopped member again with its data and waits until the cluster reports it healthy. */
  start(name: string, opts?: { wait?: boolean; timeoutMs?: number }): Promise<void>;
  isRunning(name: string): boolean;
  /** Name of the current PD leader, asked of any running member. Throws when none answers. */
  leader(opts?: { timeoutMs?: number }): Promise<string>;
  /** Waits until a leader is elected and every running member reports healthy. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stopAll(): Promise<void>;
  logOf(name: string): string;
  dataDirOf(name: string): string;
  /**
   * A new member at run time: a pd-server started with `join` (the running members' client URLs) and
   * an empty data dir, so PD adds it to its etcd membership itself (MemberAdd) and hands it the
   * initial cluster; a restart later finds both in its data dir. Its ports are those of member
   * `index` (default: the next free one). Waits until PD reports it healthy unless `wait: false`.
   */
  add(name: string, opts?: { index?: number; wait?: boolean; timeoutMs?: number }): Promise<void>;
  /**
   * Forgets a member that was removed from PD's membership (DELETE /pd/api/v1/members/name/<name>):
   * stops its pd-server if it still runs and drops its data dir, which etcd would refuse to start
   * from again. It is no longer in `names`.
   */
  remove(name: string): Promise<void>;
  /** Member names as PD lists them (GET /pd/api/v1/members, asked of any running member). */
  memberNames(): Promise<string[]>;
}

interface Member {
  name: string;
  index: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  config: string;
  log: string;
  child: ChildProcess | null;
  /** Client URLs of the members to join through; empty for a member of the initial cluster. */
  join: string[];
}

// Children of this process are killed when it exits, whichever way the test ends.
const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
}

function lastLines(file: string, n = 25): string {
  if (!existsSync(file)) return '(no log yet)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
}

/** GET/POST with a timeout; resolves to status and parsed body (text when not JSON). */
export async function pdRequest(url: string, opts: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; text: string; json: unknown }> {
  const res = await fetch(url, {
    method: opts.method ?? 'GET',
    signal: AbortSignal.timeout(opts.timeoutMs ?? 2000),
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, text, json };
}

/** Processes of an earlier run that are still using files under `root` (a crashed test). */
function strays(root: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if ((cmd.includes('pd-server') || cmd.includes('pd-simulator')) && cmd.includes(`${root}/`)) found.push(pid);
  }
  return found;
}

async function killStrays(root: string): Promise<void> {
  const pids = strays(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  if (pids.length) await sleep(300);
}

function memberToml(m: Member, all: Member[], opts: PdClusterOptions, tuning: PdTuning): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    `# Generated by test/cluster/pd.ts for ${opts.namespace}/${opts.cluster}.`,
    `name = ${q(m.name)}`,
    `data-dir = ${q(m.dataDir)}`,
    `client-urls = ${q(m.clientUrl)}`,
    `advertise-client-urls = ${q(m.clientUrl)}`,
    `peer-urls = ${q(m.peerUrl)}`,
    `advertise-peer-urls = ${q(m.peerUrl)}`,
    // Used only on the first start; a restart finds its membership in data-dir. A joining member
    // names the cluster to join instead: PD adds it and derives its initial cluster from that.
    ...(m.join.length
      ? [`join = ${q(m.join.join(','))}`]
      : [`initial-cluster = ${q(all.map((x) => `${x.name}=${x.peerUrl}`).join(','))}`, `initial-cluster-state = "new"`]),
    `initial-cluster-token = ${q(`${opts.namespace}/${opts.cluster}`)}`,
    `lease = ${tuning.lease}`,
    `tick-interval = ${q(tuning.tickInterval)}`,
    `election-interval = ${q(tuning.electionInterval)}`,
    '',
    '[log]',
    'level = "info"',
    '',
    tuning.extraToml ?? '',
    '',
  ].join('\n');
}

export async function startPdCluster(opts: PdClusterOptions): Promise<PdCluster> {
  const { names, dataRoot } = opts;
  if (names.length < 1) throw new Error('startPdCluster: no member names');
  if (new Set(names).size !== names.length) throw new Error(`startPdCluster: duplicate member names in ${names.join(', ')}`);
  const basePort = opts.basePort ?? PD_BASE_PORT;
  const tuning: PdTuning = { ...TEST_TUNING, ...opts.tuning };
  const binary = pdBinaries().pdServer;
  await killStrays(dataRoot);
  if (opts.fresh ?? true) rmSync(dataRoot, { recursive: true, force: true });
  mkdirSync(dataRoot, { recursive: true });

  const makeMember = (name: string, index: number, joinUrls: string[]): Member => ({
    name,
    index,
    clientUrl: `http://127.0.0.1:${basePort + 2 * index}`,
    peerUrl: `http://127.0.0.1:${basePort + 2 * index + 1}`,
    dataDir: join(dataRoot, name),
    config: join(dataRoot, `${name}.toml`),
    log: join(dataRoot, `${name}.log`),
    child: null,
    join: joinUrls,
  });
  const checkPorts = async (m: Member) => {
    for (const url of [m.clientUrl, m.peerUrl]) {
      const port = Number(new URL(url).port);
      if (!(await portFree(port))) throw new Error(`PD member ${m.name} needs 127.0.0.1:${port}, which is taken by ${portOwner(port) ?? 'another process'}`);
    }
  };
  const members: Member[] = names.map((name, index) => makeMember(name, index, []));
  const initial = [...members];
  for (const m of members) {
    await checkPorts(m);
    writeFileSync(m.config, memberToml(m, initial, opts, tuning));
  }
  const byName = (name: string): Member => {
    const m = members.find((x) => x.name === name);
    if (!m) throw new Error(`no PD member ${name} (members: ${members.map((x) => x.name).join(', ')})`);
    return m;
  };

  const spawnMember = (m: Member) => {
    if (m.child && m.child.exitCode === null && m.child.signalCode === null) return;
    stopped.delete(m.name);
    mkdirSync(m.dataDir, { recursive: true });
    const fd = openSync(m.log, 'a');
    writeFileSync(fd, `\n# ${new Date().toISOString()} starting ${binary} --config=${m.config}\n`);
    const child = spawn(binary, [`--config=${m.config}`], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    track(child);
    m.child = child;
  };
  const running = (m: Member) => m.child !== null && m.child.exitCode === null && m.child.signalCode === null;

  const health = async (): Promise<Map<string, boolean>> => {
    for (const m of members.filter(running)) {
      try {
        const r = await pdRequest(`${m.clientUrl}/pd/api/v1/health`, { timeoutMs: 1000 });
        if (r.status === 200 && Array.isArray(r.json)) {
          return new Map((r.json as Array<{ name: string; health: boolean }>).map((h) => [h.name, h.health]));
        }
      } catch {
        // next member
      }
    }
    return new Map();
  };

  const leader = async (o: { timeoutMs?: number } = {}): Promise<string> => {
    const errors: string[] = [];
    for (const m of members.filter(running)) {
      try {
        const r = await pdRequest(`${m.clientUrl}/pd/api/v1/leader`, { timeoutMs: o.timeoutMs ?? 1000 });
        const name = (r.json as { name?: string } | undefined)?.name;
        if (r.status === 200 && name) return name;
        errors.push(`${m.name}: HTTP ${r.status} ${r.text.slice(0, 120)}`);
      } catch (err) {
        errors.push(`${m.name}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no PD leader: ${errors.join('; ') || 'no member is running'}`);
  };

  const explain = (what: string, ms: number) => {
    const parts = members.map((m) => {
      const state = running(m) ? 'running' : m.child ? `exited (${m.child.exitCode ?? m.child.signalCode})` : 'stopped';
      return `--- ${m.name} (${state}), log ${m.log}:\n${lastLines(m.log)}`;
    });
    return new Error(`PD ${opts.namespace}/${opts.cluster}: ${what} within ${Math.round(ms / 1000)}s.\n${parts.join('\n')}`);
  };

  const waitHealthy = async (timeoutMs = opts.timeoutMs ?? 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = members.filter(running);
      // Members stopped on purpose (stop()) are not failures; only a crash is.
      const exited = members.filter((m) => m.child && !running(m) && !stopping.has(m.name) && !stopped.has(m.name));
      if (exited.length) throw explain(`${exited.map((m) => m.name).join(', ')} exited`, timeoutMs - (deadline - Date.now()));
      const h = await health();
      if (up.every((m) => h.get(m.name) === true)) {
        try {
          await leader();
          return;
        } catch {
          // not yet
        }
      }
      await sleep(200);
    }
    throw explain('no leader with every running member healthy', timeoutMs);
  };

  const stopping = new Set<string>();
  const stopped = new Set<string>();
  const stop = async (name: string, o: { kill?: boolean; graceMs?: number } = {}) => {
    const m = byName(name);
    const child = m.child;
    if (!child || !running(m)) return;
    stopping.add(name);
    stopped.add(name);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(o.kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), o.graceMs ?? 10_000);
    await exited;
    clearTimeout(timer);
    stopping.delete(name);
  };

  const waitMember = async (m: Member, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!running(m)) throw explain(`${m.name} exited on its way to ${what}`, timeoutMs);
      if ((await health()).get(m.name) === true) return;
      await sleep(200);
    }
    throw explain(`${m.name} did not ${what}`, timeoutMs);
  };

  const memberNames = async (): Promise<string[]> => {
    const errors: string[] = [];
    for (const m of members.filter(running)) {
      try {
        const r = await pdRequest(`${m.clientUrl}/pd/api/v1/members`, { timeoutMs: 1000 });
        const list = (r.json as { members?: Array<{ name?: string }> } | undefined)?.members;
        if (r.status === 200 && Array.isArray(list)) return list.map((x) => x.name ?? '').filter(Boolean).sort();
        errors.push(`${m.name}: HTTP ${r.status} ${r.text.slice(0, 120)}`);
      } catch (err) {
        errors.push(`${m.name}: ${(err as Error).message}`);
      }
    }
    throw new Error(`GET /pd/api/v1/members: ${errors.join('; ') || 'no member is running'}`);
  };

  const cluster: PdCluster = {
    namespace: opts.namespace,
    cluster: opts.cluster,
    get names() {
      return members.map((m) => m.name);
    },
    get endpoints() {
      return members.map((m) => m.clientUrl);
    },
    urlOf: (name) => byName(name).clientUrl,
    stop,
    async start(name, o = {}) {
      const m = byName(name);
      spawnMember(m);
      if (o.wait === false) return;
      await waitMember(m, 'rejoin', o.timeoutMs ?? 60_000);
    },
    isRunning: (name) => running(byName(name)),
    leader,
    waitHealthy,
    async stopAll() {
      await Promise.all(members.map((m) => stop(m.name)));
    },
    logOf: (name) => byName(name).log,
    dataDirOf: (name) => byName(name).dataDir,
    memberNames,
    async add(name, o = {}) {
      if (members.some((x) => x.name === name)) throw new Error(`PD member ${name} exists already`);
      const index = o.index ?? Math.max(-1, ...members.map((x) => x.index)) + 1;
      const clash = members.find((x) => x.index === index);
      if (clash) throw new Error(`PD member ${name}: ports of index ${index} are ${clash.name}'s`);
      const joinUrls = members.filter(running).map((x) => x.clientUrl);
      if (!joinUrls.length) throw new Error(`PD member ${name} cannot join: no member is running`);
      const m = makeMember(name, index, joinUrls);
      await checkPorts(m);
      // join with data does nothing; a member must join with an empty data dir.
      rmSync(m.dataDir, { recursive: true, force: true });
      writeFileSync(m.config, memberToml(m, initial, opts, tuning));
      members.push(m);
      spawnMember(m);
      if (o.wait === false) return;
      // etcd refuses a MemberAdd while the member asked has not been connected to all its peers for a
      // while (strict reconfiguration check; "join meet error ... unhealthy cluster"), and pd-server
      // then exits: start it again, as a kubelet restarts a crashed container.
      const timeoutMs = o.timeoutMs ?? 60_000;
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 1; ; attempt++) {
        try {
          await waitMember(m, 'join', Math.max(1000, deadline - Date.now()));
          return;
        } catch (err) {
          const refused = !running(m) && /join meet error/.test(lastLines(m.log, 5)) && !existsSync(join(m.dataDir, 'member'));
          if (!refused || attempt >= 10 || Date.now() > deadline) throw err;
          await sleep(1000);
          spawnMember(m);
        }
      }
    },
    async remove(name) {
      const m = byName(name);
      await stop(name, { graceMs: 3000 });
      members.splice(members.indexOf(m), 1);
      stopped.delete(name);
      rmSync(m.dataDir, { recursive: true, force: true });
    },
  };

  for (const m of members) spawnMember(m);
  try {
    await waitHealthy();
  } catch (err) {
    await cluster.stopAll();
    throw err;
  }
  return cluster;
}

/** STEWARD_PD_ENDPOINTS for tidb-steward: `{"<namespace>/<cluster>": [client URLs]}`. */
export function stewardPdEndpoints(...clusters: Array<Pick<PdCluster, 'namespace' | 'cluster' | 'endpoints'>>): string {
  return JSON.stringify(Object.fromEntries(clusters.map((c) => [`${c.namespace}/${c.cluster}`, c.endpoints])));
}

// ---------------------------------------------------------------------------------------------
// pd-simulator

export interface SimulatorOptions {
  pdEndpoints: string[];
  stores: number;
  regions: number;
  /** Status server (metrics, /event), e.g. 127.0.0.1:12400. The simulator's default is 0.0.0.0:20180. */
  statusAddr: string;
  /** Config, log and the simulator's temp dir go here. */
  dir: string;
  /** Store i (ascending id) gets label pod=<cluster>-tikv-<i> when set. */
  cluster?: string;
  /** `[raftstore] pd-heartbeat-tick-interval` (region heartbeats; simulator default 1m). */
  regionHeartbeat?: string;
  /** `[raftstore] pd-store-heartbeat-tick-interval` (store heartbeats; default 10s). */
  storeHeartbeat?: string;
  timeoutMs?: number;
}

export interface SimStore {
  id: number;
  address: string;
  /** The TiKV pod this store stands for, when labelled. */
  pod: string | null;
}

export interface Simulator {
  statusUrl: string;
  log: string;
  stores: SimStore[];
  storeOf(pod: string): SimStore | undefined;
  isRunning(): boolean;
  /**
   * Status-server event `down-node`: the simulator deletes the store in PD (DELETE /store/{id}, so it
   * goes Offline and later Tombstone), stops the node and marks its peers down. Irreversible.
   */
  downNode(storeId: number): Promise<void>;
  /** Status-server event `add-node`: a new store with a new id (PD allocates it). Resolves to it. */
  addNode(pod?: string): Promise<SimStore>;
  stop(): Promise<void>;
}

export interface StoreInfo {
  store: { id: number; address: string; state_name: string; labels?: Array<{ key: string; value: string }> };
  status: { leader_count?: number; region_count?: number };
}

export async function getStores(endpoint: string, timeoutMs = 2000): Promise<StoreInfo[]> {
  const r = await pdRequest(`${endpoint}/pd/api/v1/stores`, { timeoutMs });
  if (r.status !== 200) throw new Error(`GET /pd/api/v1/stores: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  return ((r.json as { stores?: StoreInfo[] }).stores ?? []).slice().sort((a, b) => a.store.id - b.store.id);
}

/** The first endpoint that answers GET /pd/api/v1/leader. */
async function anyEndpoint(endpoints: readonly string[]): Promise<string> {
  for (const e of endpoints) {
    try {
      if ((await pdRequest(`${e}/pd/api/v1/leader`, { timeoutMs: 1000 })).status === 200) return e;
    } catch {
      // next
    }
  }
  throw new Error(`no PD endpoint answers: ${endpoints.join(', ')}`);
}

export async function labelStore(endpoints: readonly string[], storeId: number, labels: Record<string, string>): Promise<void> {
  const e = await anyEndpoint(endpoints);
  const r = await pdRequest(`${e}/pd/api/v1/store/${storeId}/label`, { method: 'POST', body: labels });
  if (r.status !== 200) throw new Error(`POST /pd/api/v1/store/${storeId}/label: HTTP ${r.status} ${r.text.slice(0, 200)}`);
}

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const binary = pdBinaries().pdSimulator;
  await killStrays(opts.dir);
  rmSync(opts.dir, { recursive: true, force: true });
  const tmp = join(opts.dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const config = join(opts.dir, 'simulator.toml');
  const log = join(opts.dir, 'simulator.log');
  // Keys from tools/pd-simulator/simulator/config/config.go (v8.5.4).
  writeFileSync(
    config,
    [
      '# Generated by test/cluster/pd.ts.',
      'case-name = "stable"',
      `total-store = ${opts.stores}`,
      `total-region = ${opts.regions}`,
      'sim-tick-interval = "100ms"',
      'store-io-per-second = 1000',
      '',
      '[raftstore]',
      `pd-heartbeat-tick-interval = ${JSON.stringify(opts.regionHeartbeat ?? '2s')}`,
      `pd-store-heartbeat-tick-interval = ${JSON.stringify(opts.storeHeartbeat ?? '1s')}`,
      '',
    ].join('\n'),
  );
  const fd = openSync(log, 'a');
  // --log-file is left out: the simulator's own log then goes to stderr, into the same file as panics.
  const args = [`--pd-endpoints=${opts.pdEndpoints.join(',')}`, `--config=${config}`, '--case=stable', `--status-addr=${opts.statusAddr}`, '--simLog=info', '--serverLog=warn'];
  writeFileSync(fd, `# ${new Date().toISOString()} ${binary} ${args.join(' ')}\n`);
  // TMPDIR: it creates an unused temp data dir for an in-process PD even with --pd-endpoints.
  const child = spawn(binary, args, { stdio: ['ignore', fd, fd], env: { ...process.env, TMPDIR: tmp } });
  closeSync(fd);
  track(child);
  const running = () => child.exitCode === null && child.signalCode === null;
  const statusUrl = `http://${opts.statusAddr}`;

  const fail = (what: string) => new Error(`pd-simulator: ${what}. Last lines of ${log}:\n${lastLines(log)}`);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let stores: StoreInfo[] = [];
  // Ready: every store Up and every region with a leader reported (leader counts add up).
  for (;;) {
    if (!running()) throw fail(`exited with ${child.exitCode ?? child.signalCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw fail(`${opts.stores} stores with ${opts.regions} region leaders not seen within ${Math.round(timeoutMs / 1000)}s`);
    }
    try {
      stores = await getStores(await anyEndpoint(opts.pdEndpoints));
      const leaders = stores.reduce((n, s) => n + (s.status.leader_count ?? 0), 0);
      if (stores.length === opts.stores && stores.every((s) => s.store.state_name === 'Up') && leaders >= opts.regions) break;
    } catch {
      // not yet
    }
    await sleep(250);
  }

  const simStores: SimStore[] = stores.map((s, i) => ({ id: s.store.id, address: s.store.address, pod: opts.cluster ? `${opts.cluster}-tikv-${i}` : null }));
  for (const s of simStores) if (s.pod) await labelStore(opts.pdEndpoints, s.id, { pod: s.pod });

  const event = async (query: string) => {
    const r = await fetch(`${statusUrl}/event?${query}`, { signal: AbortSignal.timeout(2000) });
    if (r.status !== 200) throw new Error(`pd-simulator /event?${query}: HTTP ${r.status}`);
  };

  return {
    statusUrl,
    log,
    stores: simStores,
    // The newest store of a pod: a pod replaced after its store was deleted has a new one.
    storeOf: (pod) => simStores.findLast((s) => s.pod === pod),
    isRunning: running,
    async downNode(storeId) {
      await event(`event=down-node&node-id=${storeId}`);
    },
    async addNode(pod) {
      const known = new Set(simStores.map((s) => s.id));
      const before = new Set((await getStores(await anyEndpoint(opts.pdEndpoints))).map((s) => s.store.id));
      await event('event=add-node');
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        if (!running()) throw fail(`exited with ${child.exitCode ?? child.signalCode} during add-node`);
        const now = await getStores(await anyEndpoint(opts.pdEndpoints)).catch(() => [] as StoreInfo[]);
        const fresh = now.find((s) => !before.has(s.store.id) && !known.has(s.store.id));
        if (fresh) {
          const s: SimStore = { id: fresh.store.id, address: fresh.store.address, pod: pod ?? null };
          if (pod) await labelStore(opts.pdEndpoints, s.id, { pod });
          simStores.push(s);
          return s;
        }
        await sleep(250);
      }
      throw fail('add-node: no new store appeared within 30s');
    },
    async stop() {
      if (!running()) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// followPods

export interface FollowOptions {
  kubeconfig: string;
  namespace: string;
  cluster: string;
  pd: PdCluster;
  sim?: Simulator;
  /**
   * What a TiKV pod's deletion does to its simulated store:
   * - 'keep' (default): nothing. The store keeps heartbeating and keeps its id, label and regions, so
   *   the pod coming back finds it as a restarted TiKV with its PV would. PD never sees the store
   *   disconnected while the pod is away (pd-simulator cannot pause one store).
   * - 'replace': the simulator's down-node event on deletion (PD deletes the store: Offline, then
   *   Tombstone once its regions moved) and add-node when the pod is Running again: a new store id,
   *   labelled with the pod. That is a TiKV pod replaced with an empty volume, not a restart.
   */
  tikv?: 'keep' | 'replace';
  /**
   * Membership follows the pods too (a controller scaling PD and TiKV): a PD pod of this cluster
   * Running without a member starts one that joins (PdCluster.add, its ports those of the pod's
   * ordinal); a member PD no longer lists, once listed, was removed through PD's API: its pd-server
   * is stopped and its data dropped (PdCluster.remove), and that pod (by uid) is not made a member
   * again, as PD would refuse it. A TiKV pod Running without a store, or whose store PD made
   * Tombstone under an earlier pod of that name, gets a new simulated store (add-node) labelled
   * with it. Default false: members and stores stay as started.
   */
  membership?: boolean;
  /** Called for every action taken, e.g. to log it. */
  onEvent?: (e: FollowEvent) => void;
  /** PD members left alone whatever their pods do (a test holds a member down, or all of PD). */
  hold?: ReadonlySet<string>;
  /** How often the pod cache is compared with the processes (ms). */
  intervalMs?: number;
}

export interface FollowEvent {
  at: number;
  pod: string;
  action: 'pd-stop' | 'pd-start' | 'pd-join' | 'pd-removed' | 'tikv-down' | 'tikv-up' | 'tikv-new' | 'error';
  detail?: string;
}

/** One line for a follow event: `hh:mm:ss.mmm <action> <pod> (<detail>)`. */
export const describeFollowEvent = (e: FollowEvent): string => `${new Date(e.at).toISOString().slice(11, 23)} ${e.action} ${e.pod}${e.detail ? ` (${e.detail})` : ''}`;

interface PodView {
  metadata?: { name?: string; uid?: string; deletionTimestamp?: unknown };
  status?: { phase?: string };
}

/**
 * Keeps PD members (and, per `tikv`, simulated stores) in step with the cluster's pods. A pod counts
 * once it has been seen Running: from then on, a deletionTimestamp, its absence or a phase other than
 * Running stops the member (SIGTERM, like the kubelet), and Running again starts it with its data.
 * Members whose pod was never seen are left alone, so PD may start before its pods exist.
 */
export async function followPods(opts: FollowOptions): Promise<{ stop(): Promise<void>; events: FollowEvent[] }> {
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${opts.namespace}/pods`, () => core.listNamespacedPod({ namespace: opts.namespace }));
  const events: FollowEvent[] = [];
  const emit = (e: Omit<FollowEvent, 'at'>) => {
    const ev = { at: Date.now(), ...e };
    events.push(ev);
    opts.onEvent?.(ev);
  };
  let stopped = false;
  informer.on('error', () => {
    // The informer stops on errors; start it again while following.
    if (!stopped) setTimeout(() => !stopped && informer.start().catch(() => undefined), 1000);
  });
  await informer.start();

  const tikvPrefix = `${opts.cluster}-tikv-`;
  const seen = new Set<string>();
  const tikvDown = new Set<string>();
  const busy = new Map<string, Promise<void>>();
  const serially = (pod: string, fn: () => Promise<void>) => {
    if (busy.has(pod)) return;
    const p = fn()
      .catch((err: Error) => emit({ pod, action: 'error', detail: err.message }))
      .finally(() => busy.delete(pod));
    busy.set(pod, p);
  };

  // membership: what PD lists, refreshed by a poll of its own (PD answers slower than the pod cache).
  const pdPrefix = `${opts.cluster}-pd-`;
  const listed = new Set<string>();
  const removedUids = new Set<string>();
  /** Pod uid under which each TiKV pod's current store was last seen not Tombstone. */
  const storeUid = new Map<string, string>();
  let pdView: { members: string[]; stores: Map<number, string> } | null = null;
  let polling = false;
  const poll = async () => {
    if (polling || stopped) return;
    polling = true;
    try {
      const names = await opts.pd.memberNames();
      const e = await anyEndpoint(opts.pd.endpoints);
      const r = await pdRequest(`${e}/pd/api/v1/stores?state=0&state=1&state=2`, { timeoutMs: 2000 });
      const stores = r.status === 200 ? ((r.json as { stores?: StoreInfo[] }).stores ?? []) : [];
      pdView = { members: names, stores: new Map(stores.map((s) => [s.store.id, s.store.state_name])) };
      for (const n of names) listed.add(n);
    } catch {
      pdView = null;
    } finally {
      polling = false;
    }
  };
  const podUid = (p: PodView | undefined) => p?.metadata?.uid ?? '';
  const removeMember = (name: string, pod: PodView | undefined) => {
    if (pod) removedUids.add(podUid(pod));
    listed.delete(name);
    serially(name, async () => {
      await opts.pd.remove(name);
      emit({ pod: name, action: 'pd-removed', detail: 'no longer a PD member: stopped, data dropped' });
    });
  };
  const followMembership = (pods: Map<string, PodView>, wanted: (name: string) => 'up' | 'down' | null) => {
    const view = pdView;
    if (!view) return;
    for (const name of opts.pd.names) {
      if (listed.has(name) && !view.members.includes(name) && !busy.has(name)) removeMember(name, pods.get(name));
    }
    for (const [name, p] of pods) {
      const ordinal = name.startsWith(pdPrefix) ? Number(name.slice(pdPrefix.length)) : NaN;
      if (!Number.isInteger(ordinal) || opts.pd.names.includes(name) || removedUids.has(podUid(p))) continue;
      if (wanted(name) !== 'up' || opts.hold?.has(name)) continue;
      serially(name, async () => {
        await opts.pd.add(name, { index: ordinal });
        emit({ pod: name, action: 'pd-join', detail: `joined PD at ${opts.pd.urlOf(name)}` });
      });
    }
    const sim = opts.sim;
    if (!sim) return;
    for (const [name, p] of pods) {
      if (!name.startsWith(tikvPrefix) || wanted(name) !== 'up') continue;
      const store = sim.storeOf(name);
      const state = store ? view.stores.get(store.id) : undefined;
      const gone = !store || state === undefined || state === 'Tombstone';
      if (!gone) {
        storeUid.set(name, podUid(p));
        continue;
      }
      // A tombstoned store's TiKV stops for good; only a new pod (new volume) registers again.
      if (store && storeUid.get(name) === podUid(p)) continue;
      serially(name, async () => {
        const s = await sim.addNode(name);
        storeUid.set(name, podUid(p));
        emit({ pod: name, action: 'tikv-new', detail: `new store ${s.id} (add-node)${store ? `; store ${store.id} is ${state ?? 'gone'}` : ''}` });
      });
    }
  };

  const reconcile = () => {
    const pods = new Map<string, PodView>();
    for (const p of informer.list(opts.namespace) as PodView[]) if (p.metadata?.name) pods.set(p.metadata.name, p);
    const wanted = (name: string): 'up' | 'down' | null => {
      const p = pods.get(name);
      const up = !!p && !p.metadata?.deletionTimestamp && p.status?.phase === 'Running';
      if (up) {
        seen.add(name);
        return 'up';
      }
      return seen.has(name) ? 'down' : null;
    };
    for (const name of opts.pd.names) {
      if (opts.hold?.has(name)) continue;
      if (opts.membership && listed.has(name) && pdView && !pdView.members.includes(name)) continue;
      const w = wanted(name);
      if (w === 'down' && opts.pd.isRunning(name)) {
        serially(name, async () => {
          await opts.pd.stop(name);
          emit({ pod: name, action: 'pd-stop' });
        });
      } else if (w === 'up' && !opts.pd.isRunning(name)) {
        serially(name, async () => {
          if (opts.membership && listed.has(name) && !(await opts.pd.memberNames().catch(() => [name])).includes(name)) return;
          await opts.pd.start(name);
          emit({ pod: name, action: 'pd-start' });
        });
      }
    }
    if (opts.membership) followMembership(pods, wanted);
    const sim = opts.sim;
    if (!sim) return;
    const tikvPods = new Set([...pods.keys(), ...seen].filter((n) => n.startsWith(tikvPrefix)));
    for (const name of tikvPods) {
      const w = wanted(name);
      if (w === 'down' && !tikvDown.has(name)) {
        tikvDown.add(name);
        const store = sim.storeOf(name);
        if (opts.tikv === 'replace' && store) {
          serially(name, async () => {
            await sim.downNode(store.id);
            store.pod = null;
            emit({ pod: name, action: 'tikv-down', detail: `store ${store.id} deleted (down-node)` });
          });
        } else {
          emit({ pod: name, action: 'tikv-down', detail: store ? `store ${store.id} kept` : 'no store' });
        }
      } else if (w === 'up' && tikvDown.has(name)) {
        tikvDown.delete(name);
        if (opts.tikv === 'replace') {
          serially(name, async () => {
            const s = await sim.addNode(name);
            emit({ pod: name, action: 'tikv-up', detail: `new store ${s.id} (add-node)` });
          });
        } else {
          emit({ pod: name, action: 'tikv-up', detail: `store ${sim.storeOf(name)?.id ?? '-'} kept` });
        }
      }
    }
  };
  const timer = setInterval(reconcile, opts.intervalMs ?? 250);
  const pollTimer = opts.membership ? setInterval(() => void poll(), 500) : null;
  if (opts.membership) await poll();
  reconcile();
  return {
    events,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (pollTimer) clearInterval(pollTimer);
      await informer.stop();
      await Promise.all(busy.values());
    },
  };
}
