import t from 'tap';
import { decideEvictionCleanup, decidePdRemoval, decideTikvRemoval, type PdMemberState } from '../../src/domain/drain.ts';

const m = (name: string, healthy = true, canLead = true): PdMemberState => ({ name, healthy, canLead });

t.test('PD: table of removals', async (t) => {
  const table: Array<{ name: string; pod: string; members: PdMemberState[]; leader: string | null; kind: 'allow' | 'wait'; reason: RegExp; to?: string }> = [
    { name: 'follower of a healthy 3', pod: 'pd-1', members: [m('pd-0'), m('pd-1'), m('pd-2')], leader: 'pd-0', kind: 'allow', reason: /pd-1 is not the PD leader \(pd-0 is\) and 2 of 3 members stay healthy/ },
    { name: 'leader hands over to the first healthy successor', pod: 'pd-0', members: [m('pd-0'), m('pd-1'), m('pd-2')], leader: 'pd-0', kind: 'wait', reason: /transferring PD leader from pd-0 to pd-1/, to: 'pd-1' },
    { name: 'successor must be on a schedulable node', pod: 'pd-0', members: [m('pd-0'), m('pd-1', true, false), m('pd-2')], leader: 'pd-0', kind: 'wait', reason: /to pd-2/, to: 'pd-2' },
    { name: 'no successor can lead', pod: 'pd-0', members: [m('pd-0'), m('pd-1', true, false), m('pd-2', true, false)], leader: 'pd-0', kind: 'wait', reason: /no healthy successor on a schedulable node/ },
    { name: 'quorum guard: a second member of 3 while one is down', pod: 'pd-1', members: [m('pd-0', false), m('pd-1'), m('pd-2')], leader: 'pd-2', kind: 'wait', reason: /would leave 1 of 3 members healthy, below the quorum of 2; waiting for pd-0/ },
    { name: 'quorum guard on 5: two down', pod: 'pd-4', members: [m('pd-0', false), m('pd-1', false), m('pd-2'), m('pd-3'), m('pd-4')], leader: 'pd-2', kind: 'wait', reason: /2 of 5 .* quorum of 3/ },
    { name: '5 members, one down, a follower may go', pod: 'pd-4', members: [m('pd-0', false), m('pd-1'), m('pd-2'), m('pd-3'), m('pd-4')], leader: 'pd-2', kind: 'allow', reason: /3 of 5 members stay healthy/ },
    { name: 'an unhealthy member may go', pod: 'pd-0', members: [m('pd-0', false), m('pd-1'), m('pd-2')], leader: 'pd-1', kind: 'allow', reason: /not healthy/ },
    { name: 'no leader: wait', pod: 'pd-1', members: [m('pd-0'), m('pd-1'), m('pd-2')], leader: null, kind: 'wait', reason: /no leader/ },
    { name: 'not a member', pod: 'pd-9', members: [m('pd-0')], leader: 'pd-0', kind: 'allow', reason: /not a member/ },
    { name: 'single member cluster cannot lose its only member', pod: 'pd-0', members: [m('pd-0')], leader: 'pd-0', kind: 'wait', reason: /would leave 0 of 1/ },
    // Even member counts: quorum is floor(n/2)+1, so 2 members need both and 4 need 3 (ceil(n/2) would let 4 drop to 2).
    { name: '2 of 2 healthy: a follower may not go', pod: 'pd-1', members: [m('pd-0'), m('pd-1')], leader: 'pd-0', kind: 'wait', reason: /would leave 1 of 2 members healthy, below the quorum of 2; waiting for the other members to become healthy/ },
    { name: '2 of 2 healthy: the leader may not go', pod: 'pd-0', members: [m('pd-0'), m('pd-1')], leader: 'pd-0', kind: 'wait', reason: /would leave 1 of 2 members healthy, below the quorum of 2/ },
    { name: '1 of 2 healthy: the healthy one may not go', pod: 'pd-0', members: [m('pd-0'), m('pd-1', false)], leader: 'pd-0', kind: 'wait', reason: /would leave 0 of 2 members healthy, below the quorum of 2; waiting for pd-1 to become healthy/ },
    { name: '1 of 2 healthy: the sick one may go', pod: 'pd-1', members: [m('pd-0'), m('pd-1', false)], leader: 'pd-0', kind: 'allow', reason: /^PD member pd-1 is not healthy, so removing its pod does not lower the 1 of 2 healthy members$/ },
    { name: '0 of 2 healthy: either may go', pod: 'pd-0', members: [m('pd-0', false), m('pd-1', false)], leader: null, kind: 'allow', reason: /lower the 0 of 2 healthy members/ },
    { name: '4 of 4 healthy: a follower may go', pod: 'pd-3', members: [m('pd-0'), m('pd-1'), m('pd-2'), m('pd-3')], leader: 'pd-0', kind: 'allow', reason: /^pd-3 is not the PD leader \(pd-0 is\) and 3 of 4 members stay healthy$/ },
    { name: '3 of 4 healthy: a follower may not go', pod: 'pd-3', members: [m('pd-0', false), m('pd-1'), m('pd-2'), m('pd-3')], leader: 'pd-1', kind: 'wait', reason: /^removing PD member pd-3 would leave 2 of 4 members healthy, below the quorum of 3; waiting for pd-0 to become healthy$/ },
    { name: '2 of 4 healthy: a follower may not go', pod: 'pd-3', members: [m('pd-0', false), m('pd-1', false), m('pd-2'), m('pd-3')], leader: 'pd-2', kind: 'wait', reason: /would leave 1 of 4 members healthy, below the quorum of 3; waiting for pd-0, pd-1 to become healthy/ },
    { name: '1 of 4 healthy: the last healthy one may not go', pod: 'pd-3', members: [m('pd-0', false), m('pd-1', false), m('pd-2', false), m('pd-3')], leader: 'pd-3', kind: 'wait', reason: /would leave 0 of 4 members healthy, below the quorum of 3/ },
    { name: '0 of 4 healthy: a sick one may go', pod: 'pd-2', members: [m('pd-0', false), m('pd-1', false), m('pd-2', false), m('pd-3', false)], leader: null, kind: 'allow', reason: /lower the 0 of 4 healthy members/ },
    { name: '4 of 4 healthy: the leader hands over', pod: 'pd-0', members: [m('pd-0'), m('pd-1'), m('pd-2'), m('pd-3')], leader: 'pd-0', kind: 'wait', reason: /^transferring PD leader from pd-0 to pd-1$/, to: 'pd-1' },
    { name: 'successor order is by name, not by list order', pod: 'pd-2', members: [m('pd-2'), m('pd-3'), m('pd-1'), m('pd-0', true, false)], leader: 'pd-2', kind: 'wait', reason: /to pd-1$/, to: 'pd-1' },
    { name: 'an unhealthy member is no successor', pod: 'pd-0', members: [m('pd-0'), m('pd-1', false, true), m('pd-2'), m('pd-3'), m('pd-4')], leader: 'pd-0', kind: 'wait', reason: /to pd-2$/, to: 'pd-2' },
  ];
  for (const row of table) {
    const d = decidePdRemoval(row.pod, { members: row.members, leader: row.leader });
    t.equal(d.kind, row.kind, `${row.name}: ${d.kind}`);
    t.match(d.reason, row.reason, `${row.name}: reason`);
    if (row.to) t.same(d.action, { type: 'transfer-pd-leader', from: row.pod, to: row.to });
    else t.equal(d.action, undefined, `${row.name}: no action`);
    if (d.kind === 'wait') t.equal(d.retryAfterSeconds, 1, `${row.name}: retry after 1 s`);
  }
});

