// Fenced leadership of the TidbCluster controller, with in-memory ports: no act once the leadership
// (the fence given to start()) is gone, start()/stop() racing leaves a working controller, shutdown
// releases the Lease only after in-flight reconciles ended, and a stale status write gets 409.
import t from 'tap';
import { pino } from 'pino';
import { TidbClusterController, type ControllerIO, type DisruptionPort, type PdPort } from '../../src/controller/controller.ts';
import { FencedError, StatusConflictError } from '../../src/controller/fence.ts';
import { LeaderElector, type LeaseLock, type LeaseRecord } from '../../src/controller/leader.ts';
import { shutDown } from '../../src/controller/run.ts';
import type { RawTidbCluster, ControllerPod, ControllerSts } from '../../src/k8s/tidbclusters.ts';
import type { ListWatchSource } from '../../src/k8s/reflector.ts';
import type { TidbClusterStatus } from '../../src/cluster/schema.ts';
import type { KubeObject } from '../../src/specs/objects.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(5);
  }
}
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const FINALIZER = 'tidb-steward.dev/cleanup';
const tc = (opts: { rv?: string; status?: TidbClusterStatus; finalizers?: string[]; deleting?: boolean; tidb?: number } = {}): RawTidbCluster => ({
  metadata: { name: 'basic', namespace: 'db', uid: 'u1', generation: 2, resourceVersion: opts.rv ?? '5', finalizers: opts.finalizers ?? [FINALIZER], ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: opts.tidb ? { tidb: { replicas: opts.tidb } } : {},
  status: opts.status ?? {},
});

/** A TidbCluster "API server": the object with its resourceVersion; a status write must name it. */
function harness(opts: { stopTimeoutMs?: number } = {}) {
  const calls: string[] = [];
  const logs: Array<{ level: number; msg: string }> = [];
  const server = { obj: tc() };
  /** What the caches list, when it differs from the server's object (a cache lagging behind). */
  const listed: { obj: RawTidbCluster | null } = { obj: null };
  let applyGate: Promise<void> | null = null;
  const io: ControllerIO = {
    async apply(o: KubeObject) {
      calls.push(`apply ${o.kind}/${o.metadata.name}`);
      if (applyGate) await applyGate;
    },
    async writeStatus(_ns, _n, status, rv) {
      // As the API server: an update naming a resourceVersion must name the current one.
      if (rv !== undefined && rv !== server.obj.metadata.resourceVersion) throw new StatusConflictError('db', 'basic', rv);
      calls.push('status');
      const next = String(Number(server.obj.metadata.resourceVersion) + 1);
      server.obj = { ...server.obj, metadata: { ...server.obj.metadata, resourceVersion: next }, status };
      return next;
    },
    setFinalizers: async (_ns, _n, f) => void calls.push(`finalizers ${f.join(',')}`),
    diagnosisFacts: async () => ({ nodes: [], storage: { classes: [], defaultClass: null, freeVolumes: [] }, claims: new Map() }),
    retireClaims: async () => void calls.push('retireClaims'),
    deletePod: async () => void calls.push('deletePod'),
    renewRetiredClaims: async () => [],
  };
  const disruptions: DisruptionPort = {
    facts: async () => ({ at: 0, members: [], leader: null, stores: [], evicting: [], maxReplicas: 3, regionChecks: new Map(), locationLabels: null, unknown: {} }),
    invalidate: () => undefined,
    ledger: async () => ({ leaving: [], evictions: [{ storeId: '7', podUid: 'u', beganAt: 0, cause: 'suspend' }], seenEvictions: [] }),
    admit: async () => ({ allowed: true, reason: 'test' }),
    recordEviction: async () => void calls.push('recordEviction'),
    dropRecords: async () => void calls.push('dropEvictionRecords'),
  };
  const pd: PdPort = {
    setStoreLabels: async (id) => void calls.push(`pd label ${id}`),
    setLocationLabels: async () => void calls.push('pd location-labels'),
    transferLeader: async (to) => void calls.push(`pd transfer ${to}`),
    deleteMember: async (n) => void calls.push(`pd delete-member ${n}`),
    deleteStore: async (id) => void calls.push(`pd delete-store ${id}`),
    cancelStoreRemoval: async (id) => void calls.push(`pd cancel ${id}`),
    addEvictLeader: async (id) => void calls.push(`pd evict ${id}`),
    removeEvictLeader: async (id) => void calls.push(`pd end-evict ${id}`),
  };
  const lists = { clusters: 0 };
  const clusters: ListWatchSource = {
    list: async () => (lists.clusters++, { items: [listed.obj ?? server.obj], resourceVersion: (listed.obj ?? server.obj).metadata.resourceVersion }),
    // A watch that stays quiet until it is aborted, then closes as client-node's does.
    watch: async (_rv, _onEvent, onDone) => ({ abort: () => onDone(null) }),
  };
  const none: ListWatchSource = { list: async () => ({ items: [], resourceVersion: '1' }), watch: async (_rv, _onEvent, onDone) => ({ abort: () => onDone(null) }) };
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const c = new TidbClusterController({
    logger,
    io,
    pdFor: () => pd,
    disruptions,
    events: { emit: (_r, _t, reason) => void calls.push(`event ${reason}`) },
    sources: { clusters, pods: none, statefulSets: none },
    views: {
      cluster: (o) => ({ key: `${(o as RawTidbCluster).metadata.namespace}/${(o as RawTidbCluster).metadata.name}`, value: o as RawTidbCluster }),
      pod: () => ({ key: '', value: null as ControllerPod | null }),
      sts: () => ({ key: '', value: null as ControllerSts | null }),
    },
    evictTimeoutMs: 60_000,
    pendingGraceMs: 10_000,
    relistIntervalMs: 600_000,
    staleAfterMs: 300_000,
    ...(opts.stopTimeoutMs ? { stopTimeoutMs: opts.stopTimeoutMs } : {}),
  });
  return {
    c,
    calls,
    logs,
    server,
    listed,
    lists,
    gateApplies() {
      const d = deferred();
      applyGate = d.promise;
      return () => {
        applyGate = null;
        d.resolve();
      };
    },
  };
}

t.test('the fence: once the leadership given to start() is aborted, a reconcile in flight makes no further call', async (t) => {
  const h = harness();
  const leadership = new AbortController();
  const open = h.gateApplies();
  await h.c.start(leadership.signal);
  t.teardown(() => h.c.stop());
  await until('the first apply in flight', () => h.calls.length === 1);
  leadership.abort(new Error('renew deadline passed'));
  open();
  await until('the reconcile to end', () => h.logs.some((l) => /reconcile stopped/.test(l.msg)));
  await wait(50);
  t.same(h.calls, ['apply Service/basic-pd'], 'nothing after the apply that was in flight: no other object, no status write');
  const stopped = h.logs.find((l) => /reconcile stopped/.test(l.msg))!;
  t.equal(stopped.level, 30, 'said at info, not as a failure');
  t.equal(h.c.stats.errors, 0);
});

// Each kind of act, with the fence already aborted: the reconcile throws FencedError before the act.
const acts: Array<[string, RawTidbCluster]> = [
  ['the finalizer write', tc({ finalizers: [] })],
  ['the deletion cleanup (PD, records, finalizer)', tc({ deleting: true })],
  ['applies and the status write', tc()],
];
for (const [what, obj] of acts) {
  t.test(`the fence stops ${what}`, async (t) => {
    const h = harness();
    const leadership = new AbortController();
    await h.c.start(leadership.signal);
    t.teardown(() => h.c.stop());
    await until('the first reconcile', () => h.calls.length > 0);
    h.calls.length = 0;
    leadership.abort(new Error('lost the lease'));
    h.c.clusters.upsert('db/basic', obj);
    await t.rejects(h.c.reconcile('db/basic'), FencedError);
    t.same(h.calls, [], 'no call at all');
  });
}

t.test('stop() racing start(): the controller ends up running with its caches and reconciles', async (t) => {
  const h = harness();
  await h.c.start();
  t.teardown(() => h.c.stop());
  await until('synced and reconciled', () => h.c.hasSynced() && h.calls.includes('status'));
  // Leadership lost and won back in the same tick (the elector's callbacks do not wait).
  const stopping = h.c.stop();
  const starting = h.c.start();
  await Promise.all([stopping, starting]);
  await until('the caches synced again', () => h.c.hasSynced(), 2000).catch((err) => t.fail(err.message));
  t.equal(h.lists.clusters, 2, 'listed again by the new caches');
  h.calls.length = 0;
  h.c.clusters.upsert('db/basic', { ...h.server.obj, spec: { tidb: { replicas: 3 } } });
  await until('the change acted on', () => h.calls.some((c) => c.startsWith('apply StatefulSet/basic-tidb')) || h.calls.includes('apply StatefulSet/basic-pd'), 2000).catch((err) => t.fail(err.message));
});

t.test('stop() racing start() with a reconcile in flight: the old one is fenced, the new term works', async (t) => {
  const h = harness();
  const first = new AbortController();
  const open = h.gateApplies();
  await h.c.start(first.signal);
  t.teardown(() => h.c.stop());
  await until('an apply in flight', () => h.calls.length === 1);
  first.abort(new Error('lost'));
  const stopping = h.c.stop();
  const starting = h.c.start(new AbortController().signal);
  await wait(30);
  open();
  const settled = await Promise.race([Promise.all([stopping, starting]).then(() => true), wait(2000).then(() => false)]);
  t.ok(settled, 'stop() and start() both resolve');
  await until('the new term reconciles', () => h.calls.includes('status'), 2000).catch((err) => t.fail(err.message));
  t.ok(h.c.hasSynced(), 'caches running');
});

t.test('a status write from a stale read gets 409: nothing is overwritten, the key comes back (info, not an error)', async (t) => {
  const h = harness();
  // The cache read resourceVersion 5; someone wrote since (another replica's status, a spec change).
  h.c.clusters.upsert('db/basic', tc({ rv: '5' }));
  const theirs: TidbClusterStatus = { phase: 'Normal', observedGeneration: 2 };
  h.server.obj = tc({ rv: '6', status: theirs });
  await t.rejects(h.c.reconcile('db/basic'), StatusConflictError);
  t.same(h.server.obj.status, theirs, 'the newer status stays');
  t.notOk(h.calls.includes('status'));
  // Through the queue: the conflict is said at info and the key is looked at again, until the
  // cache has caught up (the watch event of the other write) and the write goes through.
  h.listed.obj = tc({ rv: '5' });
  await h.c.start();
  t.teardown(() => h.c.stop());
  await until('a conflict said', () => h.logs.some((l) => /changed since resourceVersion 5/.test(l.msg)));
  h.c.clusters.upsert('db/basic', h.server.obj);
  await until('written once the cache caught up', () => h.calls.includes('status'));
  const said = h.logs.filter((l) => /changed since resourceVersion/.test(l.msg));
  t.ok(said.length > 0 && said.every((l) => l.level === 30), `conflicts said at info (${said.length})`);
  t.notOk(h.logs.some((l) => l.level >= 40), 'no warning');
  t.equal(h.c.stats.errors, 0, 'not counted as errors');
});

t.test('a status write after this process\'s own write names that write\'s resourceVersion, not the lagging cache\'s', async (t) => {
  const h = harness();
  h.c.clusters.upsert('db/basic', tc({ rv: '5' }));
  await h.c.reconcile('db/basic');
  t.equal(h.server.obj.metadata.resourceVersion, '6');
  // The cache still holds resourceVersion 5; a spec change in the cache would read 5 too, but this
  // reconcile builds on its own write (6), and a newer status is written with it.
  h.c.clusters.upsert('db/basic', { ...tc({ rv: '5' }), metadata: { ...tc().metadata, generation: 3 } });
  await h.c.reconcile('db/basic');
  t.equal(h.server.obj.metadata.resourceVersion, '7', 'written, no 409');
});

/** The controller's Lease, in memory, recording when it was released. */
class RecordingLease implements LeaseLock {
  record: LeaseRecord | null = null;
  version = 0;
  private readonly seq: string[];
  constructor(seq: string[]) {
    this.seq = seq;
  }
  describe() {
    return 'memory';
  }
  async get() {
    return this.record ? { ...this.record, resourceVersion: String(this.version) } : null;
  }
  async create(r: LeaseRecord) {
    this.record = r;
    this.version++;
  }
  async update(r: LeaseRecord) {
    if (r.resourceVersion !== String(this.version)) throw new Error('Conflict');
    if (this.record?.holder && !r.holder) this.seq.push('lease released');
    this.record = r;
    this.version++;
  }
}

function leaderWith(h: ReturnType<typeof harness>, seq: string[]) {
  const lease = new RecordingLease(seq);
  const elector = new LeaderElector({
    identity: 'a',
    lock: lease,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 50,
    onStartedLeading: (fence) => void h.c.start(fence),
    onStoppedLeading: () => void h.c.stop(),
  });
  return { lease, elector };
}

t.test('shutdown: stop campaigning, end in-flight reconciles, then release the Lease', async (t) => {
  const seq: string[] = [];
  const h = harness();
  const { lease, elector } = leaderWith(h, seq);
  const open = h.gateApplies();
  elector.start();
  await until('an apply in flight', () => h.calls.length === 1);
  const done = shutDown(elector, h.c).then(() => seq.push('shutdown done'));
  await wait(100);
  t.equal(lease.record?.holder, 'a', 'the Lease is kept while a reconcile is in flight');
  seq.push('in-flight apply returns');
  open();
  await done;
  const ended = h.logs.findIndex((l) => /reconcile stopped/.test(l.msg));
  t.ok(ended >= 0, 'the in-flight reconcile ended (fenced)');
  t.same(seq, ['in-flight apply returns', 'lease released', 'shutdown done']);
  t.same(h.calls, ['apply Service/basic-pd'], 'no act after the shutdown began');
  t.equal(lease.record?.holder, null, 'released');
});

t.test('shutdown: a reconcile that does not end gets a bounded wait, then the Lease is released', async (t) => {
  const seq: string[] = [];
  const h = harness({ stopTimeoutMs: 200 });
  const { lease, elector } = leaderWith(h, seq);
  const open = h.gateApplies();
  t.teardown(open);
  elector.start();
  await until('an apply in flight', () => h.calls.length === 1);
  const began = Date.now();
  await shutDown(elector, h.c);
  const took = Date.now() - began;
  t.ok(took >= 200 && took < 600, `released after the bounded wait (${took} ms)`);
  t.same(seq, ['lease released']);
  t.equal(lease.record?.holder, null, 'released');
  t.ok(h.logs.some((l) => /still in flight after the stop timeout/.test(l.msg)), 'says it gave up waiting');
});
