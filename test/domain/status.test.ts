// What `kubectl get tc` and the conditions show: tables of (spec, observed, outcome) → status.
import t from 'tap';
import fc from 'fast-check';
import type { Condition } from '../../src/cluster/schema.ts';
import { deriveStatus, type Outcome } from '../../src/domain/status.ts';
import type { LeavingEntry } from '../../src/domain/drain.ts';
import type { MemberPod, Observed, Step, StoreObserved } from '../../src/domain/steps.ts';
import { makeTc } from '../tidbcluster.ts';

const NOW = Date.parse('2026-01-02T03:04:05.000Z');
const pod = (name: string, over: Partial<MemberPod> = {}): MemberPod => ({ name, ordinal: Number(name.split('-').pop()), phase: 'Running', ready: true, deleting: false, nodeName: 'n1', ...over });
const sts = (replicas: number) => ({ replicas, readyReplicas: replicas, updatedReplicas: replicas, currentRevision: 'r1', updateRevision: 'r1' });
const store = (id: number, podName: string | null, state = 'Up'): StoreObserved => ({ id: String(id), pod: podName, state, leaderCount: 10, regionCount: 30 });
const leaving = (component: 'pd' | 'tikv', member: string, podName: string, act: LeavingEntry['act']): LeavingEntry => ({ component, member, pod: podName, podUid: `uid-${podName}`, since: NOW - 1000, act });
const names = (c: string, n: number) => Array.from({ length: n }, (_, i) => `basic-${c}-${i}`);

function observed(n: { pd?: number; tikv?: number; tidb?: number } = {}): Observed {
  const pd = n.pd ?? 3, tikv = n.tikv ?? 3, tidb = n.tidb ?? 2;
  return {
    now: NOW,
    sts: { pd: sts(pd), tikv: sts(tikv), tidb: sts(tidb) },
    pods: { pd: names('pd', pd).map((p) => pod(p)), tikv: names('tikv', tikv).map((p) => pod(p)), tidb: names('tidb', tidb).map((p) => pod(p)) },
    pd: { reachable: true, members: names('pd', pd).map((m) => ({ name: m, healthy: true })), leader: pd ? 'basic-pd-0' : null },
    stores: names('tikv', tikv).map((p, i) => store(i + 1, p)),
    maxReplicas: 3,
    evicting: [],
    ledger: { leaving: [], evictions: [] },
  };
}
const step = (over: Partial<Step> = {}): Step => ({ component: 'pd', replicas: null, actions: [], block: null, progress: null, refused: null, events: [], requeueAfterMs: null, ...over });
const outcome = (over: Partial<Outcome> = {}): Outcome => ({ steps: [], paused: false, invalid: null, pending: [], held: [], ...over });
const cond = (list: Condition[] | undefined, type: string) => {
  const c = list?.find((x) => x.type === type);
  return c ? `${c.status} ${c.reason}: ${c.message}` : 'absent';
};
const suspendedObs = () => {
  const o = observed();
  o.pods = { pd: [], tikv: [], tidb: [] };
  o.sts = { pd: { ...sts(0) }, tikv: sts(0), tidb: sts(0) };
  o.pd = { reachable: false, members: [], leader: null };
  o.stores = null;
  return o;
};

