// The PD facts tidb-steward depends on, proven against real pd-server v8.5 (3 members) and
// pd-simulator (4 stores, 50 regions) from PD_BIN_DIR; no Kubernetes. Prints the measured timings.
// Without PD_BIN_DIR there is nothing to prove it against: the file says so and passes.
import t from 'tap';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PD_BASE_PORT, getStores, pdBinaries, pdBinDir, pdRequest, startPdCluster, startSimulator, stewardPdEndpoints, type PdCluster, type Simulator, type StoreInfo } from '../cluster/pd.ts';

const NAMES = ['basic-pd-0', 'basic-pd-1', 'basic-pd-2'];
const ROOT = join(tmpdir(), `tidb-steward-pd-e2e-${process.env.TIDB_STEWARD_PORT_OFFSET ?? 0}`);
const STATUS_PORT = PD_BASE_PORT + 41;
const API = '/pd/api/v1';

if (!pdBinDir()) {
  t.comment('PD: none (PD_BIN_DIR is not set); the PD facts need real pd-server and pd-simulator, so this file checks nothing');
  process.exit(0);
}
t.comment(`PD: real pd-server ${pdBinaries().version} and pd-simulator from PD_BIN_DIR`);

t.setTimeout(300_000);

const timings: Array<[string, number]> = [];
const measure = (what: string, ms: number) => {
  timings.push([what, ms]);
  t.comment(`timing: ${what}: ${ms} ms`);
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a value other than undefined; resolves to it and the elapsed ms. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const v = await fn();
      if (v !== undefined) return { value: v, ms: Date.now() - started };
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** A request whose raw answer is kept. */
async function call(url: string, opts: { method?: string; body?: unknown; timeoutMs?: number } = {}) {
  const res = await fetch(url, {
    method: opts.method ?? 'GET',
    signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, contentType: res.headers.get('content-type') };
}

const leaderCount = (stores: StoreInfo[], id: number) => stores.find((s) => s.store.id === id)?.status.leader_count ?? 0;

let pd: PdCluster;
let sim: Simulator;

/** Every member running and healthy again, whatever an earlier subtest left behind. */
async function allUp(): Promise<void> {
  for (const n of NAMES) if (!pd.isRunning(n)) await pd.start(n);
  await pd.waitHealthy(60_000);
}

t.before(async () => {
  const started = Date.now();
  pd = await startPdCluster({ namespace: 'db', cluster: 'basic', names: NAMES, dataRoot: join(ROOT, 'pd') });
  measure('3-member PD up (leader elected, all healthy)', Date.now() - started);
  const simStarted = Date.now();
  sim = await startSimulator({ pdEndpoints: pd.endpoints, stores: 4, regions: 50, statusAddr: `127.0.0.1:${STATUS_PORT}`, dir: join(ROOT, 'sim'), cluster: 'basic' });
  measure('pd-simulator ready (4 stores Up, 50 region leaders reported; includes its 3 s start sleep)', Date.now() - simStarted);
});

t.teardown(async () => {
  await sim?.stop();
  await pd?.stopAll();
  t.comment('timings (ms):');
  for (const [what, ms] of timings) t.comment(`  ${String(ms).padStart(6)}  ${what}`);
});

t.test('members, leader and health name the members after their pods', async (t) => {
  const members = await call(pd.endpoints[0] + `${API}/members`);
  t.equal(members.status, 200);
  const m = members.json as { header: { cluster_id: number }; members: Array<{ name: string; client_urls: string[] }>; leader: { name: string }; etcd_leader: { name: string } };
  t.same(m.members.map((x) => x.name).sort(), NAMES);
  t.ok(NAMES.includes(m.leader.name), `leader ${m.leader.name}`);
  t.equal(m.etcd_leader.name, m.leader.name, 'the etcd leader is the PD leader');
  t.match(members.text, /"member_id": ?\d{16,20}/, 'member_id is a bare 64-bit number on the wire');
  t.ok(m.members.every((x) => x.client_urls[0] === pd.urlOf(x.name)), 'client URLs are the loopback endpoints');

  for (const e of pd.endpoints) {
    const l = await call(e + `${API}/leader`);
    t.equal((l.json as { name: string }).name, m.leader.name, `${e} names the same leader (followers proxy to the leader)`);
  }
  const health = await call(pd.endpoints[0] + `${API}/health`);
  t.same((health.json as Array<{ name: string; health: boolean }>).map((h) => [h.name, h.health]).sort(), NAMES.map((n) => [n, true]));
  t.equal(stewardPdEndpoints(pd), JSON.stringify({ 'db/basic': pd.endpoints }));
});

t.test('stores are Up with leaders, addressed mock:://tikv-<id>, labelled pod=basic-tikv-<i>', async (t) => {
  const r = await call(pd.endpoints[1] + `${API}/stores`);
  const stores = (r.json as { count: number; stores: StoreInfo[] }).stores.sort((a, b) => a.store.id - b.store.id);
  t.equal(stores.length, 4);
  stores.forEach((s, i) => {
    t.equal(s.store.state_name, 'Up');
    t.ok((s.status.leader_count ?? 0) > 0, `store ${s.store.id} has ${s.status.leader_count} leaders`);
    t.equal(s.store.address, `mock:://tikv-${s.store.id}`);
    t.same(s.store.labels, [{ key: 'pod', value: `basic-tikv-${i}` }]);
  });
  t.match(r.text, /"last_heartbeat": ?\d{19}/, 'last_heartbeat is nanoseconds, beyond 2^53');
  const one = await call(pd.endpoints[1] + `${API}/store/${stores[0]!.store.id}`);
  t.equal(one.status, 200);
  const none = await call(pd.endpoints[1] + `${API}/store/999999`);
  t.not(none.status, 200, `unknown store: HTTP ${none.status} ${none.text.trim()}`);
  t.same(sim.stores.map((s) => s.pod), ['basic-tikv-0', 'basic-tikv-1', 'basic-tikv-2', 'basic-tikv-3']);
});

t.test('leader transfer by member name', async (t) => {
  const from = await pd.leader();
  const to = NAMES.find((n) => n !== from)!;
  const started = Date.now();
  const r = await call(pd.urlOf(from) + `${API}/leader/transfer/${to}`, { method: 'POST' });
  t.equal(r.status, 200, r.text);
  const answered = Date.now() - started;
  const { ms } = await until('the new leader in /leader', async () => ((await pd.leader()) === to ? true : undefined), 20_000);
  measure(`leader transfer ${from} -> ${to}: POST answered`, answered);
  measure(`leader transfer ${from} -> ${to}: /leader shows the target after`, answered + ms);

  const unknown = await call(pd.endpoints[0] + `${API}/leader/transfer/no-such-member`, { method: 'POST' });
  t.equal(unknown.status, 500, `unknown member: HTTP ${unknown.status} ${unknown.text.trim()}`);
  t.equal(await pd.leader(), to, 'a refused transfer leaves the leader in place');

  const self = await call(pd.endpoints[0] + `${API}/leader/transfer/${to}`, { method: 'POST' });
  t.comment(`transfer to the current leader: HTTP ${self.status} ${self.text.trim()}`);
  await pd.waitHealthy(20_000);
  t.equal(await pd.leader(), to, 'transfer to the current leader leaves it leader');
});

t.test('evict-leader scheduler drains a store and goes away with it', async (t) => {
  const target = sim.stores[0]!;
  const before = leaderCount(await getStores(pd.endpoints[0]!), target.id);
  t.ok(before > 0, `store ${target.id} (${target.pod}) has ${before} leaders before`);
  const started = Date.now();
  const add = await call(pd.endpoints[0] + `${API}/schedulers`, { method: 'POST', body: { name: 'evict-leader-scheduler', store_id: target.id } });
  t.equal(add.status, 200, add.text);
  const { ms } = await until(`store ${target.id} leader_count 0`, async () => (leaderCount(await getStores(pd.endpoints[0]!), target.id) === 0 ? true : undefined), 90_000, 100);
  measure(`evict-leader: store ${target.id} from ${before} leaders to 0`, Date.now() - started);
  t.ok(ms >= 0);

  const list = await call(pd.endpoints[0] + `${API}/schedulers`);
  t.ok((list.json as string[]).includes('evict-leader-scheduler'), `schedulers: ${list.text.trim()}`);
  const cfg = await call(pd.endpoints[0] + `${API}/scheduler-config/evict-leader-scheduler/list`);
  t.same(Object.keys((cfg.json as { 'store-id-ranges': Record<string, unknown> })['store-id-ranges']), [String(target.id)]);

  // Adding a second store joins the same scheduler.
  const second = sim.stores[1]!;
  const add2 = await call(pd.endpoints[0] + `${API}/schedulers`, { method: 'POST', body: { name: 'evict-leader-scheduler', store_id: second.id } });
  t.equal(add2.status, 200, add2.text);
  const cfg2 = await call(pd.endpoints[0] + `${API}/scheduler-config/evict-leader-scheduler/list`);
  t.same(Object.keys((cfg2.json as { 'store-id-ranges': Record<string, unknown> })['store-id-ranges']).sort(), [String(target.id), String(second.id)].sort());
  const del2 = await call(pd.endpoints[0] + `${API}/schedulers/evict-leader-scheduler-${second.id}`, { method: 'DELETE' });
  t.equal(del2.status, 200, del2.text);
  const cfg3 = await call(pd.endpoints[0] + `${API}/scheduler-config/evict-leader-scheduler/list`);
  t.same(Object.keys((cfg3.json as { 'store-id-ranges': Record<string, unknown> })['store-id-ranges']), [String(target.id)], 'removing one store keeps the other');

  const labels = (await getStores(pd.endpoints[2]!)).map((s) => s.store.labels);
  t.same(labels, sim.stores.map((s) => [{ key: 'pod', value: s.pod }]), 'pod labels survive heartbeats, a leader transfer and eviction');

  const delStarted = Date.now();
  const del = await call(pd.endpoints[0] + `${API}/schedulers/evict-leader-scheduler-${target.id}`, { method: 'DELETE' });
  t.equal(del.status, 200, del.text);
  const after = await call(pd.endpoints[0] + `${API}/schedulers`);
  t.notOk((after.json as string[]).some((s) => s.startsWith('evict-leader')), `nothing left: ${after.text.trim()}`);
  const gone = await call(pd.endpoints[0] + `${API}/scheduler-config/evict-leader-scheduler/list`);
  t.not(gone.status, 200, `evict-leader list without the scheduler: HTTP ${gone.status} ${gone.text.trim()}`);
  const again = await call(pd.endpoints[0] + `${API}/schedulers/evict-leader-scheduler-${target.id}`, { method: 'DELETE' });
  t.equal(again.status, 404, `deleting it again: HTTP ${again.status} ${again.text.trim()}`);

  // Leaders come back through balance-leader (not required by the product; measured, bounded).
  try {
    const back = await until(`store ${target.id} gets leaders back`, async () => (leaderCount(await getStores(pd.endpoints[0]!), target.id) > 0 ? true : undefined), 30_000, 200);
    measure(`after removing evict-leader: store ${target.id} has leaders again`, Date.now() - delStarted);
    t.ok(back.value);
  } catch (err) {
    t.comment(`leaders did not come back within 30 s: ${(err as Error).message}`);
  }
});

t.test('quorum: one member down keeps it, two lose it, restarts rejoin with their data', async (t) => {
  const members0 = await call(pd.endpoints[0] + `${API}/members`);
  const ids = new Map([...members0.text.matchAll(/"name": ?"([^"]+)",\s*"member_id": ?(\d+)/g)].map((m) => [m[1]!, m[2]!]));
  const clusterId = /"cluster_id": ?(\d+)/.exec(members0.text)?.[1];
  t.equal(ids.size, 3, 'member ids read from the raw text (JSON.parse would round them)');

  // Stop the leader (SIGTERM, as a pod deletion does): a new one is elected.
  const first = await pd.leader();
  const stopStarted = Date.now();
  await pd.stop(first);
  const stopped = Date.now() - stopStarted;
  const { value: next } = await until('a new leader after the leader stopped', async () => pd.leader({ timeoutMs: 500 }), 30_000);
  measure(`leader ${first} stopped (SIGTERM, exit took ${stopped} ms): new leader ${next} after`, Date.now() - stopStarted);
  t.not(next, first);
  const health1 = await call(pd.urlOf(next) + `${API}/health`);
  t.same((health1.json as Array<{ name: string; health: boolean }>).find((h) => h.name === first)?.health, false, 'the stopped member reads unhealthy');
  const members1 = await call(pd.urlOf(next) + `${API}/members`);
  t.equal((members1.json as { members: unknown[] }).members.length, 3, 'it stays a member');
  t.equal((await getStores(pd.urlOf(next))).length, 4, 'PD answers with one member down');

  // Stop a second member: no quorum.
  const second = NAMES.find((n) => n !== first && n !== next)!;
  const survivor = next;
  await pd.stop(second);
  // The survivor keeps answering /leader from memory until its lease runs out; requests that need
  // the leader wait up to 3 s for one (the redirect middleware) and then answer 503.
  const { value: noLeader, ms: noLeaderAfter } = await until('a 503 from the survivor', async () => {
    const r = await call(pd.urlOf(survivor) + `${API}/leader`, { timeoutMs: 5000 });
    return r.status !== 200 ? r : undefined;
  }, 30_000, 100);
  measure('quorum lost (2 of 3 stopped): first non-200 from the survivor\'s /leader after', noLeaderAfter);
  t.equal(noLeader.status, 503, `no quorum: HTTP ${noLeader.status} ${noLeader.text.trim()}`);
  t.match(noLeader.text, /ErrRedirectNoLeader/);
  for (const path of ['/leader', '/members', '/health', '/stores', '/leader/transfer/' + first]) {
    const method = path.startsWith('/leader/transfer') ? 'POST' : 'GET';
    const name = path.slice(1).replace(/\//g, '-').replace(first, 'member');
    let s = Date.now();
    try {
      const r = await call(pd.urlOf(survivor) + API + path, { method, timeoutMs: 15_000 });
      measure(`without quorum: ${method} ${path} -> HTTP ${r.status} ${r.text.trim().slice(0, 70)} after`, Date.now() - s);
      t.not(r.status, 200, `${method} ${path} does not succeed without quorum`);
    } catch (err) {
      measure(`without quorum: ${method} ${path} -> no answer within 15 s (${(err as Error).name})`, Date.now() - s);
    }
    // What a client with a short timeout (1 s) sees.
    s = Date.now();
    try {
      const r = await call(pd.urlOf(survivor) + API + path, { method, timeoutMs: 1000 });
      t.comment(`without quorum, 1 s client timeout: ${method} ${path} -> HTTP ${r.status} after ${Date.now() - s} ms`);
    } catch (err) {
      t.comment(`without quorum, 1 s client timeout: ${method} ${path} -> ${(err as Error).name} after ${Date.now() - s} ms`);
    }
  }
  const closed = Date.now();
  try {
    await call(pd.urlOf(first) + `${API}/leader`, { timeoutMs: 1500 });
    t.fail('a stopped member answered');
  } catch (err) {
    measure(`a stopped member's port: ${(err as Error).message.slice(0, 60)} after`, Date.now() - closed);
  }

  // Both come back with their data.
  const restart = Date.now();
  await Promise.all([pd.start(first), pd.start(second)]);
  await pd.waitHealthy(60_000);
  measure('two stopped members restarted: all healthy with a leader after', Date.now() - restart);
  const members2 = await call(pd.endpoints[0] + `${API}/members`);
  const ids2 = new Map([...members2.text.matchAll(/"name": ?"([^"]+)",\s*"member_id": ?(\d+)/g)].map((m) => [m[1]!, m[2]!]));
  t.same(Object.fromEntries(ids2), Object.fromEntries(ids), 'same member ids: they rejoined with their data');
  t.equal(/"cluster_id": ?(\d+)/.exec(members2.text)?.[1], clusterId, 'same cluster id');
  const { ms: storesBack } = await until('stores Up with leaders again', async () => {
    const stores = await getStores(pd.endpoints[0]!);
    return stores.length === 4 && stores.every((s) => s.store.state_name === 'Up') && stores.reduce((n, s) => n + (s.status.leader_count ?? 0), 0) >= 50 ? stores : undefined;
  }, 60_000, 200);
  measure('stores Up with all 50 leaders reported again after the restart', storesBack);
  t.same((await getStores(pd.endpoints[0]!)).map((s) => s.store.labels), sim.stores.map((s) => [{ key: 'pod', value: s.pod }]), 'labels kept across the outage');
  t.ok(sim.isRunning(), 'pd-simulator rode out the outage');
});

t.test('a second pd-simulator against a bootstrapped PD refuses to start', async (t) => {
  await allUp();
  const dir = join(ROOT, 'sim2');
  const child = spawn(pdBinaries().pdSimulator, [`--pd-endpoints=${pd.endpoints.join(',')}`, '--case=stable', `--status-addr=127.0.0.1:${STATUS_PORT + 1}`, '--config=/dev/null'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmpdir() },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.not(code, 0);
  t.match(out, /server is not clean/);
  void dir;
});

t.test('down-node and add-node: what the simulator offers for TiKV pods', async (t) => {
  await allUp();
  const victim = sim.stores[3]!;
  const started = Date.now();
  await sim.downNode(victim.id);
  const { value: state } = await until(`store ${victim.id} leaves Up`, async () => {
    const r = await pdRequest(pd.endpoints[0] + `${API}/store/${victim.id}`);
    const s = (r.json as StoreInfo).store.state_name;
    return s !== 'Up' ? s : undefined;
  }, 15_000, 100);
  measure(`down-node: store ${victim.id} reads ${state} after`, Date.now() - started);
  t.equal(state, 'Offline', 'down-node deletes the store in PD (Offline, later Tombstone): a decommission, not a restart');
  const added = await sim.addNode('basic-tikv-3');
  t.not(added.id, victim.id, `add-node registers a new store ${added.id} (${added.address}), never the old id`);
  const now = await getStores(pd.endpoints[0]!);
  t.same(now.find((s) => s.store.id === added.id)?.store.labels, [{ key: 'pod', value: 'basic-tikv-3' }]);
});

t.test('a member joins at run time (join) and leaves through DELETE /members/name/<name>', async (t) => {
  await allUp();
  const joined = Date.now();
  await pd.add('basic-pd-3', { index: 3 });
  measure('basic-pd-3 joined (started with join, healthy)', Date.now() - joined);
  t.same(await pd.memberNames(), [...NAMES, 'basic-pd-3'], 'PD lists the new member');
  t.equal(pd.names.length, 4);
  // A joined member restarts from its data dir (join does nothing then).
  await pd.stop('basic-pd-3');
  await pd.start('basic-pd-3');
  t.same(await pd.memberNames(), [...NAMES, 'basic-pd-3'], 'it restarts as the same member');
  // etcd refuses a membership change while a member joined or restarted less than a few seconds ago
  // (HTTP 500 "etcdserver: unhealthy cluster"); tidb-steward retries, and so does this test.
  const removed = Date.now();
  const { value: answer } = await until('DELETE /members/name/basic-pd-3 accepted', async () => {
    const r = await call(pd.endpoints[0] + `${API}/members/name/basic-pd-3`, { method: 'DELETE', timeoutMs: 10_000 });
    if (r.status === 500) t.comment(`PD: HTTP 500 ${r.text.trim()}`);
    return r.status === 200 ? r : undefined;
  }, 30_000, 500);
  measure('DELETE /members/name/basic-pd-3 accepted after', Date.now() - removed);
  t.match(answer.text, /removed, pd: basic-pd-3/);
  t.same(await pd.memberNames(), NAMES, 'no longer listed');
  t.ok(pd.isRunning('basic-pd-3'), 'the removed pd-server does not exit by itself');
  const dir = pd.dataDirOf('basic-pd-3');
  await pd.remove('basic-pd-3');
  t.same(pd.names, NAMES, 'the harness forgets it');
  t.notOk(existsSync(dir), 'its data dir is dropped (a removed member cannot start from it)');
  const gone = await call(pd.endpoints[0] + `${API}/members/name/basic-pd-3`, { method: 'DELETE' });
  t.equal(gone.status, 404, `deleting it again: HTTP ${gone.status} ${gone.text.trim()}`);
  await pd.waitHealthy(30_000);
});
