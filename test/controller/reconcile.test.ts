// The reconcile pipeline with in-memory Kubernetes and PD ports: what it applies, what it asks of PD,
// and the status it writes (only on change).
import t from 'tap';
import { pino } from 'pino';
import { TidbClusterController, type ControllerIO, type PdPort } from '../../src/controller/controller.ts';
import type { RawTidbCluster, ControllerPod, ControllerSts } from '../../src/k8s/tidbclusters.ts';
import type { ListWatchSource } from '../../src/k8s/reflector.ts';
import type { TidbClusterStatus } from '../../src/cluster/schema.ts';
import type { KubeObject } from '../../src/specs/objects.ts';
import type { StoreInfo } from '../../src/pd/client.ts';

const never: ListWatchSource = { list: async () => ({ items: [], resourceVersion: '1' }), watch: async () => ({ abort() {} }) };

function harness() {
  const applied: KubeObject[] = [];
  const statuses: TidbClusterStatus[] = [];
  const finalizers: string[][] = [];
  const pdCalls: string[] = [];
  const events: string[] = [];
  let rv = 10;
  const io: ControllerIO = {
    apply: async (o) => void applied.push(o),
    writeStatus: async (_ns, _n, s, _rv) => {
      statuses.push(s);
      return String(++rv);
    },
    setFinalizers: async (_ns, _n, f) => void finalizers.push(f),
    diagnosisFacts: async () => ({ nodes: [], storage: { classes: [], defaultClass: null, freeVolumes: [] }, claims: new Map() }),
    markStopping: async () => undefined,
    evictionRecords: async () => [],
    dropEvictionRecords: async () => undefined,
  };
  const pd = {
    members: ['basic-pd-0', 'basic-pd-1', 'basic-pd-2'],
    leader: 'basic-pd-0' as string | null,
    stores: [] as StoreInfo[],
  };
  const port: PdPort = {
    members: async () => ({ members: pd.members.map((name) => ({ name })), leader: pd.leader ? { name: pd.leader } : null }),
    health: async () => pd.members.map((name) => ({ name, health: true })),
    stores: async () => pd.stores,
    maxReplicas: async () => 3,
    evictingStores: async () => [],
    transferLeader: async (to) => void pdCalls.push(`transfer ${to}`),
    deleteMember: async (n) => void pdCalls.push(`delete-member ${n}`),
    deleteStore: async (id) => void pdCalls.push(`delete-store ${id}`),
    cancelStoreRemoval: async (id) => void pdCalls.push(`cancel ${id}`),
    addEvictLeader: async (id) => void pdCalls.push(`evict ${id}`),
    removeEvictLeader: async (id) => void pdCalls.push(`end-evict ${id}`),
  };
  const c = new TidbClusterController({
    logger: pino({ level: 'silent' }),
    io,
    pdFor: () => port,
    events: { emit: (_r, _t, reason) => void events.push(reason) },
    sources: { clusters: never, pods: never, statefulSets: never },
    views: { cluster: () => ({ key: '', value: null }), pod: () => ({ key: '', value: null }), sts: () => ({ key: '', value: null }) },
    evictTimeoutMs: 60_000,
    pendingGraceMs: 10_000,
    relistIntervalMs: 600_000,
    staleAfterMs: 300_000,
    now: () => 1_000_000,
  });
  const tc = (spec: unknown, status: TidbClusterStatus = {}, finalized = true): RawTidbCluster => ({
    metadata: { name: 'basic', namespace: 'db', uid: 'u1', generation: 2, resourceVersion: '5', ...(finalized ? { finalizers: ['tidb-steward.dev/cleanup'] } : {}) },
    spec,
    status,
  });
  const runningSet = (component: 'pd' | 'tikv' | 'tidb', n: number) => {
    const sts: ControllerSts = { namespace: 'db', name: `basic-${component}`, cluster: 'basic', component, replicas: n, readyReplicas: n, updatedReplicas: n, currentRevision: 'a', updateRevision: 'a' };
    c.statefulSets.upsert(`db/basic-${component}`, sts);
    for (let i = 0; i < n; i++) {
      const p: ControllerPod = { namespace: 'db', name: `basic-${component}-${i}`, cluster: 'basic', component, ordinal: i, phase: 'Running', ready: true, deleting: false, nodeName: 'n1', createdAt: 0, schedulerMessage: null, requests: { cpu: 0, memory: 0 }, nodeSelector: {}, tolerations: [], claims: [] };
      c.pods.upsert(`db/${p.name}`, p);
    }
  };
  return { c, applied, statuses, finalizers, pdCalls, events, pd, port, tc, runningSet };
}

