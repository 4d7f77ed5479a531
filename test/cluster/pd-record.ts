// npm run pd:record — records the PD HTTP exchanges tidb-steward depends on, from real pd-server and
// pd-simulator (PD_BIN_DIR; nothing is built), into test/fixtures/pd/<name>.json. Each fixture holds
// the request, PD's answer (status, content type, body as sent) and the state PD was in just before
// (members, leader, health, stores, evict-leader stores, max-replicas, region checks), so that
// test/pd/fixtures.test.ts can put the stand-in into that state, send the same request and require
// the same status and shape.
//
// It starts its own 3-member PD (rec-pd-0..2) and a pd-simulator with 4 stores on 127.0.0.1 (ports
// above the e2e ones), records, and stops them. Usage: PD_BIN_DIR=... npm run pd:record [-- --only a,b]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { STATE, REPO } from './paths.ts';
import { PD_BASE_PORT, pdBinaries, startPdCluster, startSimulator, type PdCluster, type Simulator } from './pd.ts';

export const FIXTURES = join(REPO, 'test', 'fixtures', 'pd');
const API = '/pd/api/v1';
const NAMES = ['rec-pd-0', 'rec-pd-1', 'rec-pd-2'];
const CHECKS = ['down-peer', 'offline-peer', 'miss-peer'] as const;

export interface RecordedState {
  members: string[];
  leader: string | null;
  unhealthy: string[];
  stores: Array<{ id: number; pod: string | null; state: string; leaders: number; regions: number }>;
  evicting: number[];
  maxReplicas: number;
  regionChecks: Record<string, number[]>;
}

export interface PdFixture {
  name: string;
  about: string;
  pd: string;
  state: RecordedState;
  request: { method: string; path: string; body?: unknown };
  response: { status: number; contentType: string | null; body: string };
}

