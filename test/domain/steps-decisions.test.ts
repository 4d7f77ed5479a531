// Whole steps, compared field by field: the replicas applied, PD calls, Events, conditions' reasons and
// the requeue each (cluster, observed) pair leads to. steps.test.ts tells the story; these tables pin it.
import t from 'tap';
import { decidePd, decideSuspend, decideTidb, decideTikv, pdBootstrapped, pdQuorum, type MemberPod, type Observed, type Step, type StoreObserved } from '../../src/domain/steps.ts';
import { makeTc } from '../tidbcluster.ts';

import { observed, pod, sts, store, upStores } from './observed.ts';

/** The expected step: an idle step of the component with the given fields. */
const want = (component: Step['component'], replicas: number | null, over: Partial<Step> = {}): Step => ({
  component,
  replicas,
  actions: [],
  block: null,
  progress: null,
  refused: null,
  events: [],
  requeueAfterMs: null,
  ...over,
});
const normal = (reason: string, message: string) => ({ type: 'Normal' as const, reason, message });

const bootstrapped = { pd: { bootstrapped: true } };
const policy = { evictTimeoutMs: 60_000 };
const with_ = (o: Observed, f: (o: Observed) => void) => (f(o), o);

t.test('pdQuorum: a leader and a healthy majority, said in words', async (t) => {
  const rows: Array<[string, Observed, { ok: boolean; message: string }]> = [
    ['all healthy', observed(), { ok: true, message: 'PD leader basic-pd-0, 3 of 3 members healthy' }],
    ['exactly a majority healthy', observed({ unhealthy: ['basic-pd-2'] }), { ok: true, message: 'PD leader basic-pd-0, 2 of 3 members healthy' }],
    ['one short of a majority', observed({ pd: 4, unhealthy: ['basic-pd-2', 'basic-pd-3'] }), { ok: false, message: '2 of 4 PD members are healthy, below the quorum of 3' }],
    ['unreachable, with the error', observed({ pdReachable: false, pdError: 'connect ECONNREFUSED' }), { ok: false, message: 'PD does not answer: connect ECONNREFUSED' }],
    ['unreachable, no error text', observed({ pdReachable: false }), { ok: false, message: 'PD does not answer: unreachable' }],
    ['no members yet', observed({ members: [] }), { ok: false, message: 'PD reports no members yet' }],
    ['no leader', observed({ leader: null }), { ok: false, message: 'PD has no leader yet (election in progress)' }],
  ];
  for (const [name, o, expected] of rows) t.same(pdQuorum(o), expected, name);
});

t.test('pdBootstrapped: from status, or from a PD that answers with a leader', async (t) => {
  const rows: Array<[string, boolean, Observed, boolean]> = [
    ['status says so, PD silent', true, observed({ pdReachable: false, leader: null }), true],
    ['PD answers with a leader', false, observed(), true],
    ['PD answers, no leader', false, observed({ leader: null }), false],
    ['PD unreachable (a stale leader does not count)', false, observed({ pdReachable: false }), false],
  ];
  for (const [name, inStatus, o, expected] of rows) {
    const tc = makeTc().status(inStatus ? bootstrapped : {}).obj();
    t.equal(pdBootstrapped(tc, o), expected, name);
  }
});