const store = (id: number, pod: string): StoreInfo => ({ store: { id: String(id), address: `${pod}.basic-tikv-peer.db.svc:20160`, state_name: 'Up', labels: [] }, status: { leader_count: 10, region_count: 30 } });

t.test('the finalizer comes first, before anything is created', async (t) => {
  const h = harness();
  h.c.clusters.upsert('db/basic', h.tc({}, {}, false));
  await h.c.reconcile('db/basic');
  t.same(h.finalizers, [['tidb-steward.dev/cleanup']]);
  t.same(h.applied, []);
});

t.test('a new cluster: PD objects applied, TiKV waits for PD quorum, status says so', async (t) => {
  const h = harness();
  h.pd.leader = null;
  h.c.clusters.upsert('db/basic', h.tc({}));
  const r = await h.c.reconcile('db/basic');
  t.same(h.applied.map((o) => `${o.kind}/${o.metadata.name}`), ['Service/basic-pd', 'Service/basic-pd-peer', 'ConfigMap/basic-pd', 'StatefulSet/basic-pd', 'PodDisruptionBudget/basic-pd']);
  t.equal(h.applied.find((o) => o.kind === 'StatefulSet')!.spec.replicas, 3);
  const ready = h.statuses[0]!.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(ready.status, 'False');
  t.equal(ready.observedGeneration, 2);
  t.ok(r && r.requeueAfterMs && r.requeueAfterMs <= 2000, 'comes back soon');
});

t.test('a running cluster: Ready, and the status is not written again when nothing changed', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.pd.stores = [0, 1, 2].map((i) => store(i + 1, `basic-tikv-${i}`));
  h.c.clusters.upsert('db/basic', h.tc({}, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  const status = h.statuses[0]!;
  t.equal(status.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  t.same(status.tikv!.stores!.map((s) => s.pod), ['basic-tikv-0', 'basic-tikv-1', 'basic-tikv-2']);
  t.equal(status.pd!.ready, '3/3');
  t.ok(h.events.includes('ClusterReady'));
  const appliedOnce = h.applied.length;
  h.c.clusters.upsert('db/basic', { ...h.tc({}, status), metadata: { ...h.tc({}).metadata, resourceVersion: '99' } });
  await h.c.reconcile('db/basic');
  t.equal(h.statuses.length, 1, 'unchanged status not written');
  t.equal(h.applied.length, appliedOnce, 'unchanged objects not re-applied');
});

t.test('an eviction record is kept while PD cannot say whether the eviction is still there', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.pd.stores = [0, 1, 2].map((i) => store(i + 1, `basic-tikv-${i}`));
  const status: TidbClusterStatus = { pd: { bootstrapped: true }, tikv: { evictLeader: [{ storeId: '2', since: '2026-01-01T00:00:00Z' }] } } as TidbClusterStatus;
  const records = () => h.statuses.at(-1)?.tikv?.evictLeader?.map((e) => e.storeId);
  // Real PD v8.5, a leader elected a moment ago: no scheduler listed, the evict-leader list a 404,
  // which the PD client reports as not known yet.
  h.port.evictingStores = async () => {
    throw new Error("PD evict-leader list: PD's leader has not restored its schedulers yet (it lists none); try again in a few seconds");
  };
  h.c.clusters.upsert('db/basic', h.tc({}, status));
  const r = await h.c.reconcile('db/basic');
  t.same(h.pdCalls, [], 'nothing ended');
  t.ok(r && r.requeueAfterMs && r.requeueAfterMs <= 2000, 'asked again soon');
  t.same(records(), ['2'], 'the record is kept');
  h.port.evictingStores = async () => {
    throw new Error('PD evict-leader list answered HTTP 503');
  };
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, [], 'an unreadable list ends nothing either');
  // The schedulers restored: the entry is listed again and ended.
  h.port.evictingStores = async () => ['2'];
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, ['end-evict 2']);
  t.same(records(), undefined, 'the record goes once PD ended it');
});