t.test('TiKV: table of removals', async (t) => {
  const store = (stateName: string, leaderCount: number, regionCount = 10) => ({ id: '4', stateName, leaderCount, regionCount });
  const policy = { evictTimeoutMs: 600_000, now: 1_000_000 };
  const table: Array<{ name: string; state: Parameters<typeof decideTikvRemoval>[1]; kind: 'allow' | 'wait'; reason: RegExp; evict?: boolean; warning?: boolean }> = [
    { name: 'no store', state: { store: null, evicting: false, evictionBeganAt: null }, kind: 'allow', reason: /no TiKV store/ },
    { name: 'first call starts eviction', state: { store: store('Up', 12), evicting: false, evictionBeganAt: null }, kind: 'wait', reason: /evicting 12 region leaders from TiKV store 4 of tikv-0$/, evict: true },
    { name: 'eviction in progress', state: { store: store('Up', 3), evicting: true, evictionBeganAt: 990_000 }, kind: 'wait', reason: /evicting 3 region leaders .* \(for 10s\)/ },
    { name: 'leaders gone', state: { store: store('Up', 0), evicting: true, evictionBeganAt: 990_000 }, kind: 'allow', reason: /leads no regions/ },
    { name: 'no leaders, not evicting: evict and allow', state: { store: store('Up', 0), evicting: false, evictionBeganAt: null }, kind: 'allow', reason: /leads no regions/, evict: true },
    { name: 'timeout allows with a warning', state: { store: store('Up', 2), evicting: true, evictionBeganAt: 300_000 }, kind: 'allow', reason: /did not finish within 600s/, warning: true },
    { name: 'offline store keeps its pod', state: { store: store('Offline', 5, 40), evicting: false, evictionBeganAt: null }, kind: 'wait', reason: /going offline and still holds 40 regions/ },
    { name: 'tombstone goes', state: { store: store('Tombstone', 0, 0), evicting: false, evictionBeganAt: null }, kind: 'allow', reason: /Tombstone/ },
    { name: 'one leader left: still waits', state: { store: store('Up', 1), evicting: true, evictionBeganAt: 990_000 }, kind: 'wait', reason: /^evicting 1 region leaders from TiKV store 4 of tikv-0 \(for 10s\)$/ },
    { name: 'one leader left, not yet evicting: starts eviction', state: { store: store('Up', 1), evicting: false, evictionBeganAt: null }, kind: 'wait', reason: /^evicting 1 region leaders from TiKV store 4 of tikv-0$/, evict: true },
    { name: 'timeout reached to the millisecond', state: { store: store('Up', 1), evicting: true, evictionBeganAt: 400_000 }, kind: 'allow', reason: /^evicting leaders from store 4 of tikv-0 did not finish within 600s$/, warning: true },
    { name: 'one millisecond before the timeout', state: { store: store('Up', 1), evicting: true, evictionBeganAt: 400_001 }, kind: 'wait', reason: /\(for 600s\)$/ },
    { name: 'timeout passed but this service is not evicting: waits and starts', state: { store: store('Up', 2), evicting: false, evictionBeganAt: 300_000 }, kind: 'wait', reason: /evicting 2 region leaders .* \(for 700s\)$/, evict: true },
    { name: 'Serving (next-gen state name) counts as up', state: { store: store('Serving', 2), evicting: true, evictionBeganAt: 990_000 }, kind: 'wait', reason: /evicting 2 region leaders/ },
    { name: 'removing store keeps its pod', state: { store: store('Removing', 0, 7), evicting: false, evictionBeganAt: null }, kind: 'wait', reason: /^store 4 of tikv-0 is going offline and still holds 7 regions; removing its pod now would cut that data move short$/ },
    { name: 'removed store goes', state: { store: store('Removed', 0, 0), evicting: false, evictionBeganAt: null }, kind: 'allow', reason: /^store 4 of tikv-0 is Removed$/ },
    { name: 'disconnected store may still lead: it waits like Up', state: { store: store('Disconnected', 3), evicting: true, evictionBeganAt: 990_000 }, kind: 'wait', reason: /^evicting 3 region leaders from TiKV store 4 of tikv-0 \(for 10s\)$/ },
    { name: 'evicting, but this service did not start it: no timeout runs', state: { store: store('Up', 2), evicting: true, evictionBeganAt: null }, kind: 'wait', reason: /^evicting 2 region leaders from TiKV store 4 of tikv-0$/ },
    { name: 'down store goes', state: { store: store('Down', 7), evicting: false, evictionBeganAt: null }, kind: 'allow', reason: /Down: it serves no leaders/ },
  ];
  for (const row of table) {
    const d = decideTikvRemoval('tikv-0', row.state, policy);
    t.equal(d.kind, row.kind, `${row.name}: ${d.kind}`);
    t.match(d.reason, row.reason, `${row.name}: reason`);
    t.same(d.action, row.evict ? { type: 'evict-tikv-leaders', storeId: '4' } : undefined, `${row.name}: action`);
    t.equal(d.kind === 'allow' && d.warning !== undefined, Boolean(row.warning), `${row.name}: warning`);
    // A store going offline moves data for minutes: it is asked about half as often.
    if (d.kind === 'wait') t.equal(d.retryAfterSeconds, /going offline/.test(d.reason) ? 2 : 1, `${row.name}: retry after`);
  }
});