const say = (msg: string) => process.stdout.write(`[pd:record] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function raw(base: string, method: string, path: string, body?: unknown, timeoutMs = 10_000) {
  const res = await fetch(`${base}${path}`, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}

async function getJson<T>(base: string, path: string): Promise<{ status: number; json: T | null }> {
  const r = await raw(base, 'GET', path);
  try {
    return { status: r.status, json: JSON.parse(r.body) as T };
  } catch {
    return { status: r.status, json: null };
  }
}

/** Machine paths (PD_BIN_DIR is PD's deploy_path; data dirs) never go into a fixture. */
function scrub(text: string, binDir: string): string {
  const paths: Array<[string, string]> = [
    [binDir, '<PD_BIN_DIR>'],
    [STATE, '<state>'],
    [REPO, '<repo>'],
    [homedir(), '<home>'],
    [tmpdir(), '<tmp>'],
  ];
  let out = text;
  for (const [from, to] of paths.sort((x, y) => y[0].length - x[0].length)) if (from.length > 1) out = out.split(from.replace(/\/+$/, '')).join(to);
  return out;
}

class Recorder {
  readonly written: string[] = [];
  private readonly pd: PdCluster;
  private readonly version: string;
  private readonly only: Set<string> | null;
  private readonly binDir: string;

  constructor(pd: PdCluster, version: string, only: Set<string> | null, binDir: string) {
    this.binDir = binDir;
    this.pd = pd;
    this.version = version;
    this.only = only;
  }

  /** A running member's client URL (the leader's when it is known). */
  async base(): Promise<string> {
    try {
      return this.pd.urlOf(await this.pd.leader());
    } catch {
      const name = this.pd.names.find((n) => this.pd.isRunning(n));
      if (!name) throw new Error('no PD member is running');
      return this.pd.urlOf(name);
    }
  }

  async state(): Promise<RecordedState> {
    const base = await this.base();
    const members = await getJson<{ members?: Array<{ name: string }>; leader?: { name: string } }>(base, `${API}/members`);
    const health = await getJson<Array<{ name: string; health: boolean }>>(base, `${API}/health`);
    const stores = await getJson<{ stores?: Array<{ store: { id: number; state_name: string; labels?: Array<{ key: string; value: string }> }; status: { leader_count?: number; region_count?: number } }> }>(base, `${API}/stores?state=0&state=1&state=2`);
    const evicting = await getJson<{ 'store-id-ranges'?: Record<string, unknown> }>(base, `${API}/scheduler-config/evict-leader-scheduler/list`);
    const replicate = await getJson<{ 'max-replicas': number }>(base, `${API}/config/replicate`);
    const regionChecks: Record<string, number[]> = {};
    for (const c of CHECKS) {
      const r = await getJson<{ regions?: Array<{ id: number }> | null }>(base, `${API}/regions/check/${c}`);
      regionChecks[c] = (r.json?.regions ?? []).map((x) => x.id).sort((a, b) => a - b);
    }
    return {
      members: (members.json?.members ?? []).map((m) => m.name).sort(),
      leader: members.json?.leader?.name ?? null,
      unhealthy: (health.json ?? []).filter((h) => !h.health).map((h) => h.name).sort(),
      stores: (stores.json?.stores ?? [])
        .map((s) => ({ id: s.store.id, pod: s.store.labels?.find((l) => l.key === 'pod')?.value ?? null, state: s.store.state_name, leaders: s.status.leader_count ?? 0, regions: s.status.region_count ?? 0 }))
        .sort((a, b) => a.id - b.id),
      evicting: evicting.status === 200 ? Object.keys(evicting.json?.['store-id-ranges'] ?? {}).map(Number).sort((a, b) => a - b) : [],
      maxReplicas: replicate.json?.['max-replicas'] ?? 3,
      regionChecks,
    };
  }

  /** Records one exchange (sent to `to`, or a running member) with the state before it; returns PD's answer. */
  async record(name: string, about: string, method: string, path: string, body?: unknown, to?: string) {
    const base = to ?? (await this.base());
    const state = await this.state();
    const answer = await raw(base, method, path, body);
    const response = { ...answer, body: scrub(answer.body, this.binDir) };
    const fixture: PdFixture = { name, about, pd: this.version, state, request: { method, path, ...(body === undefined ? {} : { body }) }, response };
    if (!this.only || this.only.has(name)) {
      writeFileSync(join(FIXTURES, `${name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
      this.written.push(name);
    }
    say(`${name}: ${method} ${path} -> HTTP ${response.status} ${response.body.trim().slice(0, 90)}`);
    return response;
  }
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await fn().catch(() => false)) return Date.now() - started;
    await sleep(250);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
}

