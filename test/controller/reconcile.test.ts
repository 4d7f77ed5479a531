// The reconcile pipeline with in-memory Kubernetes and PD ports: what it applies, what it asks of PD,
// and the status it writes (only on change).
import t from 'tap';
import { pino } from 'pino';
import { TidbClusterController, type ControllerIO, type DisruptionPort, type PdPort } from '../../src/controller/controller.ts';
import { DisruptionAuthority } from '../../src/services/authority.ts';
import { PdAccess } from '../../src/pd/facts.ts';
import { NodeStore, PodStore } from '../../src/state/stores.ts';
import { DrainFakePd, MemoryLedger } from '../drain-fakes.ts';
import type { RawTidbCluster, ControllerPod, ControllerSts } from '../../src/k8s/tidbclusters.ts';
import type { ListWatchSource } from '../../src/k8s/reflector.ts';
import type { TidbClusterStatus } from '../../src/cluster/schema.ts';
import { desiredTemplateHash, type KubeObject } from '../../src/specs/objects.ts';
import { makeTc } from '../tidbcluster.ts';

const never: ListWatchSource = { list: async () => ({ items: [], resourceVersion: '1' }), watch: async () => ({ abort() {} }) };

function harness() {
  const applied: KubeObject[] = [];
  const statuses: TidbClusterStatus[] = [];
  const finalizers: string[][] = [];
  const pdCalls: string[] = [];
  const events: string[] = [];
  const retired: string[] = [];
  const renewed: string[] = [];
  const deleted: string[] = [];
  let rv = 10;
  let now = 1_000_000;
  const io: ControllerIO = {
    apply: async (o) => void applied.push(o),
    writeStatus: async (_ns, _n, s, _rv) => {
      statuses.push(s);
      return String(++rv);
    },
    setFinalizers: async (_ns, _n, f) => void finalizers.push(f),
    diagnosisFacts: async () => ({ nodes: [], storage: { classes: [], defaultClass: null, freeVolumes: [] }, claims: new Map() }),
    retireClaims: async (_ns, claims) => void retired.push(...claims),
    deletePod: async (_ns, name) => void deleted.push(name),
    renewRetiredClaims: async (_ns, claims) => {
      const out = claims.filter((c) => retired.includes(c)).map((claim) => ({ claim, volume: `pv-${claim}` }));
      renewed.push(...out.map((o) => o.claim));
      return out;
    },
  };
  // PD in memory (members, each member's health, stores, evictions, max-replicas, region checks), as
  // the shared snapshot reads it; the controller's writes land here too.
  const pd = new DrainFakePd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  pd.evictStep = 0;
  const port: PdPort = {
    transferLeader: async (to) => void pdCalls.push(`transfer ${to}`),
    deleteMember: async (n) => {
      pdCalls.push(`delete-member ${n}`);
      pd.memberNames = pd.memberNames.filter((m) => m !== n);
    },
    deleteStore: async (id) => {
      pdCalls.push(`delete-store ${id}`);
      const st = pd.storeList.find((x) => x.store.id === id);
      if (st) st.store.state_name = 'Offline';
    },
    cancelStoreRemoval: async (id) => void pdCalls.push(`cancel ${id}`),
    addEvictLeader: async (id) => {
      pdCalls.push(`evict ${id}`);
      await pd.addEvictLeader(id);
    },
    removeEvictLeader: async (id) => void pdCalls.push(`end-evict ${id}`),
    setStoreLabels: async (id, labels) => void pdCalls.push(`label ${id} ${JSON.stringify(labels)}`),
    setLocationLabels: async (labels) => void pdCalls.push(`location-labels ${labels.join(',')}`),
  };
  // The same authority as the drain webhooks', over the pod and node caches and the ledger.
  const pods = new PodStore();
  const nodes = new NodeStore([]);
  nodes.upsert('n1', { name: 'n1', labels: {}, unschedulable: false });
  const ledger = new MemoryLedger();
  const access = new PdAccess({ client: async () => pd, ttlMs: 0, now: () => now });
  const authority = new DisruptionAuthority({ pods, nodes, pd: access, ledger, now: () => now, logger: pino({ level: 'silent' }) });
  const disruptions: DisruptionPort = {
    facts: (ns, c) => access.facts(ns, c),
    invalidate: (ns, c) => access.invalidate(ns, c),
    ledger: async (ns, c) => (await ledger.read(ns, c)).ledger,
    admit: (req) => authority.admit(req),
    recordEviction: (ns, c, r, podName) => ledger.put(ns, c, r, podName),
    dropRecords: async () => undefined,
  };
  const c = new TidbClusterController({
    logger: pino({ level: 'silent' }),
    io,
    pdFor: () => port,
    disruptions,
    events: { emit: (_r, _t, reason) => void events.push(reason) },
    sources: { clusters: never, pods: never, statefulSets: never },
    views: { cluster: () => ({ key: '', value: null }), pod: () => ({ key: '', value: null }), sts: () => ({ key: '', value: null }) },
    evictTimeoutMs: 60_000,
    pendingGraceMs: 10_000,
    relistIntervalMs: 600_000,
    staleAfterMs: 300_000,
    now: () => now,
  });
  const tc = (spec: unknown, status: TidbClusterStatus = {}, finalized = true): RawTidbCluster => ({
    metadata: { name: 'basic', namespace: 'db', uid: 'u1', generation: 2, resourceVersion: '5', ...(finalized ? { finalizers: ['tidb-steward.dev/cleanup'] } : {}) },
    spec,
    status,
  });
  const runningSet = (component: 'pd' | 'tikv' | 'tidb', n: number) => {
    // Running the template the default spec gives: no upgrade under way.
    const templateHash = desiredTemplateHash(makeTc('basic').namespace('db').obj(), component, { replicas: n });
    const sts: ControllerSts = { namespace: 'db', name: `basic-${component}`, cluster: 'basic', component, replicas: n, readyReplicas: n, updatedReplicas: n, currentRevision: 'a', updateRevision: 'a', partition: 0, observed: true, templateHash };
    c.statefulSets.upsert(`db/basic-${component}`, sts);
    for (let i = 0; i < n; i++) {
      const p: ControllerPod = { namespace: 'db', name: `basic-${component}-${i}`, uid: `uid-${component}-${i}`, cluster: 'basic', component, ordinal: i, revision: 'a', phase: 'Running', ready: true, deleting: false, nodeName: 'n1', createdAt: 0, schedulerMessage: null, requests: { cpu: 0, memory: 0 }, nodeSelector: {}, tolerations: [], claims: [] };
      c.pods.upsert(`db/${p.name}`, p);
      if (component !== 'tidb') pods.upsert(`db/${p.name}`, { uid: p.uid!, namespace: 'db', name: p.name, cluster: 'basic', component, nodeName: 'n1', terminal: false, deleting: false, owner: `basic-${component}`, running: true, ready: true, skipDrainCheck: false });
    }
  };
  const setStores = (n: number) => {
    pd.storeList = [];
    for (let i = 0; i < n; i++) pd.addStore(String(i + 1), `basic-tikv-${i}`, 10);
  };
  return { c, applied, statuses, finalizers, pdCalls, events, pd, port, tc, runningSet, setStores, ledger, pods, nodes, retired, renewed, tick: (ms: number) => (now += ms) };
}


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
  h.setStores(3);
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