t.test('eviction cleanup: never leaves a scheduler behind, never removes one mid-drain', async (t) => {
  const policy = { evictTimeoutMs: 600_000, abandonAfterMs: 300_000, now: 2_000_000 };
  const rec = (cause: 'removal' | 'cordon', beganAt = 1_900_000) => ({ storeId: '4', podUid: 'old', beganAt, cause });
  const pod = (uid: string, over: Partial<{ running: boolean; deleting: boolean; nodeSchedulable: boolean }> = {}) => ({ uid, running: true, deleting: false, nodeSchedulable: true, ...over });
  const up = { stateName: 'Up' };
  const table: Array<[string, ReturnType<typeof rec>, { stateName: string } | null, ReturnType<typeof pod> | null, boolean]> = [
    ['store gone', rec('removal'), null, null, true],
    ['store tombstone', rec('removal'), { stateName: 'Tombstone' }, pod('old'), true],
    ['pod not back yet', rec('removal'), up, null, false],
    ['same pod still draining', rec('removal'), up, pod('old', { deleting: true }), false],
    ['same pod, node cordoned', rec('removal'), up, pod('old', { nodeSchedulable: false }), false],
    ['new pod running, store Up', rec('removal'), up, pod('new'), true],
    ['new pod running, store not Up yet', rec('removal'), { stateName: 'Disconnected' }, pod('new'), false],
    ['new pod on a cordoned node', rec('removal'), up, pod('new', { nodeSchedulable: false }), false],
    ['cordon undone', rec('cordon'), up, pod('old'), true],
    ['cordon still on', rec('cordon'), up, pod('old', { nodeSchedulable: false }), false],
    ['removal abandoned long ago', rec('removal', 1_000_000), up, pod('old'), true],
  ];
  for (const [name, record, store, p, remove] of table) {
    const d = decideEvictionCleanup(record, store, p, policy);
    t.equal(d.remove, remove, `${name}: ${d.reason}`);
  }
});