t.test('a healthy cluster is Ready and Normal', async (t) => {
  const tc = makeTc().generation(7).obj();
  const s = deriveStatus(tc, observed(), outcome());
  t.equal(s.observedGeneration, 7);
  t.equal(s.phase, 'Normal');
  t.same(s.conditions?.map((c) => c.type), ['Ready', 'Progressing', 'Paused', 'Suspended', 'Degraded']);
  t.ok(s.conditions?.every((c) => c.observedGeneration === 7 && c.lastTransitionTime === '2026-01-02T03:04:05.000Z'));
  t.equal(cond(s.conditions, 'Ready'), 'True ClusterReady: PD 3/3 (leader basic-pd-0), TiKV 3/3 stores Up, TiDB 2/2 ready');
  t.equal(cond(s.conditions, 'Progressing'), 'False Settled: nothing to change');
  t.equal(cond(s.conditions, 'Paused'), 'False NotPaused: changes are applied');
  t.equal(cond(s.conditions, 'Suspended'), 'False NotSuspended: the cluster runs');
  t.equal(cond(s.conditions, 'Degraded'), 'False AsExpected: every member is healthy');
  t.same(s.pd, {
    phase: 'Normal', replicas: 3, readyReplicas: 3, ready: '3/3', leader: 'basic-pd-0', bootstrapped: true, currentRevision: 'r1', updateRevision: 'r1', updatedReplicas: 3,
    members: [{ name: 'basic-pd-0', health: true, leader: true }, { name: 'basic-pd-1', health: true, leader: false }, { name: 'basic-pd-2', health: true, leader: false }],
  });
  t.same(s.tikv, {
    phase: 'Normal', replicas: 3, readyReplicas: 3, ready: '3/3', currentRevision: 'r1', updateRevision: 'r1', updatedReplicas: 3,
    stores: [1, 2, 3].map((id) => ({ id: String(id), pod: `basic-tikv-${id - 1}`, state: 'Up', leaderCount: 10, regionCount: 30 })),
  });
  t.same(s.tidb, { phase: 'Normal', replicas: 2, readyReplicas: 2, ready: '2/2', currentRevision: 'r1', updateRevision: 'r1', updatedReplicas: 2, members: [{ name: 'basic-tidb-0', ready: true }, { name: 'basic-tidb-1', ready: true }] });
});

t.test('status lists: members sorted by name, stores by numeric id, only this cluster\'s stores', async (t) => {
  const o = observed();
  o.pd.members = [{ name: 'basic-pd-2', healthy: true }, { name: 'basic-pd-0', healthy: true }, { name: 'basic-pd-1', healthy: true }];
  o.pd.leader = 'basic-pd-2';
  o.stores = [store(10, 'basic-tikv-2'), store(9, 'basic-tikv-1'), store(2, 'basic-tikv-0'), store(4, 'other-tikv-0'), store(5, null), store(6, 'x-basic-tikv-0')];
  const s = deriveStatus(makeTc().obj(), o, outcome());
  t.same(s.pd?.members?.map((m) => `${m.name}${m.leader ? '*' : ''}`), ['basic-pd-0', 'basic-pd-1', 'basic-pd-2*']);
  t.equal(s.pd?.leader, 'basic-pd-2');
  t.same(s.tikv?.stores?.map((x) => x.id), ['2', '9', '10']);
  t.equal(s.phase, 'Normal');
});

t.test('a Serving store counts as Up; a Tombstone of a replaced pod does not hide the new store', async (t) => {
  const o = observed();
  o.stores = [store(1, 'basic-tikv-0', 'Serving'), store(2, 'basic-tikv-1', 'Tombstone'), store(3, 'basic-tikv-2'), store(7, 'basic-tikv-1')];
  const s = deriveStatus(makeTc().obj(), o, outcome());
  t.equal(s.tikv?.readyReplicas, 3);
  t.equal(s.phase, 'Normal');
});

