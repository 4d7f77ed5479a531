// bind as a commit point that only the right pods pass, and that holds across replicas.
import t from 'tap';
import { ApiException, type V1Lease } from '@kubernetes/client-node';
import { PlacementService } from '../../src/services/placement.ts';
import { ReservationLedger } from '../../src/state/ledger.ts';
import { MapStore, PodStore } from '../../src/state/stores.ts';
import { LockBusy, leaseLock, localOnly, sweepBindLeases, type BindLock, type LeaseStore } from '../../src/k8s/leases.ts';
import type { ClaimView, NodeView, VolumeView } from '../../src/domain/model.ts';
import type { LiveNode, LivePod } from '../../src/k8s/binder.ts';
import { makeNode, makeNodes, makePod, stores } from '../builders.ts';
import { FakeEvents, fakeBinder, silentLogger } from '../fakes.ts';

/** Lease objects with the API server's optimistic concurrency: a stale resourceVersion is a 409. */
class MemoryLeases implements LeaseStore {
  leases = new Map<string, V1Lease>();
  private rv = 0;
  writes = 0;
  async get(name: string) {
    await new Promise((r) => setImmediate(r));
    const l = this.leases.get(name);
    return l ? structuredClone(l) : null;
  }
  async create(lease: V1Lease) {
    await new Promise((r) => setImmediate(r));
    const name = lease.metadata!.name!;
    if (this.leases.has(name)) throw new ApiException(409, 'AlreadyExists', '{}', {});
    return this.store(lease);
  }
  async replace(lease: V1Lease) {
    await new Promise((r) => setImmediate(r));
    const current = this.leases.get(lease.metadata!.name!);
    if (!current || current.metadata!.resourceVersion !== lease.metadata!.resourceVersion) throw new ApiException(409, 'Conflict', '{}', {});
    return this.store(lease);
  }
  async list() {
    return [...this.leases.values()].map((l) => structuredClone(l));
  }
  async delete(name: string, resourceVersion: string) {
    const current = this.leases.get(name);
    if (!current) throw new ApiException(404, 'NotFound', '{}', {});
    if (current.metadata!.resourceVersion !== resourceVersion) throw new ApiException(409, 'Conflict', '{}', {});
    this.leases.delete(name);
  }
  private store(lease: V1Lease) {
    this.writes++;
    const stored = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    this.leases.set(lease.metadata!.name!, stored);
    return structuredClone(stored);
  }
}

function replica(opts: {
  api: PodStore;
  nodes: NodeView[];
  replicas: number;
  lock?: BindLock;
  delayMs?: number;
  live?: (p: ReturnType<PodStore['get']> & object) => Partial<LivePod>;
  liveNodes?: Record<string, LiveNode>;
  claims?: MapStore<ClaimView>;
  volumes?: MapStore<VolumeView>;
  events?: FakeEvents;
}) {
  // Each replica has caches of its own that have not seen any binding yet.
  const s = stores({ nodes: opts.nodes, pods: [...opts.api.values()].map((p) => ({ ...p })), statefulSets: [{ namespace: 'db', name: 'basic-pd', replicas: opts.replicas }] });
  const binder = fakeBinder(opts.api, { delayMs: opts.delayMs ?? 0, ...(opts.live ? { live: opts.live } : {}), ...(opts.liveNodes ? { nodes: opts.liveNodes } : {}) });
  const service = new PlacementService({
    ...s,
    ledger: new ReservationLedger(),
    topologyKeys: ['kubernetes.io/hostname'],
    binder,
    lock: opts.lock,
    claims: opts.claims,
    volumes: opts.volumes,
    events: opts.events,
    reservationTtlMs: 60_000,
    isSynced: () => true,
    now: Date.now,
    logger: silentLogger,
  });
  return { service, binder, ...s };
}

function pendingPd(n: number) {
  const api = new PodStore();
  for (let i = 0; i < n; i++) {
    const v = makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').uid(`pd-${i}`).view();
    api.upsert(`db/${v.name}`, v);
  }
  return api;
}