t.test('eviction cleanup: the reasons, and the boundaries of serving and abandoning', async (t) => {
  const policy = { evictTimeoutMs: 600_000, abandonAfterMs: 300_000, now: 2_000_000 };
  const rec = (cause: 'removal' | 'cordon', beganAt = 1_900_000) => ({ storeId: '4', podUid: 'old', beganAt, cause });
  const pod = (uid: string, over: Partial<{ running: boolean; deleting: boolean; nodeSchedulable: boolean }> = {}) => ({ uid, running: true, deleting: false, nodeSchedulable: true, ...over });
  const up = { stateName: 'Up' };
  const table: Array<[string, ReturnType<typeof rec>, { stateName: string } | null, ReturnType<typeof pod> | null, boolean, string]> = [
    ['store gone', rec('removal'), null, pod('old'), true, 'store 4 no longer exists'],
    ['store removed', rec('removal'), { stateName: 'Removed' }, pod('old'), true, 'store 4 no longer exists'],
    ['no pod yet', rec('removal'), up, null, false, 'store 4 has no pod yet'],
    ['new pod back, store Up', rec('removal'), up, pod('new'), true, 'the pod of store 4 is back and the store is Up'],
    ['new pod not running yet', rec('removal'), up, pod('new', { running: false }), false, 'store 4 is still being drained'],
    ['new pod already being deleted', rec('removal'), up, pod('new', { deleting: true }), false, 'store 4 is still being drained'],
    ['new pod on a cordoned node', rec('cordon'), up, pod('new', { nodeSchedulable: false }), false, 'store 4 is still being drained'],
    ['uncordoned', rec('cordon'), up, pod('old'), true, 'the node of store 4 was uncordoned'],
    ['uncordoned but the pod is being deleted', rec('cordon'), up, pod('old', { deleting: true }), false, 'store 4 is still being drained'],
    ['abandoned exactly at timeout + abandon', rec('removal', 1_100_000), up, pod('old'), true, 'the removal of the pod of store 4 was not carried out; its leaders may return'],
    ['one millisecond before', rec('removal', 1_100_001), up, pod('old'), false, 'store 4 is still being drained'],
    ['past the timeout alone is not abandoned', rec('removal', 1_300_000), up, pod('old'), false, 'store 4 is still being drained'],
    ['abandon needs the pod serving', rec('removal', 1_000_000), up, pod('old', { running: false }), false, 'store 4 is still being drained'],
  ];
  for (const [name, record, store, p, remove, reason] of table) {
    t.same(decideEvictionCleanup(record, store, p, policy), { remove, reason }, name);
  }
});