t.test('why the cluster is not Ready, in the order a user needs it', async (t) => {
  const block = { code: 'WaitingForPDQuorum', message: 'PD has 1 of 3 healthy' };
  const progress = { code: 'ScalingOutTiKV', message: 'TiKV 3 → 4' };
  const refused = { code: 'ScaleInRefused', message: 'would lose quorum' };
  const table: Array<{ name: string; o?: (o: Observed) => void; out?: Partial<Outcome>; ready: string; progressing?: string; degraded?: string; phase: string }> = [
    { name: 'invalid spec', out: { invalid: 'spec.pd.replicas: bad' }, ready: 'False InvalidSpec: spec.pd.replicas: bad', progressing: 'False InvalidSpec: spec.pd.replicas: bad', phase: 'Failed' },
    { name: 'pending pods', out: { pending: [{ pod: 'basic-tikv-2', code: 'InsufficientCPU', message: 'a' }, { pod: 'basic-tidb-1', code: 'NoStorageClass', message: 'b' }] }, o: (o) => (o.pods.tikv[2]!.phase = 'Pending'), ready: 'False PodsPending: a; b', degraded: 'True InsufficientCPU: a; b', phase: 'Waiting' },
    { name: 'pending pods of a ready cluster do not hide Ready', out: { pending: [{ pod: 'basic-tikv-2', code: 'InsufficientCPU', message: 'a' }] }, ready: 'True ClusterReady: PD 3/3 (leader basic-pd-0), TiKV 3/3 stores Up, TiDB 2/2 ready', degraded: 'True InsufficientCPU: a', phase: 'Normal' },
    { name: 'blocked', out: { steps: [step(), step({ component: 'tikv', block })] }, ready: 'False WaitingForPDQuorum: PD has 1 of 3 healthy', progressing: 'True WaitingForPDQuorum: PD has 1 of 3 healthy', phase: 'Waiting' },
    { name: 'scaling', out: { steps: [step({ component: 'tikv', progress })] }, o: (o) => (o.sts.tikv = { ...sts(3), replicas: 4 }), ready: 'False ScalingOutTiKV: TiKV 3 → 4', progressing: 'True ScalingOutTiKV: TiKV 3 → 4', phase: 'Scaling' },
    { name: 'other progress is Waiting', out: { steps: [step({ component: 'tikv', progress: { code: 'StoreOffline', message: 'store 3 offline' } })] }, o: (o) => (o.pods.tidb[0]!.ready = false), ready: 'False StoreOffline: store 3 offline', phase: 'Waiting' },
    { name: 'progress wins over block in Progressing', out: { steps: [step({ block }), step({ component: 'tikv', progress })] }, ready: 'False WaitingForPDQuorum: PD has 1 of 3 healthy', progressing: 'True ScalingOutTiKV: TiKV 3 → 4', phase: 'Scaling' },
    { name: 'refused scale-in', out: { steps: [step({ refused })] }, o: (o) => (o.sts.pd = { ...sts(3), replicas: 5 }), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', progressing: 'False ScaleInRefused: would lose quorum', degraded: 'True ScaleInRefused: would lose quorum', phase: 'Waiting' },
    { name: 'unhealthy PD', o: (o) => (o.pd.members[1]!.healthy = false, o.pd.members[2]!.healthy = false), ready: 'False PDUnhealthy: PD members not healthy: basic-pd-1, basic-pd-2', degraded: 'True PDMemberUnhealthy: not serving: PD member basic-pd-1 failed (PD member basic-pd-1 does not answer its health check); PD member basic-pd-2 failed (PD member basic-pd-2 does not answer its health check)', phase: 'Waiting' },
    { name: 'a store down', o: (o) => (o.stores![1]!.state = 'Down'), ready: 'False TiKVStoreNotUp: 2 of 3 TiKV stores Up', degraded: 'True StoreDown: not serving: store 2 (basic-tikv-1) failed (store 2 is Down)', phase: 'Waiting' },
    { name: 'two stores down', o: (o) => (o.stores![0]!.state = 'Down', o.stores![2]!.state = 'Disconnected'), ready: 'False TiKVStoreNotUp: 1 of 3 TiKV stores Up', degraded: 'True StoreDown: not serving: store 1 (basic-tikv-0) failed (store 1 is Down); store 3 (basic-tikv-2) failed (store 3 is Disconnected)', phase: 'Waiting' },
    { name: 'a store disconnected', o: (o) => (o.stores![0]!.state = 'Disconnected'), ready: 'False TiKVStoreNotUp: 2 of 3 TiKV stores Up', degraded: 'True StoreDown: not serving: store 1 (basic-tikv-0) failed (store 1 is Disconnected)', phase: 'Waiting' },
    { name: 'a down store whose pod is gone, nothing recorded: away, Degraded', o: (o) => (o.stores![2]!.state = 'Down', o.pods.tikv.pop()), ready: 'False TiKVStoreNotUp: 2 of 3 TiKV stores Up', degraded: 'True StoreDown: not serving: store 3 (basic-tikv-2) away (it has no pod)', phase: 'Waiting' },
    { name: 'a down store whose pod went by a recorded scale-in: leaving, not Degraded', o: (o) => (o.stores![2]!.state = 'Down', o.pods.tikv.pop(), o.ledger.leaving.push(leaving('tikv', '3', 'basic-tikv-2', 'scale-in'))), ready: 'False TiKVStoreNotUp: 2 of 3 TiKV stores Up', degraded: 'False MembersChanging: no member failed; changing on purpose: store 3 (basic-tikv-2) leaving (its scale-in was allowed)', phase: 'Waiting' },
    { name: 'an Offline store nobody recorded (pd-ctl) is not Up: Degraded, but not Down', o: (o) => (o.stores![2]!.state = 'Offline'), ready: 'False TiKVStoreNotUp: 2 of 3 TiKV stores Up', degraded: 'True StoreNotUp: not serving: store 3 (basic-tikv-2) failed (store 3 is Offline)', phase: 'Waiting' },
    { name: 'stores unknown: Degraded Unknown, never "every member is healthy"', o: (o) => (o.stores = null), ready: 'False TiKVStoreNotUp: 0 of 3 TiKV stores Up', degraded: "Unknown StoresUnknown: TiKV stores' state is unknown: PD did not list its stores", phase: 'Waiting' },
    { name: 'a PD pod not Ready: its member is away', o: (o) => (o.pods.pd[1]!.ready = false), ready: 'False StatefulSetNotReady: pods ready: PD 2/3, TiKV 3/3, TiDB 2/2', degraded: 'True PDMemberUnhealthy: not serving: PD member basic-pd-1 away (pod basic-pd-1 is not Ready)', phase: 'Waiting' },
    { name: 'a PD member being drained (eviction recorded): leaving, not Degraded', o: (o) => (o.pods.pd[2]!.deleting = true, o.ledger.leaving.push(leaving('pd', 'basic-pd-2', 'basic-pd-2', 'eviction'))), ready: 'False StatefulSetNotReady: pods ready: PD 2/3, TiKV 3/3, TiDB 2/2', degraded: 'False MembersChanging: no member failed; changing on purpose: PD member basic-pd-2 leaving (its eviction was allowed)', phase: 'Waiting' },
    { name: 'a new TiKV pod not in PD yet: joining, not Degraded', o: (o) => o.pods.tikv.push(pod('basic-tikv-3')), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 4/3, TiDB 2/2', degraded: 'False MembersChanging: no member failed; changing on purpose: store basic-tikv-3 (basic-tikv-3) joining (pod basic-tikv-3 is not a member in PD yet)', phase: 'Waiting' },
    { name: 'a pod not ready', o: (o) => (o.pods.tidb[1]!.ready = false), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 1/2', phase: 'Waiting' },
    { name: 'a pod not Running', o: (o) => (o.pods.pd[1]!.phase = 'Pending'), ready: 'False StatefulSetNotReady: pods ready: PD 2/3, TiKV 3/3, TiDB 2/2', phase: 'Waiting' },
    { name: 'a pod being deleted', o: (o) => (o.pods.tikv[0]!.deleting = true), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 2/3, TiDB 2/2', phase: 'Waiting' },
    { name: 'no PD leader, never bootstrapped: still creating', o: (o) => (o.pd.leader = null), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', phase: 'Creating' },
    { name: 'an extra healthy PD member', o: (o) => o.pd.members.push({ name: 'basic-pd-3', healthy: true }), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', phase: 'Waiting' },
    { name: 'rolling upgrade: revisions differ', o: (o) => (o.sts.tikv = { ...sts(3), updateRevision: 'r2' }), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', progressing: 'True RollingOut: StatefulSets are being brought to their desired state', phase: 'Waiting' },
    { name: 'StatefulSet not updated', o: (o) => (o.sts.tidb = { ...sts(2), updatedReplicas: 1 }), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', progressing: 'True RollingOut: StatefulSets are being brought to their desired state', phase: 'Waiting' },
    { name: 'StatefulSet not ready', o: (o) => (o.sts.pd = { ...sts(3), readyReplicas: 2 }), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', progressing: 'True RollingOut: StatefulSets are being brought to their desired state', phase: 'Waiting' },
    { name: 'a StatefulSet missing', o: (o) => (o.sts.tidb = null), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', progressing: 'True RollingOut: StatefulSets are being brought to their desired state', phase: 'Waiting' },
    { name: 'creating: no PD StatefulSet yet', o: (o) => (o.sts.pd = null, o.pd.leader = null), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', phase: 'Creating' },
    { name: 'creating: PD not bootstrapped', o: (o) => (o.pd = { reachable: false, members: [], leader: null }), ready: 'False StatefulSetNotReady: pods ready: PD 3/3, TiKV 3/3, TiDB 2/2', phase: 'Creating' },
    { name: 'PD reachable with leader but pd sts not ready: bootstrapped', o: (o) => (o.pods.pd[0]!.ready = false), phase: 'Waiting', ready: 'False StatefulSetNotReady: pods ready: PD 2/3, TiKV 3/3, TiDB 2/2' },
  ];
  for (const c of table) {
    const o = observed();
    c.o?.(o);
    const s = deriveStatus(makeTc().obj(), o, outcome(c.out));
    t.equal(cond(s.conditions, 'Ready'), c.ready, `${c.name}: Ready`);
    if (c.progressing) t.equal(cond(s.conditions, 'Progressing'), c.progressing, `${c.name}: Progressing`);
    if (c.degraded) t.equal(cond(s.conditions, 'Degraded'), c.degraded, `${c.name}: Degraded`);
    t.equal(s.phase, c.phase, `${c.name}: phase`);
  }
});

t.test('component phases and counts', async (t) => {
  const o = observed();
  o.pods.tidb[0]!.ready = false;
  o.stores![0]!.state = 'Offline';
  const s = deriveStatus(makeTc().obj(), o, outcome());
  t.same([s.pd?.phase, s.tikv?.phase, s.tidb?.phase], ['Normal', 'Waiting', 'Waiting']);
  t.same([s.tikv?.ready, s.tidb?.ready], ['2/3', '1/2']);
  t.same(s.tidb?.members, [{ name: 'basic-tidb-0', ready: false }, { name: 'basic-tidb-1', ready: true }]);
  const o2 = observed();
  o2.pods.tidb[1]!.phase = 'Pending';
  t.same(deriveStatus(makeTc().obj(), o2, outcome()).tidb?.members?.[1], { name: 'basic-tidb-1', ready: false });
  const o3 = observed();
  o3.pd.leader = null;
  const s3 = deriveStatus(makeTc().obj(), o3, outcome());
  t.notOk('leader' in (s3.pd ?? {}), 'no leader field without a leader');
  t.equal(s3.pd?.members?.filter((m) => m.leader).length, 0);
});

t.test('paused: changes held are named', async (t) => {
  const held = deriveStatus(makeTc().obj(), observed(), outcome({ paused: true, held: ['scale TiKV 3 → 4', 'upgrade'] }));
  t.equal(held.phase, 'Paused');
  t.equal(cond(held.conditions, 'Paused'), 'True Paused: spec.paused: changes held: scale TiKV 3 → 4; upgrade');
  t.equal(cond(held.conditions, 'Progressing'), 'False Paused: held while paused: scale TiKV 3 → 4; upgrade');
  const idle = deriveStatus(makeTc().obj(), observed(), outcome({ paused: true }));
  t.equal(cond(idle.conditions, 'Paused'), 'True Paused: spec.paused: no change is made to the cluster objects');
  t.equal(cond(idle.conditions, 'Progressing'), 'False Settled: nothing to change');
  t.equal(idle.phase, 'Paused');
  const refused = deriveStatus(makeTc().obj(), observed(), outcome({ paused: true, held: ['x'], steps: [step({ refused: { code: 'R', message: 'no' } })] }));
  t.equal(cond(refused.conditions, 'Progressing'), 'False R: no');
  const invalid = deriveStatus(makeTc().obj(), observed(), outcome({ paused: true, invalid: 'bad' }));
  t.equal(invalid.phase, 'Failed');
});

t.test('suspend: Suspending until every pod is gone, then Suspended', async (t) => {
  const tc = makeTc().spec({ suspend: true }).obj();
  const going = observed();
  going.pods.tidb = [];
  going.sts.tidb = sts(0);
  const block = { code: 'WaitingForTiDBStop', message: 'stopping TiKV' };
  const s = deriveStatus(tc, going, outcome({ steps: [step({ component: 'tikv', block })] }));
  t.equal(s.phase, 'Suspending');
  t.equal(cond(s.conditions, 'Ready'), 'False Suspended: the cluster is being suspended');
  t.equal(cond(s.conditions, 'Suspended'), 'False Suspending: stopping TiKV');
  t.equal(cond(s.conditions, 'Progressing'), 'True WaitingForTiDBStop: stopping TiKV');
  t.same([s.pd?.phase, s.tikv?.phase, s.tidb?.phase], ['Suspending', 'Suspending', 'Suspended']);
  t.same([s.pd?.replicas, s.tikv?.ready, s.tidb?.ready], [0, '0/0', '0/0']);
  const s1 = deriveStatus(tc, going, outcome());
  t.equal(cond(s1.conditions, 'Suspended'), 'False Suspending: stopping TiDB, then TiKV, then PD');
  t.equal(cond(s1.conditions, 'Progressing'), 'True RollingOut: StatefulSets are being brought to their desired state');
  // While suspending, unhealthy members and down stores are expected, not Degraded, and not "every member is healthy" either.
  going.pd.members[0]!.healthy = false;
  going.stores![0]!.state = 'Down';
  t.equal(cond(deriveStatus(tc, going, outcome()).conditions, 'Degraded'), 'False Suspend: members stop on purpose while the cluster is suspended');

  const done = deriveStatus(tc, suspendedObs(), outcome());
  t.equal(done.phase, 'Suspended');
  t.equal(cond(done.conditions, 'Ready'), 'False Suspended: the cluster is suspended (spec.suspend)');
  t.equal(cond(done.conditions, 'Suspended'), 'True Suspended: all pods are stopped; volumes are kept');
  t.equal(cond(done.conditions, 'Progressing'), 'False Settled: nothing to change');
  t.equal(cond(done.conditions, 'Degraded'), 'False Suspend: every member is stopped on purpose (spec.suspend)');
  t.same([done.pd?.phase, done.tikv?.phase, done.tidb?.phase], ['Suspended', 'Suspended', 'Suspended']);
  // Suspended even when a StatefulSet was deleted: nothing left to roll out.
  const noSts = suspendedObs();
  noSts.sts.pd = null;
  t.equal(cond(deriveStatus(tc, noSts, outcome()).conditions, 'Progressing'), 'False Settled: nothing to change');
  // A suspended cluster with PD pods still around is not suspended.
  const pdLeft = suspendedObs();
  pdLeft.pods.pd = [pod('basic-pd-0')];
  t.equal(deriveStatus(tc, pdLeft, outcome()).phase, 'Suspending');
  const tikvLeft = suspendedObs();
  tikvLeft.pods.tikv = [pod('basic-tikv-0')];
  t.equal(deriveStatus(tc, tikvLeft, outcome()).phase, 'Suspending');
  const tikvAndTidbLeft = suspendedObs();
  tikvAndTidbLeft.pods.tikv = [pod('basic-tikv-0')];
  tikvAndTidbLeft.pods.tidb = [pod('basic-tidb-0')];
  t.equal(deriveStatus(tc, tikvAndTidbLeft, outcome()).phase, 'Suspending');
  const tidbLeft = suspendedObs();
  tidbLeft.pods.tidb = [pod('basic-tidb-0')];
  t.equal(deriveStatus(tc, tidbLeft, outcome()).phase, 'Suspending');
  // Invalid wins over suspend.
  t.equal(cond(deriveStatus(tc, suspendedObs(), outcome({ invalid: 'bad' })).conditions, 'Ready'), 'False InvalidSpec: bad');
});

t.test('a not suspended cluster with no pods is not Suspended', async (t) => {
  const o = suspendedObs();
  const s = deriveStatus(makeTc().obj(), o, outcome());
  t.equal(cond(s.conditions, 'Suspended'), 'False NotSuspended: the cluster runs');
  t.equal(cond(s.conditions, 'Progressing'), 'True RollingOut: StatefulSets are being brought to their desired state');
  t.equal(s.phase, 'Creating');
  t.equal(s.pd?.bootstrapped, false);
});

t.test('a bootstrapped cluster stays bootstrapped when PD does not answer', async (t) => {
  const o = observed();
  o.pd = { reachable: false, members: [], leader: null };
  const s = deriveStatus(makeTc().status({ pd: { bootstrapped: true } }).obj(), o, outcome());
  t.equal(s.pd?.bootstrapped, true);
  t.equal(s.phase, 'Waiting');
});


t.test('conditions keep their transition time while the status holds', async (t) => {
  const first = deriveStatus(makeTc().obj(), observed(), outcome());
  const later = { ...observed(), now: NOW + 60_000 };
  later.pods.tidb[0]!.ready = false;
  const s = deriveStatus(makeTc().generation(2).status(first).obj(), later, outcome());
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  const paused = s.conditions?.find((c) => c.type === 'Paused');
  t.equal(ready?.lastTransitionTime, '2026-01-02T03:05:05.000Z', 'Ready flipped');
  t.equal(paused?.lastTransitionTime, '2026-01-02T03:04:05.000Z', 'Paused did not');
  t.equal(paused?.observedGeneration, 2);
});

t.test('finding 9: PD unreachable never reads as "every member is healthy"', async (t) => {
  const o = observed();
  o.pd = { reachable: false, error: 'PD is unreachable (http://pd: connect ECONNREFUSED)', members: [], leader: null };
  o.stores = null;
  const s = deriveStatus(makeTc().status({ pd: { bootstrapped: true } }).obj(), o, outcome());
  t.equal(cond(s.conditions, 'Degraded'), "Unknown PDUnreachable: members' health is unknown: PD is unreachable (http://pd: connect ECONNREFUSED)");
  t.match(cond(s.conditions, 'Ready'), /^False /);
});

t.test('status.members: each PD member and TiKV store with its state from the member model', async (t) => {
  const table: Array<{ name: string; o: (o: Observed) => void; members: string[] }> = [
    { name: 'all serving', o: () => undefined, members: ['pd basic-pd-0 serving', 'pd basic-pd-1 serving', 'pd basic-pd-2 serving', 'tikv 1 serving', 'tikv 2 serving', 'tikv 3 serving'] },
    { name: 'a PD member hung (pod Ready, no health answer): failed', o: (o) => (o.pd.members[1]!.healthy = false), members: ['pd basic-pd-0 serving', 'pd basic-pd-1 failed', 'pd basic-pd-2 serving', 'tikv 1 serving', 'tikv 2 serving', 'tikv 3 serving'] },
    { name: 'a store Tombstone is left out, its new store listed', o: (o) => (o.stores![2]!.state = 'Tombstone', o.stores!.push(store(9, 'basic-tikv-2'))), members: ['pd basic-pd-0 serving', 'pd basic-pd-1 serving', 'pd basic-pd-2 serving', 'tikv 1 serving', 'tikv 2 serving', 'tikv 9 serving'] },
    { name: 'a TiKV pod terminating: leaving', o: (o) => (o.pods.tikv[0]!.deleting = true), members: ['pd basic-pd-0 serving', 'pd basic-pd-1 serving', 'pd basic-pd-2 serving', 'tikv 1 leaving', 'tikv 2 serving', 'tikv 3 serving'] },
    { name: 'a PD pod missing: away; a new PD pod: joining', o: (o) => (o.pods.pd.splice(2, 1), o.pods.pd.push(pod('basic-pd-3'))), members: ['pd basic-pd-0 serving', 'pd basic-pd-1 serving', 'pd basic-pd-2 away', 'pd basic-pd-3 joining', 'tikv 1 serving', 'tikv 2 serving', 'tikv 3 serving'] },
    { name: "another cluster's stores are not listed", o: (o) => o.stores!.push(store(7, 'other-tikv-0')), members: ['pd basic-pd-0 serving', 'pd basic-pd-1 serving', 'pd basic-pd-2 serving', 'tikv 1 serving', 'tikv 2 serving', 'tikv 3 serving'] },
    { name: 'PD unreachable: no member is listed (unknown, not healthy)', o: (o) => (o.pd = { reachable: false, members: [], leader: null }, o.stores = null), members: [] },
  ];
  for (const c of table) {
    const o = observed();
    c.o(o);
    const s = deriveStatus(makeTc().obj(), o, outcome());
    t.same(s.members?.map((m) => `${m.component} ${m.name} ${m.state}`), c.members, c.name);
  }
  const hung = observed();
  hung.pd.members[1]!.healthy = false;
  t.same(deriveStatus(makeTc().obj(), hung, outcome()).members?.[1], { component: 'pd', name: 'basic-pd-1', pod: 'basic-pd-1', state: 'failed', reason: 'PD member basic-pd-1 does not answer its health check' });
});

t.test('property: Degraded never contradicts the member list', async (t) => {
  const podState = fc.constantFrom('ready', 'notReady', 'deleting', 'missing');
  const arb = fc.record({
    pdHealthy: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    pdPods: fc.array(podState, { minLength: 3, maxLength: 3 }),
    stores: fc.array(fc.constantFrom('Up', 'Down', 'Disconnected', 'Offline', 'Tombstone', 'Serving'), { minLength: 3, maxLength: 3 }),
    tikvPods: fc.array(podState, { minLength: 3, maxLength: 3 }),
    recorded: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    pdReachable: fc.boolean(),
    storesKnown: fc.boolean(),
    suspend: fc.boolean(),
    refused: fc.boolean(),
  });
  fc.assert(
    fc.property(arb, (a) => {
      const o = observed();
      const podsOf = (list: MemberPod[], states: string[]) =>
        list.flatMap((p, i) => (states[i] === 'missing' ? [] : [{ ...p, ready: states[i] !== 'notReady', deleting: states[i] === 'deleting' }]));
      o.pods.pd = podsOf(o.pods.pd, a.pdPods);
      o.pods.tikv = podsOf(o.pods.tikv, a.tikvPods);
      o.pd.members.forEach((m, i) => (m.healthy = a.pdHealthy[i]!));
      o.stores!.forEach((s, i) => (s.state = a.stores[i]!));
      if (!a.pdReachable) o.pd = { reachable: false, members: [], leader: null };
      if (!a.storesKnown || !a.pdReachable) o.stores = null;
      a.recorded.forEach((r, i) => {
        if (r) o.ledger.leaving.push(i < 3 ? leaving('pd', `basic-pd-${i}`, `basic-pd-${i}`, 'eviction') : leaving('tikv', String(i - 2), `basic-tikv-${i - 3}`, 'scale-in'));
      });
      const tc = makeTc().spec({ suspend: a.suspend }).status({ pd: { bootstrapped: true } }).obj();
      const s = deriveStatus(tc, o, outcome(a.refused ? { steps: [step({ refused: { code: 'ScaleInRefused', message: 'no' } })] } : {}));
      const d = s.conditions!.find((c) => c.type === 'Degraded')!;
      const states = (s.members ?? []).map((m) => m.state);
      if (d.reason === 'AsExpected') {
        if (!states.every((x) => x === 'serving') || !a.pdReachable || !a.storesKnown || a.suspend) throw new Error(`"${d.message}" beside ${JSON.stringify(s.members)}`);
      }
      if (!a.suspend && a.pdReachable && a.storesKnown && states.some((x) => x === 'failed' || x === 'away') && d.status !== 'True') throw new Error(`Degraded ${d.status} ${d.reason} beside ${JSON.stringify(s.members)}`);
      if (!a.suspend && (!a.pdReachable || !a.storesKnown) && d.status !== 'Unknown') throw new Error(`Degraded ${d.status} ${d.reason} with PD's side unknown`);
      if (d.status === 'True' && /^(PDMemberUnhealthy|StoreDown|StoreNotUp)$/.test(d.reason)) {
        for (const m of s.members!.filter((x) => x.state === 'failed' || x.state === 'away')) if (!d.message.includes(m.component === 'pd' ? `PD member ${m.name}` : `store ${m.name}`)) throw new Error(`${d.message} does not name ${m.name}`);
      }
    }),
    { numRuns: 500 },
  );
  t.pass('500 random clusters: AsExpected only when every member serves; a failed or away member is Degraded=True and named; PD unknown is Unknown');
});