t.test('bind refuses pods of another scheduler, bound pods and nodes whose taints the pod does not tolerate', async (t) => {
  const nodes = [
    makeNode('n1'),
    { ...makeNode('cp'), taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
    { ...makeNode('tolerated'), taints: [{ key: 'dedicated', value: 'tidb', effect: 'NoSchedule' }] },
    makeNode('cordoned', {}, true),
  ];
  const api = pendingPd(1);
  api.upsert('web/app', { ...makePod('app').of('web', 'x', 'pd').uid('app').view(), namespace: 'web', name: 'app' });
  const scheduler: Record<string, string> = { app: 'default-scheduler' };
  const { service, binder } = replica({
    api,
    nodes,
    replicas: 3,
    live: (p) => ({
      schedulerName: scheduler[p.name] ?? 'tidb-scheduler',
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'tidb', effect: 'NoSchedule' }],
      ...(p.name === 'app' ? { view: null } : {}),
    }),
    liveNodes: { 'uncached-tainted': { taints: [{ key: 'gpu', effect: 'NoExecute' }], unschedulable: false } },
  });
  const bind = (name: string, node: string, ns = 'db') => service.bind({ namespace: ns, name, uid: name === 'app' ? 'app' : 'pd-0', node });

  const other = await bind('app', 'n1', 'web');
  t.match(other.refusal, /pod web\/app is for scheduler default-scheduler, and tidb-steward binds only pods of tidb-scheduler/);
  t.match((await bind('basic-pd-0', 'cp')).refusal, /node cp has taint node-role\.kubernetes\.io\/control-plane:NoSchedule that the pod does not tolerate/);
  t.match((await bind('basic-pd-0', 'cordoned')).refusal, /node\.kubernetes\.io\/unschedulable:NoSchedule/);
  t.match((await bind('basic-pd-0', 'uncached-tainted')).refusal, /node uncached-tainted has taint gpu:NoExecute/, 'a node the cache lacks is read from the API');
  t.match((await bind('basic-pd-0', 'nowhere')).refusal, /node nowhere does not exist/);
  t.same(binder.binds, [], 'nothing was bound');
  t.equal((await bind('basic-pd-0', 'tolerated')).refusal, null, 'a tolerated taint is fine');
  t.match((await bind('basic-pd-0', 'n1')).refusal, /pod db\/basic-pd-0 is already bound to node tolerated/);
  t.same(binder.binds, [['basic-pd-0', 'tolerated']]);
});

async function race(lockFor: (i: number) => BindLock) {
  // 3 PD members, 3 nodes: at most 1 per node. Three replicas each bind one pod to the same node at
  // the same moment, each from a cache that has seen nothing.
  const api = pendingPd(3);
  const nodes = makeNodes(3);
  const replicas = [0, 1, 2].map((i) => replica({ api, nodes, replicas: 3, lock: lockFor(i), delayMs: 3 }));
  const outcomes = await Promise.all(replicas.map((r, i) => r.service.bind({ namespace: 'db', name: `basic-pd-${i}`, uid: `pd-${i}`, node: 'n1' })));
  const onN1 = [...api.values()].filter((p) => p.nodeName === 'n1').length;
  return { outcomes, onN1 };
}

t.test('two or more replicas: the per-cluster Lease lets one bind at a time, so the rule holds', async (t) => {
  const leases = new MemoryLeases();
  const { outcomes, onN1 } = await race((i) => leaseLock({ store: leases, leaseSeconds: 10, waitMs: 2000, identity: `replica-${i}` }));
  t.equal(onN1, 1, 'one PD member on n1');
  t.equal(outcomes.filter((o) => o.refusal === null).length, 1);
  t.equal(outcomes.filter((o) => /already holds 1 of 3 PD members/.test(o.refusal ?? '')).length, 2, 'the others are refused with the reason');
  const lease = leases.leases.get('bind.pd.basic.db');
  t.ok(lease, 'the Lease is named after the cluster');
  t.equal(lease!.spec!.holderIdentity, '', 'released after the bind');
});