export async function recordAll(opts: { only?: string[] } = {}): Promise<string[]> {
  const bins = pdBinaries();
  say(`pd-server ${bins.version} and pd-simulator from PD_BIN_DIR`);
  mkdirSync(FIXTURES, { recursive: true });
  // Outside .cluster/: cluster:up stops whatever runs from there.
  const root = join(tmpdir(), `tidb-steward-pd-record-${process.env.TIDB_STEWARD_PORT_OFFSET ?? 0}`);
  const basePort = PD_BASE_PORT + 60;
  let pd: PdCluster | null = null;
  let sim: Simulator | null = null;
  try {
    pd = await startPdCluster({ namespace: 'record', cluster: 'rec', names: NAMES, dataRoot: join(root, 'pd'), basePort });
    say(`PD up: ${pd.endpoints.join(', ')}`);
    sim = await startSimulator({ pdEndpoints: pd.endpoints, stores: 4, regions: 20, statusAddr: `127.0.0.1:${basePort + 30}`, dir: join(root, 'sim'), cluster: 'rec' });
    say(`pd-simulator: ${sim.stores.length} stores (${sim.stores.map((s) => `${s.id}=${s.pod}`).join(', ')})`);
    const rec = new Recorder(pd, bins.version, opts.only ? new Set(opts.only) : null, bins.dir);
    const [a, b, c] = sim.stores.map((s) => s.id) as [number, number, number, number];

    // Members, health, leader.
    await rec.record('members', 'the members, the leader and the etcd leader; member_id and cluster_id are 64-bit numbers', 'GET', `${API}/members`);
    await rec.record('health', 'health of every member', 'GET', `${API}/health`);
    await rec.record('leader', 'the leader', 'GET', `${API}/leader`);

    // Stores.
    await rec.record('stores-all-states', 'stores in every state, as PdClient.stores() asks (state=0 Up, 1 Offline, 2 Tombstone)', 'GET', `${API}/stores?state=0&state=1&state=2`);
    await rec.record('stores-default', 'stores without a state filter', 'GET', `${API}/stores`);
    await rec.record('store', 'one store', 'GET', `${API}/store/${a}`);
    await rec.record('store-unknown', 'a store id PD does not know', 'GET', `${API}/store/999999`);
    await rec.record('config-replicate', 'replication config: max-replicas', 'GET', `${API}/config/replicate`);
    for (const check of CHECKS) await rec.record(`regions-check-${check}`, `region check ${check}, every store Up`, 'GET', `${API}/regions/check/${check}`);

    // Leader transfer.
    const leader = await pd.leader();
    const follower = NAMES.find((n) => n !== leader)!;
    await rec.record('leader-transfer', 'leader transfer to a healthy follower', 'POST', `${API}/leader/transfer/${follower}`);
    say(`leader ${leader} -> ${follower} in ${await until('the new leader', async () => (await pd!.leader()) === follower, 30_000)} ms`);
    await pd.waitHealthy(30_000);
    await rec.record('leader-transfer-unknown', 'leader transfer to a name that is not a member', 'POST', `${API}/leader/transfer/no-such-member`);
    await rec.record('leader-transfer-to-leader', 'leader transfer to the current leader', 'POST', `${API}/leader/transfer/${follower}`);
    await pd.waitHealthy(30_000);

    // evict-leader scheduler.
    await rec.record('evict-leader-list-none', 'evict-leader config list while there is no evict-leader scheduler', 'GET', `${API}/scheduler-config/evict-leader-scheduler/list`);
    await rec.record('scheduler-add-evict-leader', 'add the evict-leader scheduler for one store', 'POST', `${API}/schedulers`, { name: 'evict-leader-scheduler', store_id: a });
    await rec.record('evict-leader-list', 'evict-leader config list with one store', 'GET', `${API}/scheduler-config/evict-leader-scheduler/list`);
    await rec.record('scheduler-add-evict-leader-second', 'add a second store to the existing evict-leader scheduler', 'POST', `${API}/schedulers`, { name: 'evict-leader-scheduler', store_id: b });
    await rec.record('evict-leader-list-two', 'evict-leader config list with two stores', 'GET', `${API}/scheduler-config/evict-leader-scheduler/list`);
    await rec.record('schedulers', 'scheduler names, with the evict-leader scheduler', 'GET', `${API}/schedulers`);
    const drained = await until(`store ${a} at 0 leaders`, async () => (await rec.state()).stores.find((s) => s.id === a)?.leaders === 0, 90_000);
    say(`store ${a}: 0 leaders ${drained} ms after the scheduler was added`);
    await rec.record('stores-evicted', 'stores while two are evicted (leader_count 0)', 'GET', `${API}/stores?state=0&state=1&state=2`);
    await rec.record('scheduler-delete-evict-leader', 'remove one store of two from the evict-leader scheduler', 'DELETE', `${API}/schedulers/evict-leader-scheduler-${b}`);
    await rec.record('scheduler-delete-evict-leader-last', 'remove the last store: the scheduler goes', 'DELETE', `${API}/schedulers/evict-leader-scheduler-${a}`);
    await rec.record('scheduler-delete-absent', 'remove a store that is not evicted (no evict-leader scheduler)', 'DELETE', `${API}/schedulers/evict-leader-scheduler-${a}`);
    await rec.record('scheduler-add-unknown-store', 'evict leaders from a store PD does not know', 'POST', `${API}/schedulers`, { name: 'evict-leader-scheduler', store_id: 999999 });
    await rec.record('scheduler-add-unknown-name', 'add a scheduler PD does not know', 'POST', `${API}/schedulers`, { name: 'no-such-scheduler' });
    await rec.record('scheduler-add-missing-store', 'add the evict-leader scheduler without store_id', 'POST', `${API}/schedulers`, { name: 'evict-leader-scheduler' });
    await rec.record('evict-leader-list-after', 'evict-leader config list after the scheduler was removed', 'GET', `${API}/scheduler-config/evict-leader-scheduler/list`);

    // Tombstone: PD buries an Offline store once no region has a peer on it. The simulator's stores
    // keep one region that never moves, so a fresh store (add-node) is taken offline at once instead.
    const fresh = await sim.addNode('rec-tikv-4');
    await rec.record('store-delete-empty', 'delete a store that holds no regions yet', 'DELETE', `${API}/store/${fresh.id}`);
    try {
      const ms = await until(`store ${fresh.id} Tombstone`, async () => (await rec.state()).stores.find((s) => s.id === fresh.id)?.state === 'Tombstone', 120_000);
      say(`store ${fresh.id}: Tombstone ${ms} ms after it was deleted`);
      await rec.record('stores-tombstone', 'stores with one Tombstone', 'GET', `${API}/stores?state=0&state=1&state=2`);
      await rec.record('stores-default-tombstone', 'stores without a state filter while one is Tombstone', 'GET', `${API}/stores`);
      await rec.record('store-tombstone', 'a Tombstone store', 'GET', `${API}/store/${fresh.id}`);
      await rec.record('store-delete-tombstone', 'delete a Tombstone store again', 'DELETE', `${API}/store/${fresh.id}`);
    } catch (err) {
      say(`no Tombstone recorded: ${(err as Error).message}`);
    }

    // What PD's router answers for other methods and paths.
    await rec.record('method-not-allowed-transfer', 'GET on the leader-transfer path (POST only)', 'GET', `${API}/leader/transfer/${follower}`);
    await rec.record('method-not-allowed-scheduler', 'GET on a scheduler path (DELETE and POST only)', 'GET', `${API}/schedulers/evict-leader-scheduler-${a}`);
    await rec.record('method-not-allowed-members', 'POST on the members path (GET only)', 'POST', `${API}/members`);
    await rec.record('not-found', 'a path PD does not serve', 'GET', `${API}/no-such-path`);

    // A store taken offline, then tombstone.
    // Not recorded: a higher store limit, so that the Offline store's regions move off within a minute.
    await raw(await rec.base(), 'POST', `${API}/stores/limit`, { rate: 600 });
    await rec.record('store-delete', 'delete a store: it goes Offline', 'DELETE', `${API}/store/${c}`);
    await sleep(1000);
    await rec.record('stores-offline', 'stores with one Offline', 'GET', `${API}/stores?state=0&state=1&state=2`);
    for (const check of CHECKS) await rec.record(`regions-check-${check}-offline`, `region check ${check} while a store is Offline`, 'GET', `${API}/regions/check/${check}`);
    // A member down: health, and a leader transfer to it.
    const now = await pd.leader();
    const down = NAMES.find((n) => n !== now)!;
    await pd.stop(down);
    await until(`${down} unhealthy`, async () => (await rec.state()).unhealthy.includes(down), 30_000);
    await rec.record('health-one-down', `health with ${down} stopped`, 'GET', `${API}/health`);
    await rec.record('members-one-down', `members with ${down} stopped`, 'GET', `${API}/members`);
    await rec.record('leader-transfer-unhealthy', 'leader transfer to a stopped member', 'POST', `${API}/leader/transfer/${down}`);
    await pd.start(down);
    await pd.waitHealthy(60_000);
    return rec.written;
  } finally {
    await sim?.stop();
    await pd?.stopAll();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const started = Date.now();
  recordAll(values.only ? { only: values.only.split(',') } : {})
    .then((written) => say(`${written.length} fixtures written to test/fixtures/pd/ in ${Math.round((Date.now() - started) / 1000)}s`))
    .catch((err: Error) => {
      process.stderr.write(`[pd:record] ${err.message}\n`);
      process.exit(1);
    });
}