/** A running cluster of 5 PD members (basic-pd-4 leads), 3 TiKV stores and 2 TiDB pods. */
function fivePdsLedByTheLast() {
  const h = harness();
  h.runningSet('pd', 5);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.pd.memberNames = ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3', 'basic-pd-4'];
  h.pd.leader = 'basic-pd-4';
  h.setStores(3);
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

t.test('one authority: a scale-in waits while drains already took members away, and says why', async (t) => {
  const h = fivePdsLedByTheLast();
  h.pd.leader = 'basic-pd-0';
  // Two node drains were allowed for basic-pd-1 and basic-pd-2 a moment ago (by any replica's webhook).
  await h.ledger.write('db', 'basic', { leaving: [1, 2].map((i) => ({ component: 'pd' as const, member: `basic-pd-${i}`, pod: `basic-pd-${i}`, podUid: `uid-pd-${i}`, since: 999_000, act: 'eviction' as const })), evictions: [], seenEvictions: [] }, null);
  h.c.clusters.upsert('db/basic', h.tc({ pd: { replicas: 3 } }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, [], 'basic-pd-4 is not removed: 2 of 5 would stay');
  const progressing = h.statuses.at(-1)!.conditions!.find((c) => c.type === 'Progressing')!;
  t.match(progressing.message, /waiting to remove PD member basic-pd-4: removing PD member basic-pd-4 would leave 2 of 5 members healthy, below the quorum of 3; waiting for basic-pd-1 \(eviction allowed/);
  // The drained members are back: the scale-in goes on, recorded first.
  await h.ledger.write('db', 'basic', { leaving: [], evictions: [], seenEvictions: [] }, '1');
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, ['delete-member basic-pd-4']);
  t.match((await h.ledger.get('db', 'basic')).leaving, [{ member: 'basic-pd-4', act: 'scale-in' }], 'recorded before PD was asked');
});

t.test('one authority: a TiKV scale-in is recorded before the store is deleted, and a drain then waits for it', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 4);
  h.runningSet('tidb', 2);
  h.setStores(4);
  h.c.clusters.upsert('db/basic', h.tc({ tikv: { replicas: 3 } }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  t.same(h.pdCalls, ['delete-store 4']);
  t.match((await h.ledger.get('db', 'basic')).leaving, [{ component: 'tikv', member: '4', act: 'scale-in', podUid: 'uid-tikv-3' }]);
  const authority = new DisruptionAuthority({ pods: h.pods, nodes: h.nodes, pd: new PdAccess({ client: async () => h.pd, ttlMs: 0, now: () => 1_000_000 }), ledger: h.ledger, now: () => 1_000_000, logger: pino({ level: 'silent' }) });
  const drain = await authority.assess({ namespace: 'db', cluster: 'basic', component: 'tikv', pod: 'basic-tikv-0', podUid: 'uid-tikv-0', act: 'eviction' });
  t.equal(drain.decision.allowed, false, 'a drain of another store waits for the scale-in');
  t.match(drain.decision.reason, /waiting for store 4 \(scale-in allowed/);
});

t.test('suspend: the evictions and the pods stopped are ledger records, not status; nothing is lost with a failed status write', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 0);
  h.setStores(3);
  const write = h.c['opts'].io.writeStatus;
  h.c['opts'].io.writeStatus = async () => {
    throw new Error('the API server is unreachable');
  };
  h.c.clusters.upsert('db/basic', h.tc({ suspend: true }, { pd: { bootstrapped: true } }));
  await t.rejects(h.c.reconcile('db/basic'), /unreachable/);
  t.same(h.pdCalls, ['evict 3']);
  t.match((await h.ledger.get('db', 'basic')).evictions, [{ storeId: '3', cause: 'suspend', podUid: 'uid-tikv-2' }], 'the eviction was recorded in the ledger before PD was asked');
  h.c['opts'].io.writeStatus = write;
  h.pd.storeList[2]!.status.leader_count = 0;
  await h.c.reconcile('db/basic');
  t.match((await h.ledger.get('db', 'basic')).leaving, [{ member: '3', act: 'suspend', podUid: 'uid-tikv-2' }], 'the pod it stops is recorded as a suspend before the StatefulSet shrinks');
  t.equal(h.applied.filter((o) => o.kind === 'StatefulSet' && o.metadata.name === 'basic-tikv').at(-1)!.spec.replicas, 2);
  t.notOk(JSON.stringify(h.statuses).includes('evictLeader'), 'no eviction bookkeeping in status');
});

t.test('resume after the spec was lowered: members and stores beyond it are removed through the authority, their claims retired and renewed on scale-out', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.setStores(3);
  h.pd.memberNames = ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3', 'basic-pd-4'];
  h.pd.silent.add('basic-pd-3');
  h.pd.silent.add('basic-pd-4');
  h.pd.addStore('5', 'basic-tikv-4', 0, 'Down');
  h.c.clusters.upsert('db/basic', h.tc({}, { pd: { bootstrapped: true } }));
  for (let i = 0; i < 4; i++) await h.c.reconcile('db/basic');
  t.same(h.pdCalls, ['delete-member basic-pd-3', 'delete-store 5', 'delete-member basic-pd-4'], 'one member per component at a time, each judged (down members may go)');
  t.same(h.retired, ['pd-basic-pd-3', 'tikv-basic-tikv-4', 'pd-basic-pd-4'], 'their claims are marked so the ordinals start afresh');
  // Scale PD out again to 5: the retired claims go before the StatefulSet grows.
  h.c.clusters.upsert('db/basic', h.tc({ pd: { replicas: 5 } }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  t.same(h.renewed, ['pd-basic-pd-3']);
  t.ok(h.events.includes('ClaimRenewed'));
});

t.test("a PD member whose node went dark: PD's serial /health is never asked; TiKV and TiDB keep scaling and status names the member", async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.setStores(3);
  // Real PD asks its members one after another, 3 s each: with one member dark, /health outlasts any deadline.
  h.pd.health = () => new Promise(() => undefined);
  h.pd.silent.add('basic-pd-2');
  h.c.clusters.upsert('db/basic', h.tc({ tikv: { replicas: 4 }, tidb: { replicas: 3 } }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  const replicas = (name: string) => h.applied.filter((o) => o.kind === 'StatefulSet' && o.metadata.name === name).at(-1)?.spec.replicas;
  t.equal(replicas('basic-tikv'), 4, 'TiKV scaled out');
  t.equal(replicas('basic-tidb'), 3, 'TiDB scaled out');
  const status = h.statuses.at(-1)!;
  t.same(status.pd!.members!.find((m) => m.name === 'basic-pd-2'), { name: 'basic-pd-2', health: false, leader: false });
  t.match(status.conditions!.find((c) => c.type === 'Degraded'), { status: 'True', reason: 'PDMemberUnhealthy', message: /basic-pd-2/ });
});

t.test('a version change: the new template lands with the partition at the replicas, then PD rolls one ordinal at a time through the authority, TiKV waits', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.setStores(3);
  const spec = { version: 'v8.5.5' };
  h.c.clusters.upsert('db/basic', h.tc(spec, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  const pdSts = () => h.applied.filter((o) => o.kind === 'StatefulSet' && o.metadata.name === 'basic-pd').at(-1)!;
  t.equal(pdSts().spec.template.spec.containers[0].image, 'pingcap/pd:v8.5.5');
  t.same(pdSts().spec.updateStrategy.rollingUpdate, { partition: 3 }, 'the new template and the partition in one apply');
  t.notOk(h.applied.some((o) => o.kind === 'StatefulSet' && o.metadata.name !== 'basic-pd'), 'TiKV and TiDB wait for PD');
  t.ok(h.events.includes('UpgradeStarted'));
  // The StatefulSet controller took the template in: a new update revision, no pod at it yet.
  const sts = h.c.statefulSets.get('db/basic-pd')!;
  h.c.statefulSets.upsert('db/basic-pd', { ...sts, partition: 3, updateRevision: 'b', templateHash: pdSts().metadata.annotations['tidb-steward.dev/template-hash'] });
  h.tick(5000);
  await h.c.reconcile('db/basic');
  t.same(pdSts().spec.updateStrategy.rollingUpdate, { partition: 2 }, 'basic-pd-2 first');
  const ledger = await h.ledger.read('db', 'basic');
  t.match(ledger.ledger.leaving, [{ component: 'pd', pod: 'basic-pd-2', podUid: 'uid-pd-2', act: 'restart' }], 'recorded by the authority before the partition moved');
  t.ok(h.events.includes('MemberRestarting'));
  const status = h.statuses.at(-1)!;
  t.match(status.pd, { currentRevision: 'a', updateRevision: 'b', upgrade: { state: 'Rolling', member: 'basic-pd-2' } });
  t.match(status.conditions!.find((c) => c.type === 'Upgrading'), { status: 'True', reason: 'Rolling' });
  t.notOk(h.applied.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'basic-tikv'), 'TiKV still waits');
});

t.test('paused: a version change is held and listed, nothing is applied', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.setStores(3);
  h.c.clusters.upsert('db/basic', h.tc({ version: 'v8.5.5', paused: true }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  t.same(h.applied, []);
  t.same(h.pdCalls, []);
  t.match(h.statuses[0]!.conditions!.find((c) => c.type === 'Paused')!.message, /held: pd rolling upgrade: PD has a new pod template \(version v8\.5\.5\)/);
});

t.test('another member away in the ledger (a drain): the restart waits, the partition stays, the status says why', async (t) => {
  const h = harness();
  h.runningSet('pd', 3);
  h.runningSet('tikv', 3);
  h.runningSet('tidb', 2);
  h.setStores(3);
  h.c.clusters.upsert('db/basic', h.tc({ version: 'v8.5.5' }, { pd: { bootstrapped: true } }));
  await h.c.reconcile('db/basic');
  const pdSts = () => h.applied.filter((o) => o.kind === 'StatefulSet' && o.metadata.name === 'basic-pd').at(-1)!;
  const sts = h.c.statefulSets.get('db/basic-pd')!;
  h.c.statefulSets.upsert('db/basic-pd', { ...sts, partition: 3, updateRevision: 'b', templateHash: pdSts().metadata.annotations['tidb-steward.dev/template-hash'] });
  // A drain took basic-pd-1 away in the ledger a moment ago: the restart of basic-pd-2 must wait.
  await h.ledger.write('db', 'basic', { leaving: [{ component: 'pd', member: 'basic-pd-1', pod: 'basic-pd-1', podUid: 'uid-pd-1', since: 999_000, act: 'eviction' }], evictions: [], seenEvictions: [] }, (await h.ledger.read('db', 'basic')).resourceVersion);
  h.tick(5000);
  const applies = h.applied.length;
  await h.c.reconcile('db/basic');
  t.equal(h.applied.length, applies, 'the partition stays at 3: nothing applied');
  t.notOk(h.events.includes('MemberRestarting'));
  t.match(h.statuses.at(-1)!.pd!.upgrade, { state: 'Rolling', message: /basic-pd-1 still counts as leaving \(eviction\)/ });
});