t.test('without a shared lock the same race breaks the rule (what the Lease prevents)', async (t) => {
  const { onN1 } = await race(() => localOnly);
  t.ok(onN1 > 1, `${onN1} PD members ended on n1 with per-process serialisation only`);
});

t.test('Lease: waits for a live holder, gives up with LockBusy, takes over an expired one', async (t) => {
  const leases = new MemoryLeases();
  let clock = 1_000_000;
  const mk = (identity: string, waitMs: number) => leaseLock({ store: leases, leaseSeconds: 10, waitMs, identity, now: () => clock, sleep: async (ms) => void (clock += ms) });
  const a = mk('a', 100);
  const b = mk('b', 100);
  let inside = false;
  // a holds the Lease and "dies" inside (never releases): b cannot get it until it expires.
  const stuck = a.run('db', 'basic', 'pd', async () => {
    inside = true;
    await new Promise(() => undefined);
  });
  void stuck;
  while (!inside) await new Promise((r) => setImmediate(r));
  t.ok(await b.run('db', 'basic', 'pd', async () => 'x').catch((err) => err instanceof LockBusy), 'LockBusy');
  await t.rejects(b.run('db', 'basic', 'pd', async () => 'x'), /another tidb-steward replica \(a\) is binding a pod of the same cluster; the scheduler will retry/);
  clock += 11_000;
  t.equal(await b.run('db', 'basic', 'pd', async () => 'taken over'), 'taken over', 'an expired holder is taken over');
  t.equal(await b.run('db', 'other', 'pd', async () => 'independent'), 'independent', 'other clusters have their own Lease');
});

t.test('a pod whose bound local volume pins it to a full node may go back there, with an Event', async (t) => {
  const api = new PodStore();
  const peer = makePod('basic-pd-0').of('db', 'basic', 'pd').uid('pd-0').on('n1').view();
  const self = makePod('basic-pd-1').of('db', 'basic', 'pd').uid('pd-1').view();
  api.upsert('db/basic-pd-0', peer);
  api.upsert('db/basic-pd-1', self);
  const claims = new MapStore<ClaimView>();
  claims.upsert('db/pd-basic-pd-1', { namespace: 'db', name: 'pd-basic-pd-1', volumeName: 'local-n1-b' });
  claims.upsert('db/log-basic-pd-1', { namespace: 'db', name: 'log-basic-pd-1', volumeName: 'local-n1-c' });
  const volumes = new MapStore<VolumeView>();
  volumes.upsert('local-n1-b', { name: 'local-n1-b', nodes: ['n1'] });
  volumes.upsert('local-n1-c', { name: 'local-n1-c', nodes: ['n1', 'n2'] });
  const events = new FakeEvents();
  const { service, binder } = replica({ api, nodes: makeNodes(3), replicas: 3, claims, volumes, events, live: () => ({ claims: ['pd-basic-pd-1', 'log-basic-pd-1', 'unbound'] }) });
  const planned = service.plan({ namespace: 'db', name: 'basic-pd-1', uid: 'pd-1', labels: makePod('x').of('db', 'basic', 'pd').labels(), owner: 'basic-pd', claims: ['pd-basic-pd-1', 'log-basic-pd-1'] });
  if (planned.kind !== 'plan') throw new Error(planned.kind);
  t.same([...planned.pin!.nodes], ['n1'], 'both claims together pin it to n1');
  const filtered = service.filter(planned.plan, ['n1', 'n2', 'n3'], planned.pin);
  t.same(filtered.fits, ['n1', 'n2', 'n3'], 'n1 stays a candidate');
  t.same(filtered.refused, {});
  t.equal((await service.bind({ namespace: 'db', name: 'basic-pd-1', uid: 'pd-1', node: 'n1' })).refusal, null);
  t.same(binder.binds, [['basic-pd-1', 'n1']]);
  t.equal(events.events.length, 1);
  t.match(events.events[0], {
    type: 'Warning',
    reason: 'PlacedOverLimit',
    ref: { kind: 'Pod', name: 'basic-pd-1' },
    message: /node n1 already holds 1 of 3 PD members of cluster db\/basic \(at most 1 per kubernetes\.io\/hostname\); placed there anyway because the pod's data lives on that node \(PersistentVolume local-n1-c of claim log-basic-pd-1 can only be used on n1, n2; PersistentVolume local-n1-b of claim pd-basic-pd-1 can only be used on n1\)/,
  });
  // Without the pin, the same placement is refused.
  const unpinned = replica({ api: pendingPd(0), nodes: makeNodes(3), replicas: 3 });
  const plan2 = unpinned.service.plan({ namespace: 'db', name: 'basic-pd-1', uid: 'pd-1', labels: makePod('x').of('db', 'basic', 'pd').labels(), owner: 'basic-pd', claims: ['pd-basic-pd-1'] });
  t.equal(plan2.kind === 'plan' && plan2.pin, null, 'no claim cache: no pin');
});