/** A running cluster of 5 PD members (basic-pd-4 leads), 3 TiKV stores and 2 TiDB pods. */
function fivePdsLedByTheLast() {
  const h = harness();
  h.runningSet('pd', 5);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.pd.members = ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3', 'basic-pd-4'];
  h.pd.leader = 'basic-pd-4';
  h.pd.stores = [0, 1, 2].map((i) => store(i + 1, `basic-tikv-${i}`));
  return h;
}

t.test('paused: nothing applied, nothing asked of PD, the held change in status', async (t) => {
  const h = fivePdsLedByTheLast();
  h.c.clusters.upsert('db/basic', h.tc({ paused: true, pd: { replicas: 3 } }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  t.same(h.applied, []);
  t.same(h.pdCalls, []);
  const paused = h.statuses[0]!.conditions!.find((c) => c.type === 'Paused')!;
  t.equal(paused.status, 'True');
  t.match(paused.message, 'transfer PD leadership to basic-pd-0');
});

t.test('unpaused, the same cluster hands PD leadership over before removing basic-pd-4', async (t) => {
  const h = fivePdsLedByTheLast();
  h.c.clusters.upsert('db/basic', h.tc({ pd: { replicas: 3 } }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, ['transfer basic-pd-0']);
  t.equal(h.applied.find((o) => o.kind === 'StatefulSet')!.spec.replicas, 5, 'not shrunk yet');
  h.pd.leader = 'basic-pd-0';
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, ['transfer basic-pd-0', 'delete-member basic-pd-4']);
});

t.test('an invalid spec: nothing applied; Ready=False InvalidSpec naming every bad field', async (t) => {
  const h = harness();
  h.c.clusters.upsert('db/basic', h.tc({ pd: { replicas: -1 }, tidb: { service: { type: 'Bogus' } } }));
  await h.c.reconcile('db/basic');
  t.same(h.applied, []);
  const ready = h.statuses[0]!.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(ready.reason, 'InvalidSpec');
  t.match(ready.message, /spec\.pd\.replicas: .*; spec\.tidb\.service\.type: /);
  t.ok(h.events.includes('InvalidSpec'));
});

t.test('without the webhook: a storage change the running StatefulSets cannot take is refused like an invalid spec', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  for (const c of ['pd', 'tikv'] as const) {
    const sts = h.c.statefulSets.get(`db/basic-${c}`)!;
    h.c.statefulSets.upsert(`db/basic-${c}`, { ...sts, volume: { storageClassName: 'fast', storageSize: c === 'pd' ? '10Gi' : '100Gi' } });
  }
  h.c.clusters.upsert('db/basic', h.tc({ pd: { storageClassName: 'slow', storageSize: '10Gi' }, tikv: { storageClassName: 'fast', storageSize: '50Gi' } }));
  await h.c.reconcile('db/basic');
  t.same(h.applied, [], 'nothing applied');
  const ready = h.statuses[0]!.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(ready.reason, 'InvalidSpec');
  t.match(ready.message, /^the spec is invalid, nothing is changed until it is fixed: spec\.pd\.storageClassName: cannot change from "fast" to "slow": .*; spec\.tikv\.storageSize: cannot shrink from 100Gi to 50Gi: /);
  t.ok(h.events.includes('InvalidSpec'));
  // Put back: reconciled again.
  h.c.clusters.upsert('db/basic', h.tc({ pd: { storageClassName: 'fast', storageSize: '10Gi' }, tikv: { storageClassName: 'fast', storageSize: '100Gi' } }));
  await h.c.reconcile('db/basic');
  t.ok(h.applied.length > 0, 'the same storage as running: applied');
});
