// Scale, suspend and gating decisions: tables of (cluster, observed) → step.
import t from 'tap';
import { decidePd, decideSuspend, decideTidb, decideTikv, pdQuorum } from '../../src/domain/steps.ts';
import { makeTc } from '../tidbcluster.ts';

import { observed, pod, sts, store } from './observed.ts';

const bootstrapped = { pd: { bootstrapped: true } };
const policy = { evictTimeoutMs: 60_000 };

t.test('PD', async (t) => {
  t.test('creation: all initial members at once; later components wait for quorum', async (t) => {
    const tc = makeTc().obj();
    const o = observed({ leader: null, members: [] });
    o.sts.pd = null;
    o.pods.pd = [];
    const s = decidePd(tc, o);
    t.equal(s.replicas, 3);
    t.equal(s.block?.code, 'WaitingForPDQuorum');
  });
  t.test('scale out one member at a time, after the previous joined', async (t) => {
    const tc = makeTc().spec({ pd: { replicas: 5 } }).status(bootstrapped).obj();
    t.equal(decidePd(tc, observed()).replicas, 4, '3 → 4 first');
    const joining = observed({ pd: 4, members: ['basic-pd-0', 'basic-pd-1', 'basic-pd-2'] });
    const s = decidePd(tc, joining);
    t.equal(s.replicas, 4, 'waits for basic-pd-3 to join');
    t.match(s.progress?.message, /waiting for the 4 PD members/);
    t.equal(decidePd(tc, observed({ pd: 4 })).replicas, 5, 'then 4 → 5');
  });
  t.test('scale in: leader handed over, member removed, then the StatefulSet shrinks', async (t) => {
    const tc = makeTc().spec({ pd: { replicas: 3 } }).status(bootstrapped).obj();
    const leaderIsVictim = decidePd(tc, observed({ pd: 5, leader: 'basic-pd-4' }));
    t.equal(leaderIsVictim.replicas, 5);
    t.equal(leaderIsVictim.actions[0]?.type, 'transfer-pd-leader');
    t.match(leaderIsVictim.actions[0], { to: 'basic-pd-0' }, 'to a member that stays');
    const notLeader = decidePd(tc, observed({ pd: 5 }));
    t.same(notLeader.actions, [{ type: 'delete-pd-member', name: 'basic-pd-4' }]);
    t.equal(notLeader.replicas, 5, 'the pod stays until the member is gone');
    const removed = decidePd(tc, observed({ pd: 5, members: ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3'] }));
    t.equal(removed.replicas, 4);
    t.same(removed.actions, []);
    t.equal(removed.events[0]?.reason, 'PDMemberRemoved');
  });
  t.test('scale in waits while removing a member would break quorum', async (t) => {
    const tc = makeTc().spec({ pd: { replicas: 1 } }).status(bootstrapped).obj();
    const s = decidePd(tc, observed({ pd: 3, unhealthy: ['basic-pd-1'] }));
    t.same(s.actions, []);
    t.match(s.progress?.message, /below the quorum of 2/);
  });
  t.test('quorum', async (t) => {
    t.equal(pdQuorum(observed()).ok, true);
    t.match(pdQuorum(observed({ unhealthy: ['basic-pd-0', 'basic-pd-1'] })).message, '1 of 3 PD members are healthy, below the quorum of 2');
    t.match(pdQuorum(observed({ pdReachable: false })).message, /does not answer/);
    t.match(pdQuorum(observed({ leader: null })).message, /no leader/);
  });
  t.test('a resumed cluster starts every member at once', async (t) => {
    const tc = makeTc().status(bootstrapped).obj();
    const o = observed({ leader: null, members: [] });
    o.sts.pd = sts(0);
    t.equal(decidePd(tc, o).replicas, 3);
  });
});

t.test('TiKV', async (t) => {
  t.test('scale in: delete the store, wait for Tombstone, then shrink', async (t) => {
    const tc = makeTc().spec({ tikv: { replicas: 3 } }).obj();
    const four = [1, 2, 3, 4].map((i) => store(i, `basic-tikv-${i - 1}`));
    const first = decideTikv(tc, observed({ tikv: 4, stores: four }), policy);
    t.same(first.actions, [{ type: 'delete-store', storeId: '4' }]);
    t.equal(first.replicas, 4);
    const offline = decideTikv(tc, observed({ tikv: 4, stores: [...four.slice(0, 3), store(4, 'basic-tikv-3', 'Offline')] }), policy);
    t.equal(offline.replicas, 4, 'the pod stays while the store is Offline');
    t.match(offline.progress?.message, /waiting for Tombstone/);
    const tomb = decideTikv(tc, observed({ tikv: 4, stores: [...four.slice(0, 3), store(4, 'basic-tikv-3', 'Tombstone', 0)] }), policy);
    t.equal(tomb.replicas, 3);
    t.equal(tomb.events[0]?.reason, 'StoreTombstoned');
  });
  t.test('scale in refused below max-replicas, with the reason', async (t) => {
    const tc = makeTc().spec({ tikv: { replicas: 2 } }).obj();
    const s = decideTikv(tc, observed({ tikv: 3 }), policy);
    t.same(s.actions, []);
    t.equal(s.replicas, 3);
    t.equal(s.refused?.code, 'ScaleInBlocked');
    t.match(s.refused?.message, "would leave 2 Up stores, fewer than PD's max-replicas 3");
    const lower = decideTikv(tc, observed({ tikv: 3, maxReplicas: 2 }), policy);
    t.same(lower.actions, [{ type: 'delete-store', storeId: '3' }], 'allowed when PD keeps 2 copies');
  });
  t.test('raising replicas cancels a store removal not yet Tombstone (one this controller started)', async (t) => {
    const tc = makeTc().spec({ tikv: { replicas: 4 } }).obj();
    const stores = [1, 2, 3].map((i) => store(i, `basic-tikv-${i - 1}`)).concat(store(4, 'basic-tikv-3', 'Offline'));
    const ledger = { leaving: [{ component: 'tikv' as const, member: '4', pod: 'basic-tikv-3', podUid: 'u', since: 0, act: 'scale-in' as const }], evictions: [] };
    t.same(decideTikv(tc, observed({ tikv: 4, stores }), policy).actions, [], 'without our scale-in record (an operator took it offline): left alone');
    const s = decideTikv(tc, observed({ tikv: 4, stores, ledger }), policy);
    t.same(s.actions, [{ type: 'cancel-store-removal', storeId: '4' }]);
    t.equal(s.events[0]?.reason, 'ScaleInCancelled');
  });
  t.test('TiDB waits for TiKV stores Up', async (t) => {
    const tc = makeTc().obj();
    const s = decideTikv(tc, observed({ stores: [store(1, 'basic-tikv-0')] }), policy);
    t.equal(s.block?.code, 'WaitingForTiKV');
    t.match(s.block?.message, '1 TiKV stores Up, 3 needed');
    t.equal(decideTikv(tc, observed(), policy).block, null);
    t.equal(decideTikv(tc, observed({ stores: null, pdReachable: false }), policy).block?.code, 'PDUnreachable');
  });
});

t.test('TiDB follows spec', async (t) => {
  t.equal(decideTidb(makeTc().spec({ tidb: { replicas: 4 } }).obj(), observed()).replicas, 4);
});

t.test('suspend: TiDB first, then TiKV one at a time with leaders evicted, then PD', async (t) => {
  const tc = makeTc().spec({ suspend: true }).status(bootstrapped).obj();
  const byC = (steps: ReturnType<typeof decideSuspend>) => Object.fromEntries(steps.map((s) => [s.component, s]));
  const first = byC(decideSuspend(tc, observed(), policy));
  t.equal(first.tidb!.replicas, 0);
  t.equal(first.tikv!.replicas, 3, 'TiKV untouched while TiDB pods remain');
  t.equal(first.pd!.replicas, 3);
  const noTidb = observed();
  noTidb.pods.tidb = [];
  noTidb.sts.tidb = sts(0);
  const evict = byC(decideSuspend(tc, noTidb, policy));
  t.same(evict.tikv!.actions, [{ type: 'evict-leaders', storeId: '3' }]);
  t.equal(evict.tikv!.replicas, 3, 'waits for the leaders to move');
  noTidb.stores![2] = store(3, 'basic-tikv-2', 'Up', 0);
  noTidb.evicting = ['3'];
  const drained = byC(decideSuspend(tc, noTidb, policy));
  t.equal(drained.tikv!.replicas, 2, 'store 3 leads nothing: its pod goes');
  const last = observed({ tikv: 1, stores: [store(1, 'basic-tikv-0')] });
  last.pods.tidb = [];
  const lastStep = byC(decideSuspend(tc, last, policy));
  t.equal(lastStep.tikv!.replicas, 0, 'the last store keeps its leaders: nowhere to go');
  const pdOnly = observed({ tikv: 0 });
  pdOnly.pods.tidb = [];
  pdOnly.pods.tikv = [];
  const pdStep = byC(decideSuspend(tc, pdOnly, policy));
  t.equal(pdStep.pd!.replicas, 0);
});

t.test('finding 8: TiKV stores get their nodes\' zone and host labels in PD; PD gets location-labels when it has none', async (t) => {
  const tc = makeTc().obj();
  const o = observed();
  o.locationLabels = ['zone', 'host'];
  o.pods.tikv = o.pods.tikv.map((p, i) => ({ ...p, nodeName: `node-${i}` }));
  o.nodeLabels = { 'node-0': { 'topology.kubernetes.io/zone': 'z-a', 'kubernetes.io/hostname': 'node-0' }, 'node-1': { 'topology.kubernetes.io/zone': 'z-b', 'kubernetes.io/hostname': 'node-1' } };
  o.stores![1] = { ...o.stores![1]!, labels: { zone: 'z-b', host: 'node-1' } };
  const s = decideTikv(tc, o, policy);
  t.same(s.actions, [{ type: 'set-store-labels', storeId: '1', labels: { zone: 'z-a', host: 'node-0' } }], 'store 1 labelled; store 2 already is; store 3 waits for its node in the cache');
  t.match(s.events, [{ reason: 'StoreLabelled', message: /store 1 \(basic-tikv-0\) on node node-0: zone=z-a from node label topology.kubernetes.io\/zone/ }]);
  o.locationLabels = null;
  t.same(decideTikv(tc, o, policy).actions, [], 'PD\'s location-labels unknown: nothing is set');
  const pdStep = decidePd(makeTc().spec({ pd: { topologyKeys: ['topology.kubernetes.io/zone'] } }).status(bootstrapped).obj(), { ...observed(), locationLabels: [] });
  t.same(pdStep.actions, [{ type: 'set-location-labels', labels: ['zone', 'host'] }]);
  t.same(decidePd(makeTc().status(bootstrapped).obj(), { ...observed(), locationLabels: ['rack'] }).actions, [], 'labels PD already has (set on purpose) are left alone');
});