t.test('decidePd', async (t) => {
  const tc = (pd: number, status: object = bootstrapped) => makeTc().spec({ pd: { replicas: pd } }).status(status).obj();
  const quorumWait = (message: string) => ({ block: { code: 'WaitingForPDQuorum', message: `TiKV waits: ${message}` }, requeueAfterMs: 2000 });
  const rows: Array<[string, ReturnType<typeof tc>, Observed, Step]> = [
    [
      'creation: every member at once, TiKV waits for quorum',
      tc(3, {}),
      with_(observed({ leader: null, members: [] }), (o) => ((o.sts.pd = null), (o.pods.pd = []))),
      want('pd', 3, { events: [normal('StartingPD', 'starting PD with 3 members')], ...quorumWait('PD reports no members yet') }),
    ],
    [
      'resume from zero: every member at once',
      tc(3),
      with_(observed({ leader: null, members: [] }), (o) => ((o.sts.pd = sts(0)), (o.pods.pd = []))),
      want('pd', 3, { events: [normal('StartingPD', 'starting PD with 3 members')], ...quorumWait('PD reports no members yet') }),
    ],
    [
      'not bootstrapped yet and the spec grew: all at once, not one by one',
      tc(3, {}),
      observed({ pd: 1, leader: null }),
      want('pd', 3, { events: [normal('ScalingPD', 'starting PD with 3 members')], ...quorumWait('PD has no leader yet (election in progress)') }),
    ],
    ['not bootstrapped, size right: no Event', tc(3, {}), observed({ leader: null }), want('pd', 3, quorumWait('PD has no leader yet (election in progress)'))],
    ['steady', tc(3), observed(), want('pd', 3)],
    [
      'a bootstrapped cluster whose StatefulSet is gone gets every member back at once',
      tc(3),
      with_(observed({ pdReachable: false }), (o) => ((o.sts.pd = null), (o.pods.pd = []))),
      want('pd', 3, { events: [normal('StartingPD', 'starting PD with 3 members')], block: { code: 'PDUnreachable', message: 'TiKV waits: PD does not answer: unreachable' }, requeueAfterMs: 2000 }),
    ],
    [
      'scale out does not count a ready leftover pod beyond the current replicas',
      tc(5),
      with_(observed(), (o) => ((o.pods.pd[1] = pod('basic-pd-1', { ready: false })), o.pods.pd.push(pod('basic-pd-3')))),
      want('pd', 3, { progress: { code: 'ScalingOutPD', message: 'waiting for the 3 PD members to be ready and healthy before adding the next (2 ready)' }, requeueAfterMs: 2000 }),
    ],
    [
      'scale out adds the next member',
      tc(5),
      observed(),
      want('pd', 4, {
        events: [normal('ScalingOutPD', 'adding PD member basic-pd-3 (3 → 5, one at a time)')],
        progress: { code: 'ScalingOutPD', message: 'adding PD member basic-pd-3; 3 of 5 members' },
        requeueAfterMs: 2000,
      }),
    ],
    [
      'scale out ignores a pod beyond the current replicas',
      tc(5),
      with_(observed(), (o) => o.pods.pd.push(pod('basic-pd-3', { ready: false, phase: 'Pending' }))),
      want('pd', 4, {
        events: [normal('ScalingOutPD', 'adding PD member basic-pd-3 (3 → 5, one at a time)')],
        progress: { code: 'ScalingOutPD', message: 'adding PD member basic-pd-3; 3 of 5 members' },
        requeueAfterMs: 2000,
      }),
    ],
    [
      'scale out waits for an unhealthy member',
      tc(5),
      observed({ unhealthy: ['basic-pd-2'] }),
      want('pd', 3, { progress: { code: 'ScalingOutPD', message: 'waiting for the 3 PD members to be ready and healthy before adding the next (3 ready)' }, requeueAfterMs: 2000 }),
    ],
    [
      'scale out waits for a member that has not joined',
      tc(5),
      observed({ members: ['basic-pd-0', 'basic-pd-1'] }),
      want('pd', 3, { progress: { code: 'ScalingOutPD', message: 'waiting for the 3 PD members to be ready and healthy before adding the next (3 ready)' }, requeueAfterMs: 2000 }),
    ],
    [
      'scale out waits for quorum (and TiKV waits too)',
      tc(5),
      observed({ leader: null }),
      want('pd', 3, { progress: { code: 'ScalingOutPD', message: 'waiting for the 3 PD members to be ready and healthy before adding the next (3 ready)' }, ...quorumWait('PD has no leader yet (election in progress)') }),
    ],
    ...(
      [
        ['not ready', { ready: false }],
        ['not running', { phase: 'Pending' }],
        ['being deleted', { deleting: true }],
      ] as const
    ).map(([why, over]): [string, ReturnType<typeof tc>, Observed, Step] => [
      `scale out waits for a pod ${why}`,
      tc(5),
      with_(observed(), (o) => (o.pods.pd[1] = pod('basic-pd-1', over))),
      want('pd', 3, { progress: { code: 'ScalingOutPD', message: 'waiting for the 3 PD members to be ready and healthy before adding the next (2 ready)' }, requeueAfterMs: 2000 }),
    ]),
    [
      'scale in removes a follower from PD first; the pod stays',
      tc(3),
      observed({ pd: 5 }),
      want('pd', 5, {
        actions: [{ type: 'delete-pd-member', name: 'basic-pd-4' }],
        events: [normal('PDMemberRemoving', 'removing basic-pd-4 from PD (basic-pd-4 is not the PD leader (basic-pd-0 is) and 4 of 5 members stay healthy)')],
        progress: { code: 'ScalingInPD', message: 'removing PD member basic-pd-4 (5 → 3)' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in of the leader hands leadership to a member that stays',
      tc(3),
      observed({ pd: 5, leader: 'basic-pd-4' }),
      want('pd', 5, {
        actions: [{ type: 'transfer-pd-leader', to: 'basic-pd-0' }],
        events: [normal('PDLeaderTransferring', 'transferring PD leader from basic-pd-4 to basic-pd-0 before removing basic-pd-4')],
        progress: { code: 'ScalingInPD', message: 'before removing PD member basic-pd-4: transferring PD leader from basic-pd-4 to basic-pd-0' },
        requeueAfterMs: 1000,
      }),
    ],
    ...(
      [
        ['has no pod', (o: Observed) => (o.pods.pd = o.pods.pd.filter((p) => p.name !== 'basic-pd-0'))],
        ['pod is not running', (o: Observed) => (o.pods.pd[0] = pod('basic-pd-0', { phase: 'Failed' }))],
        ['pod is being deleted', (o: Observed) => (o.pods.pd[0] = pod('basic-pd-0', { deleting: true }))],
      ] as const
    ).map(([why, f]): [string, ReturnType<typeof tc>, Observed, Step] => [
      `leadership skips a member whose ${why}`,
      tc(3),
      with_(observed({ pd: 5, leader: 'basic-pd-4' }), f),
      want('pd', 5, {
        actions: [{ type: 'transfer-pd-leader', to: 'basic-pd-1' }],
        events: [normal('PDLeaderTransferring', 'transferring PD leader from basic-pd-4 to basic-pd-1 before removing basic-pd-4')],
        progress: { code: 'ScalingInPD', message: 'before removing PD member basic-pd-4: transferring PD leader from basic-pd-4 to basic-pd-1' },
        requeueAfterMs: 1000,
      }),
    ]),
    [
      'leadership never goes to a member that is itself leaving',
      tc(3),
      with_(observed({ pd: 5, leader: 'basic-pd-4' }), (o) => [0, 1, 2].forEach((i) => (o.pods.pd[i] = pod(`basic-pd-${i}`, { phase: 'Pending' })))),
      want('pd', 5, {
        progress: { code: 'ScalingInPD', message: 'before removing PD member basic-pd-4: PD leader basic-pd-4 has no healthy successor on a schedulable node to hand leadership to; waiting' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in waits while removing a member would break quorum',
      tc(1),
      observed({ pd: 3, unhealthy: ['basic-pd-1'] }),
      want('pd', 3, {
        progress: { code: 'ScalingInPD', message: 'before removing PD member basic-pd-2: removing PD member basic-pd-2 would leave 1 of 3 members healthy, below the quorum of 2; waiting for basic-pd-1 to become healthy' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in cannot ask an unreachable PD',
      tc(3),
      observed({ pd: 5, pdReachable: false, pdError: 'timeout' }),
      want('pd', 5, {
        progress: { code: 'ScalingInPD', message: 'cannot remove PD member basic-pd-4: PD does not answer: timeout' },
        block: { code: 'PDUnreachable', message: 'TiKV waits: PD does not answer: timeout' },
        requeueAfterMs: 2000,
      }),
    ],
    [
      'scale in shrinks the StatefulSet once the member is gone',
      tc(3),
      observed({ pd: 5, members: ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3'] }),
      want('pd', 4, {
        events: [normal('PDMemberRemoved', 'basic-pd-4 is no longer a PD member; its pod goes (5 → 4)')],
        progress: { code: 'ScalingInPD', message: 'PD member basic-pd-4 removed; 4 members, 3 wanted' },
        requeueAfterMs: 1000,
        scaleDownAct: 'scale-in',
      }),
    ],
    [
      'members beyond the spec with no pod (replicas lowered while suspended) are removed from PD, one at a time',
      tc(3),
      observed({ pd: 3, members: ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3', 'basic-pd-4'], unhealthy: ['basic-pd-3', 'basic-pd-4'] }),
      want('pd', 3, {
        actions: [{ type: 'delete-pd-member', name: 'basic-pd-3' }],
        events: [normal('PDMemberRemoving', 'removing basic-pd-3 from PD: its ordinal is beyond spec.pd.replicas 3 and it has no pod')],
        progress: { code: 'ScalingInPD', message: 'removing PD member basic-pd-3, which is beyond spec.pd.replicas 3' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'lost quorum on a reachable PD blocks TiKV',
      tc(3),
      observed({ unhealthy: ['basic-pd-1', 'basic-pd-2'] }),
      want('pd', 3, quorumWait('1 of 3 PD members are healthy, below the quorum of 2')),
    ],
  ];
  for (const [name, cluster, o, expected] of rows) t.same(decidePd(cluster, o), expected, name);
});

t.test('decideTikv', async (t) => {
  const tc = (tikv: number, status: object = {}) => makeTc().spec({ tikv: { replicas: tikv } }).status(status).obj();
  const four = (last: StoreObserved) => [...upStores(3), last];
  const rows: Array<[string, ReturnType<typeof tc>, Observed, Step]> = [
    [
      'PD cannot list stores: keep the current size, TiDB waits',
      tc(3),
      observed({ tikv: 4, stores: null, pdReachable: false, pdError: 'EHOSTUNREACH' }),
      want('tikv', 4, { block: { code: 'PDUnreachable', message: 'cannot read TiKV stores from PD: EHOSTUNREACH' }, requeueAfterMs: 5000 }),
    ],
    [
      'PD cannot list stores before the StatefulSet exists: the spec size',
      tc(3),
      with_(observed({ stores: null, pdReachable: false }), (o) => (o.sts.tikv = null)),
      want('tikv', 3, { block: { code: 'PDUnreachable', message: 'cannot read TiKV stores from PD: unreachable' }, requeueAfterMs: 5000 }),
    ],
    ['steady', tc(3), observed(), want('tikv', 3)],
    [
      'creation: no Event, TiDB waits for stores',
      tc(3),
      with_(observed({ stores: [] }), (o) => (o.sts.tikv = null)),
      want('tikv', 3, { block: { code: 'WaitingForTiKV', message: 'TiDB waits: 0 TiKV stores Up, 3 needed' }, requeueAfterMs: 2000 }),
    ],
    ['scale out', tc(5), observed(), want('tikv', 5, { events: [normal('ScalingOutTiKV', 'TiKV 3 → 5')] })],
    [
      'a single-store cluster needs one store Up',
      tc(1),
      observed({ tikv: 1, stores: [] }),
      want('tikv', 1, { block: { code: 'WaitingForTiKV', message: 'TiDB waits: 0 TiKV stores Up, 1 needed' }, requeueAfterMs: 2000 }),
    ],
    [
      'more stores than max-replicas: max-replicas Up are enough',
      tc(5),
      observed({ tikv: 5, stores: [...upStores(3), store(4, 'basic-tikv-3', 'Disconnected'), store(5, 'basic-tikv-4', 'Down')] }),
      want('tikv', 5),
    ],
    [
      'Serving counts as Up',
      tc(3),
      observed({ stores: [1, 2, 3].map((i) => store(i, `basic-tikv-${i - 1}`, 'Serving')) }),
      want('tikv', 3),
    ],
    ...(['Offline', 'Removing'] as const).map((state): [string, ReturnType<typeof tc>, Observed, Step] => [
      `raising replicas cancels a store ${state} that this controller's scale-in took offline`,
      tc(4),
      observed({ tikv: 4, stores: four(store(4, 'basic-tikv-3', state)), ledger: { leaving: [{ component: 'tikv', member: '4', pod: 'basic-tikv-3', podUid: 'u', since: 0, act: 'scale-in' }], evictions: [] } }),
      want('tikv', 4, { actions: [{ type: 'cancel-store-removal', storeId: '4' }], events: [normal('ScaleInCancelled', 'replicas raised to 4: store 4 of basic-tikv-3 goes back Up')] }),
    ]),
    ...(['Offline', 'Removing'] as const).map((state): [string, ReturnType<typeof tc>, Observed, Step] => [
      `a store ${state} that an operator took offline (no scale-in of ours in the ledger) is left to them`,
      tc(4),
      observed({ tikv: 4, stores: four(store(4, 'basic-tikv-3', state)), ledger: { leaving: [{ component: 'tikv', member: '4', pod: 'basic-tikv-3', podUid: 'u', since: 0, act: 'eviction' }], evictions: [] } }),
      want('tikv', 4),
    ]),
    [
      'a Tombstone store is not brought back; a stale Offline store beyond the spec is left alone',
      tc(4),
      observed({ tikv: 4, stores: [...upStores(3), store(4, 'basic-tikv-3', 'Tombstone', 0), store(9, 'basic-tikv-4', 'Offline')] }),
      want('tikv', 4),
    ],
    [
      'scale in deletes the highest store in PD; the pod stays',
      tc(3),
      observed({ tikv: 4, stores: upStores(4) }),
      want('tikv', 4, {
        actions: [{ type: 'delete-store', storeId: '4' }],
        events: [normal('StoreDeleting', 'deleting store 4 of basic-tikv-3 in PD; its regions move to the other stores (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'store 4 of basic-tikv-3 deleted in PD; waiting for Tombstone' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in picks the live store of a pod replaced before (Tombstone left behind)',
      tc(3),
      observed({ tikv: 4, stores: [...upStores(3), store(4, 'basic-tikv-3', 'Tombstone', 0), store(7, 'basic-tikv-3')] }),
      want('tikv', 4, {
        actions: [{ type: 'delete-store', storeId: '7' }],
        events: [normal('StoreDeleting', 'deleting store 7 of basic-tikv-3 in PD; its regions move to the other stores (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'store 7 of basic-tikv-3 deleted in PD; waiting for Tombstone' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in picks the live store over a Removed one',
      tc(3),
      observed({ tikv: 4, stores: [...upStores(3), store(4, 'basic-tikv-3', 'Removed', 0), store(7, 'basic-tikv-3')] }),
      want('tikv', 4, {
        actions: [{ type: 'delete-store', storeId: '7' }],
        events: [normal('StoreDeleting', 'deleting store 7 of basic-tikv-3 in PD; its regions move to the other stores (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'store 7 of basic-tikv-3 deleted in PD; waiting for Tombstone' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in with max-replicas Up stores left (Serving counts, others do not)',
      tc(3),
      observed({ tikv: 5, maxReplicas: 3, stores: [store(1, 'basic-tikv-0'), store(2, 'basic-tikv-1', 'Serving'), store(3, 'basic-tikv-2'), store(4, 'basic-tikv-3', 'Disconnected'), store(5, 'basic-tikv-4')] }),
      want('tikv', 5, {
        actions: [{ type: 'delete-store', storeId: '5' }],
        events: [normal('StoreDeleting', 'deleting store 5 of basic-tikv-4 in PD; its regions move to the other stores (5 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'store 5 of basic-tikv-4 deleted in PD; waiting for Tombstone' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in refused: too few Up stores would stay (a Disconnected one does not count)',
      tc(3),
      observed({ tikv: 4, stores: [store(1, 'basic-tikv-0'), store(2, 'basic-tikv-1'), store(3, 'basic-tikv-2', 'Disconnected'), store(4, 'basic-tikv-3')] }),
      want('tikv', 4, {
        refused: {
          code: 'ScaleInBlocked',
          message: "TiKV scale-in to 3 refused: removing basic-tikv-3 (store 4) would leave 2 Up stores, fewer than PD's max-replicas 3; regions would lose copies. Keep spec.tikv.replicas at 4 or lower max-replicas first",
        },
        events: [
          {
            type: 'Warning',
            reason: 'ScaleInBlocked',
            message: "TiKV scale-in to 3 refused: removing basic-tikv-3 (store 4) would leave 2 Up stores, fewer than PD's max-replicas 3; regions would lose copies. Keep spec.tikv.replicas at 4 or lower max-replicas first",
          },
        ],
        requeueAfterMs: 15_000,
      }),
    ],
    ...(['Offline', 'Removing'] as const).map((state): [string, ReturnType<typeof tc>, Observed, Step] => [
      `scale in waits while the store is ${state}`,
      tc(3),
      observed({ tikv: 4, stores: four(store(4, 'basic-tikv-3', state)) }),
      want('tikv', 4, { progress: { code: 'ScalingInTiKV', message: 'store 4 of basic-tikv-3 is going offline: 30 regions still to move; waiting for Tombstone' }, requeueAfterMs: 2000 }),
    ]),
    ...(['Tombstone', 'Removed'] as const).map((state): [string, ReturnType<typeof tc>, Observed, Step] => [
      `scale in shrinks once the store is ${state}`,
      tc(3),
      observed({ tikv: 4, stores: four(store(4, 'basic-tikv-3', state, 0)) }),
      want('tikv', 3, {
        events: [normal('StoreTombstoned', `store 4 of basic-tikv-3 is ${state}; basic-tikv-3 goes (4 → 3)`)],
        progress: { code: 'ScalingInTiKV', message: 'basic-tikv-3 removed; 3 stores, 3 wanted' },
        requeueAfterMs: 1000,
        scaleDownAct: 'scale-in',
      }),
    ]),
    [
      'scale in picks the live store even when PD lists the Tombstone after it',
      tc(3),
      observed({ tikv: 4, stores: [...upStores(3), store(7, 'basic-tikv-3'), store(4, 'basic-tikv-3', 'Tombstone', 0)] }),
      want('tikv', 4, {
        actions: [{ type: 'delete-store', storeId: '7' }],
        events: [normal('StoreDeleting', 'deleting store 7 of basic-tikv-3 in PD; its regions move to the other stores (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'store 7 of basic-tikv-3 deleted in PD; waiting for Tombstone' },
        requeueAfterMs: 1000,
      }),
    ],
    [
      'scale in names the newest of several Tombstones',
      tc(3),
      observed({ tikv: 4, stores: [...upStores(3), store(4, 'basic-tikv-3', 'Tombstone', 0), store(8, 'basic-tikv-3', 'Tombstone', 0)] }),
      want('tikv', 3, {
        events: [normal('StoreTombstoned', 'store 8 of basic-tikv-3 is Tombstone; basic-tikv-3 goes (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'basic-tikv-3 removed; 3 stores, 3 wanted' },
        requeueAfterMs: 1000,
        scaleDownAct: 'scale-in',
      }),
    ],
    [
      'scale in of a pod that never got a store',
      tc(3),
      observed({ tikv: 4, stores: upStores(3) }),
      want('tikv', 3, {
        events: [normal('TiKVMemberRemoved', 'no TiKV store in PD belongs to basic-tikv-3; basic-tikv-3 goes (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'basic-tikv-3 removed; 3 stores, 3 wanted' },
        requeueAfterMs: 1000,
        scaleDownAct: 'scale-in',
      }),
    ],
    [
      'a refused scale-in keeps its slow requeue while TiDB waits',
      tc(3),
      observed({ tikv: 4, stores: [store(1, 'basic-tikv-0'), store(2, 'basic-tikv-1', 'Down'), store(3, 'basic-tikv-2', 'Down'), store(4, 'basic-tikv-3')] }),
      want('tikv', 4, {
        refused: { code: 'ScaleInBlocked', message: "TiKV scale-in to 3 refused: removing basic-tikv-3 (store 4) would leave 1 Up stores, fewer than PD's max-replicas 3; regions would lose copies. Keep spec.tikv.replicas at 4 or lower max-replicas first" },
        events: [{ type: 'Warning', reason: 'ScaleInBlocked', message: "TiKV scale-in to 3 refused: removing basic-tikv-3 (store 4) would leave 1 Up stores, fewer than PD's max-replicas 3; regions would lose copies. Keep spec.tikv.replicas at 4 or lower max-replicas first" }],
        block: { code: 'WaitingForTiKV', message: 'TiDB waits: 2 TiKV stores Up, 3 needed' },
        requeueAfterMs: 15_000,
      }),
    ],
    [
      'store removal in flight while TiDB waits: the step keeps its own requeue',
      tc(3),
      observed({ tikv: 4, stores: [store(1, 'basic-tikv-0'), store(2, 'basic-tikv-1'), store(3, 'basic-tikv-2', 'Down'), store(4, 'basic-tikv-3', 'Tombstone', 0)] }),
      want('tikv', 3, {
        events: [normal('StoreTombstoned', 'store 4 of basic-tikv-3 is Tombstone; basic-tikv-3 goes (4 → 3)')],
        progress: { code: 'ScalingInTiKV', message: 'basic-tikv-3 removed; 3 stores, 3 wanted' },
        block: { code: 'WaitingForTiKV', message: 'TiDB waits: 2 TiKV stores Up, 3 needed' },
        requeueAfterMs: 1000,
        scaleDownAct: 'scale-in',
      }),
    ],
    [
      'a store beyond the spec with no pod (replicas lowered while suspended) is deleted in PD',
      tc(3),
      with_(observed({ tikv: 3, stores: [...upStores(3), store(5, 'basic-tikv-4', 'Down')] }), (o) => (o.ledger = { leaving: [], evictions: [] })),
      want('tikv', 3, {
        actions: [{ type: 'delete-store', storeId: '5' }],
        events: [normal('StoreDeleting', 'deleting store 5 of basic-tikv-4 in PD: its ordinal is beyond spec.tikv.replicas 3 and it has no pod')],
        progress: { code: 'ScalingInTiKV', message: 'deleting store 5 of basic-tikv-4, which is beyond spec.tikv.replicas 3' },
        requeueAfterMs: 2000,
      }),
    ],
    [
      'PD\'s max-replicas unknown: a scale-in waits and says why; TiDB waits for every store asked for',
      tc(3),
      observed({ tikv: 4, stores: upStores(4), maxReplicas: null }),
      want('tikv', 4, {
        progress: { code: 'ScalingInTiKV', message: "cannot judge removing store 4 of basic-tikv-3: PD's max-replicas cannot be read; waiting" },
        requeueAfterMs: 5000,
      }),
    ],
  ];
  for (const [name, cluster, o, expected] of rows) t.same(decideTikv(cluster, o, policy), expected, name);
});

t.test('decideTidb follows the spec, with an Event when the size changes', async (t) => {
  const tc = makeTc().spec({ tidb: { replicas: 4 } }).obj();
  t.same(decideTidb(tc, observed()), want('tidb', 4, { events: [normal('ScalingTiDB', 'TiDB 2 → 4')] }), 'scale out');
  t.same(decideTidb(tc, observed({ tidb: 4 })), want('tidb', 4), 'steady');
  t.same(decideTidb(tc, with_(observed(), (o) => (o.sts.tidb = null))), want('tidb', 4), 'creation');
});

t.test('decideSuspend', async (t) => {
  const tc = (evictLeader: Array<{ storeId: string; since: string }> = []) => makeTc().spec({ suspend: true }).status({ ...bootstrapped, tikv: { evictLeader } }).obj();
  const noTidb = (o: Observed) => ((o.pods.tidb = []), (o.sts.tidb = sts(0)), o);
  const iso = (ms: number) => new Date(ms).toISOString();
  const stopping = (n: number) => ({ block: { code: 'Suspending', message: `stopping TiKV: ${n} pods left` }, requeueAfterMs: 1000 });
  const rows: Array<[string, ReturnType<typeof tc>, Observed, [Step, Step, Step]]> = [
    [
      'TiDB stops first; the rest waits',
      tc(),
      observed(),
      [want('pd', 3), want('tikv', 3), want('tidb', 0, { block: { code: 'Suspending', message: 'stopping TiDB: 2 pods left' }, requeueAfterMs: 1000 })],
    ],
    [
      'TiDB pods left without a StatefulSet: nothing to apply for TiDB',
      tc(),
      with_(observed(), (o) => (o.sts.tidb = null)),
      [want('pd', 3), want('tikv', 3), want('tidb', null, { block: { code: 'Suspending', message: 'stopping TiDB: 2 pods left' }, requeueAfterMs: 1000 })],
    ],
    [
      'highest TiKV store leads regions: evict its leaders and wait',
      tc(),
      noTidb(observed()),
      [
        want('pd', 3),
        want('tikv', 3, { actions: [{ type: 'evict-leaders', storeId: '3' }], block: { code: 'Suspending', message: 'suspending TiKV: evicting 10 region leaders from TiKV store 3 of basic-tikv-2' }, requeueAfterMs: 1000 }),
        want('tidb', 0),
      ],
    ],
    [
      'an eviction this controller started and PD still runs: just wait',
      tc([{ storeId: '3', since: iso(1_000_000 - 5_000) }]),
      noTidb(observed({ evicting: ['3'] })),
      [want('pd', 3), want('tikv', 3, { block: { code: 'Suspending', message: 'suspending TiKV: evicting 10 region leaders from TiKV store 3 of basic-tikv-2 (for 5s)' }, requeueAfterMs: 1000 }), want('tidb', 0)],
    ],
    [
      'an eviction recorded but gone from PD is asked again, not recorded twice',
      tc([{ storeId: '3', since: iso(1_000_000 - 5_000) }]),
      noTidb(observed()),
      [
        want('pd', 3),
        want('tikv', 3, { actions: [{ type: 'evict-leaders', storeId: '3' }], block: { code: 'Suspending', message: 'suspending TiKV: evicting 10 region leaders from TiKV store 3 of basic-tikv-2 (for 5s)' }, requeueAfterMs: 1000 }),
        want('tidb', 0),
      ],
    ],
    [
      'eviction past the timeout: the pod goes, with a warning',
      tc([{ storeId: '3', since: iso(1_000_000 - 60_000) }]),
      noTidb(observed({ evicting: ['3'] })),
      [
        want('pd', 3),
        want('tikv', 2, {
          events: [
            { type: 'Warning', reason: 'LeaderEvictionTimeout', message: 'basic-tikv-2 goes with 10 region leaders still on store 3: clients of those regions see errors until new leaders are elected' },
            normal('SuspendingTiKV', 'stopping basic-tikv-2 (store 3, 10 leaders)'),
          ],
          ...stopping(3),
        }),
        want('tidb', 0),
      ],
    ],
    [
      'leaders moved: the pod goes',
      tc([{ storeId: '3', since: iso(1_000_000 - 5_000) }]),
      noTidb(with_(observed({ evicting: ['3'] }), (o) => (o.stores![2] = store(3, 'basic-tikv-2', 'Up', 0)))),
      [want('pd', 3), want('tikv', 2, { events: [normal('SuspendingTiKV', 'stopping basic-tikv-2 (store 3, 0 leaders)')], ...stopping(3) }), want('tidb', 0)],
    ],
    [
      'a store leading nothing still gets an evict-leader entry, and its pod goes',
      tc(),
      noTidb(with_(observed(), (o) => (o.stores![2] = store(3, 'basic-tikv-2', 'Up', 0)))),
      [
        want('pd', 3),
        want('tikv', 2, { actions: [{ type: 'evict-leaders', storeId: '3' }], events: [normal('SuspendingTiKV', 'stopping basic-tikv-2 (store 3, 0 leaders)')], ...stopping(3) }),
        want('tidb', 0),
      ],
    ],
    ...(['Down', 'Offline', 'Tombstone'] as const).map((state): [string, ReturnType<typeof tc>, Observed, [Step, Step, Step]] => [
      `a ${state} store has no leaders to move: the pod goes`,
      tc(),
      noTidb(with_(observed(), (o) => (o.stores![2] = store(3, 'basic-tikv-2', state, 10)))),
      [want('pd', 3), want('tikv', 2, { events: [normal('SuspendingTiKV', 'stopping basic-tikv-2 (store 3, 10 leaders)')], ...stopping(3) }), want('tidb', 0)],
    ]),
    [
      'an eviction recorded for another store does not count for this one',
      tc([{ storeId: '2', since: iso(1_000_000 - 120_000) }]),
      noTidb(observed({ evicting: ['2', '3'] })),
      [want('pd', 3), want('tikv', 3, { block: { code: 'Suspending', message: 'suspending TiKV: evicting 10 region leaders from TiKV store 3 of basic-tikv-2' }, requeueAfterMs: 1000 }), want('tidb', 0)],
    ],
    [
      'a pod without a store goes, whatever evictions are recorded',
      tc([{ storeId: '2', since: iso(1_000_000 - 5_000) }]),
      noTidb(observed({ stores: upStores(2) })),
      [want('pd', 3), want('tikv', 2, { events: [normal('SuspendingTiKV', 'stopping basic-tikv-2')], ...stopping(3) }), want('tidb', 0)],
    ],
    [
      'a pod without a store goes',
      tc(),
      noTidb(observed({ stores: upStores(2) })),
      [want('pd', 3), want('tikv', 2, { events: [normal('SuspendingTiKV', 'stopping basic-tikv-2')], ...stopping(3) }), want('tidb', 0)],
    ],
    [
      'the last store keeps its leaders: nowhere to go',
      tc(),
      noTidb(observed({ tikv: 1 })),
      [want('pd', 3), want('tikv', 0, { events: [normal('SuspendingTiKV', 'stopping basic-tikv-0 (store 1, 10 leaders)')], ...stopping(1) }), want('tidb', 0)],
    ],
    ...(
      [
        ['are not running', (o: Observed) => (o.pods.tikv = o.pods.tikv.map((p) => (p.ordinal < 2 ? { ...p, phase: 'Pending' } : p)))],
        ['are being deleted', (o: Observed) => (o.pods.tikv = o.pods.tikv.map((p) => (p.ordinal < 2 ? { ...p, deleting: true } : p)))],
        ['are gone', (o: Observed) => (o.pods.tikv = o.pods.tikv.filter((p) => p.ordinal >= 2))],
        [
          'are Up only where their own pods are not running',
          (o: Observed) => {
            o.stores = [store(1, 'basic-tikv-0', 'Down'), store(2, 'basic-tikv-1'), store(3, 'basic-tikv-2')];
            o.pods.tikv[1] = pod('basic-tikv-1', { phase: 'Pending' });
          },
        ],
        ['are not Up', (o: Observed) => (o.stores = [store(1, 'basic-tikv-0', 'Down'), store(2, 'basic-tikv-1', 'Disconnected'), store(3, 'basic-tikv-2')])],
        ['have no pod in PD', (o: Observed) => (o.stores = [store(1, null), store(2, null), store(3, 'basic-tikv-2')])],
        [
          'run above the victim only',
          (o: Observed) => {
            o.stores = [store(3, 'basic-tikv-2'), store(4, 'basic-tikv-3'), store(5, 'basic-tikv-4')];
            o.pods.tikv = [pod('basic-tikv-2'), pod('basic-tikv-3'), pod('basic-tikv-4')];
          },
        ],
      ] as const
    ).map(([why, f]): [string, ReturnType<typeof tc>, Observed, [Step, Step, Step]] => [
      `the other stores ${why}: leaders have nowhere to go, the pod goes`,
      tc(),
      noTidb(with_(observed(), f)),
      [want('pd', 3), want('tikv', 2, { events: [normal('SuspendingTiKV', 'stopping basic-tikv-2 (store 3, 10 leaders)')], ...stopping(3) }), want('tidb', 0)],
    ]),
    [
      'TiKV at zero with pods still stopping: PD waits',
      tc(),
      noTidb(with_(observed({ tikv: 0 }), (o) => (o.pods.tikv = [pod('basic-tikv-0', { deleting: true })]))),
      [want('pd', 3), want('tikv', 0, { block: { code: 'Suspending', message: 'stopping TiKV: 1 pods left' }, requeueAfterMs: 1000 }), want('tidb', 0)],
    ],
    [
      'TiKV gone: PD stops',
      tc(),
      noTidb(observed({ tikv: 0 })),
      [want('pd', 0, { block: { code: 'Suspending', message: 'stopping PD: 3 pods left' }, requeueAfterMs: 1000 }), want('tikv', 0), want('tidb', 0)],
    ],
    [
      'everything stopped',
      tc(),
      noTidb(with_(observed({ tikv: 0 }), (o) => (o.pods.pd = []))),
      [want('pd', 0), want('tikv', 0), want('tidb', 0)],
    ],
    [
      'no StatefulSets at all: nothing to apply',
      tc(),
      with_(observed(), (o) => {
        o.sts = { pd: null, tikv: null, tidb: null };
        o.pods = { pd: [], tikv: [], tidb: [] };
      }),
      [want('pd', null), want('tikv', null), want('tidb', null)],
    ],
  ];
  for (const [name, cluster, o, expected] of rows) {
    // The eviction records live in the DisruptionLedger (the table writes them where the status had them).
    o.ledger.evictions = (cluster.status.tikv?.evictLeader ?? []).map((e) => ({ storeId: e.storeId, podUid: '', beganAt: Date.parse(e.since), cause: 'suspend' as const }));
    const got = decideSuspend(cluster, o, policy);
    for (const s of got) {
      if (s.component !== 'tidb' && s.replicas !== null && s.replicas < (o.sts[s.component]?.replicas ?? 0)) t.equal(s.scaleDownAct, 'suspend', `${name}: the ${s.component} pods it stops are recorded as a suspend`);
    }
    t.same(got.map(({ scaleDownAct: _a, ...s }) => s), expected, name);
  }
});