t.test('owners: a missing owner is said to be missing, an uncached one is looked up off the hot path', async (t) => {
  const api = pendingPd(1);
  const s = stores({ nodes: makeNodes(3), pods: [...api.values()], statefulSets: [] });
  const binder = fakeBinder(api, { owners: { 'db/hand-written-pd': 5 } });
  const service = new PlacementService({ ...s, ledger: new ReservationLedger(), topologyKeys: ['kubernetes.io/hostname'], binder, reservationTtlMs: 1000, isSynced: () => true, now: Date.now, logger: silentLogger });
  const labels = makePod('x').of('db', 'basic', 'pd').labels();
  const plan = (owner: string, ownerAdvanced = false) => service.plan({ namespace: 'db', name: 'basic-pd-0', uid: 'pd-0', labels, owner, ownerAdvanced });
  t.match(plan('gone-pd'), { kind: 'error', message: /StatefulSet db\/gone-pd is not in tidb-steward's cache yet and is being looked up; the scheduler will retry/ });
  await new Promise((r) => setTimeout(r, 10));
  t.match(plan('gone-pd'), { kind: 'error', message: /its owner StatefulSet db\/gone-pd does not exist, so the desired PD replica count of cluster db\/basic is unknown: recreate the StatefulSet, or delete the orphaned pod/ });
  plan('hand-written-pd');
  await new Promise((r) => setTimeout(r, 10));
  const found = plan('hand-written-pd');
  t.equal(found.kind === 'plan' && found.plan.request.replicas, 5, 'the looked-up replica count is used');
  plan('asts-pd', true);
  await new Promise((r) => setTimeout(r, 10));
  t.match(plan('asts-pd', true), { kind: 'error', message: /Advanced StatefulSet \(apps\.pingcap\.com\) db\/asts-pd does not exist \(is tidb-operator's apps\.pingcap\.com StatefulSet CRD installed\?\)/ });
  s.statefulSets.upsert('db/gone-pd', { namespace: 'db', name: 'gone-pd', replicas: 3 });
  t.equal(plan('gone-pd').kind, 'plan', 'once cached, the cache wins');
});

t.test('Leases of clusters that are gone are swept; live, busy or recent ones stay', async (t) => {
  const leases = new MemoryLeases();
  let clock = 1_000_000;
  const lock = leaseLock({ store: leases, leaseSeconds: 10, waitMs: 100, identity: 'a', now: () => clock });
  for (const cluster of ['gone', 'live', 'recent']) await lock.run('db', cluster, 'pd', async () => undefined);
  t.match(leases.leases.get('bind.pd.gone.db')!.metadata!.labels, { 'tidb-steward.dev/namespace': 'db', 'app.kubernetes.io/instance': 'gone', 'app.kubernetes.io/component': 'pd' });
  clock += 2 * 3_600_000;
  await lock.run('db', 'recent', 'pd', async () => undefined);
  const hasMembers = (_ns: string, cluster: string) => cluster === 'live';
  t.equal(await sweepBindLeases(leases, { idleMs: 3_600_000, now: () => clock, hasMembers }), 1);
  t.same([...leases.leases.keys()].sort(), ['bind.pd.live.db', 'bind.pd.recent.db']);
  t.equal(await sweepBindLeases(leases, { idleMs: 3_600_000, now: () => clock, hasMembers }), 0, 'nothing more to sweep');
});
