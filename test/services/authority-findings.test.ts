// Findings of the one-authority review, each shown at the drain service with in-memory PD, caches and
// ledger: a dead store that holds no data, leader evictions with nowhere to go, abandoned evictions.
import t from 'tap';
import { DrainService } from '../../src/services/drain.ts';
import { makeNode, makePod, stores } from '../builders.ts';
import { FakeEvents, silentLogger } from '../fakes.ts';
import { DrainFakePd, FakeLivePods, FakeTeardown, MemoryLedger } from '../drain-fakes.ts';

/** 4 TiKV stores (basic-tikv-0..3 on n1..n4), 3 PD members, max-replicas 3. */
function setup() {
  const nodes = ['n1', 'n2', 'n3', 'n4'].map((n) => makeNode(n, {}, false));
  const tikvPods = [0, 1, 2, 3].map((i) => makePod(`basic-tikv-${i}`).of('db', 'basic', 'tikv').on(`n${i + 1}`).uid(`tikv-uid-${i}`).view());
  const s = stores({ nodes, pods: tikvPods });
  const pd = new DrainFakePd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  tikvPods.forEach((p, i) => pd.addStore(String(i + 1), p.name, 10));
  pd.evictStep = 0;
  const ledger = new MemoryLedger();
  const events = new FakeEvents();
  let now = 1_000_000;
  const drain = new DrainService({
    ...s,
    pdFor: () => pd,
    ledger,
    teardown: new FakeTeardown(),
    livePods: new FakeLivePods(),
    events,
    metrics: { decision: () => undefined, waited: () => undefined },
    logger: silentLogger,
    now: () => now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  return { drain, pd, ledger, events, ...s, advance: (ms: number) => (now += ms) };
}
const evict = (name: string) => ({ namespace: 'db', name, dryRun: false, via: 'eviction' as const });

t.test('finding 3: a Down store whose regions PD already re-replicated does not block other drains', async (t) => {
  const { drain, pd, pods } = setup();
  // basic-tikv-3's node died long ago; PD moved every region off store 4 (no down peers left on it).
  pd.storeList[3]!.store.state_name = 'Down';
  pd.storeList[3]!.status = { leader_count: 0, region_count: 0 };
  pods.remove('db/basic-tikv-3');
  const r = await drain.reviewRemoval(evict('basic-tikv-0'));
  t.match(r, { allowed: false, message: /evicting 10 region leaders from TiKV store 1/ }, 'judged on its own leaders, not held by the dead store');
  t.notMatch(JSON.stringify(r), /store 4/, 'the dead store is not named as a blocker');
  // Still holding data: it counts as away, as before.
  pd.storeList[3]!.status = { leader_count: 0, region_count: 30 };
  t.match(await drain.reviewRemoval(evict('basic-tikv-1')), { allowed: false, message: /waiting for store 4 \(has no pod\)/ });
});

t.test('finding 11: a cordon-time eviction that would leave leaders nowhere to go is deferred, and says why', async (t) => {
  const { drain, pd, ledger, events, nodes } = setup();
  // Store 1: an eviction for a pod removal that was refused and abandoned (its pod still serves).
  await ledger.put('db', 'basic', { storeId: '1', podUid: 'tikv-uid-0', beganAt: 1_000_000, askedAt: 1_000_000, cause: 'removal' }, 'basic-tikv-0');
  await pd.addEvictLeader('1');
  // Node n3 is cordoned: store 3 may start evicting (with store 1, 2 and 4 still take leaders).
  nodes.upsert('n3', { ...nodes.get('n3')!, unschedulable: true });
  await drain.nodeCordoned('n3');
  t.same([...pd.evicting].sort(), ['1', '3'], 'one other store evicting leaves every region a receiving peer: started');
  nodes.upsert('n4', { ...nodes.get('n4')!, unschedulable: true });
  await drain.nodeCordoned('n4');
  t.same([...pd.evicting].sort(), ['1', '3'], 'a third would leave regions on 1, 3 and 4 with nowhere to go: deferred');
  t.ok(events.events.some((e) => e.reason === 'EvictLeaderDeferred' && /nowhere to put their leaders: store 1 \(evicting for the removal of basic-tikv-0\), store 3 \(evicting because node n3 is being drained\)/.test(e.message)), 'an Event says which stores are in the way');
});
t.test('finding 11: two nodes cordoned at the same moment beside an abandoned eviction: only one of their stores starts evicting', async (t) => {
  const { drain, pd, ledger, events, nodes } = setup();
  await ledger.put('db', 'basic', { storeId: '1', podUid: 'tikv-uid-0', beganAt: 1_000_000, askedAt: 1_000_000, cause: 'removal' }, 'basic-tikv-0');
  await pd.addEvictLeader('1');
  nodes.upsert('n3', { ...nodes.get('n3')!, unschedulable: true });
  nodes.upsert('n4', { ...nodes.get('n4')!, unschedulable: true });
  // Both judged on the same facts (store 1 alone evicting), as two node events handled at once are.
  await Promise.all([drain.nodeCordoned('n3'), drain.nodeCordoned('n4')]);
  t.equal([...pd.evicting].length, 2, `two stores evicting, not three: ${[...pd.evicting].sort().join(', ')}`);
  t.equal((await ledger.get('db', 'basic')).evictions.length, 2, 'and two records');
  t.ok(events.events.some((e) => e.reason === 'EvictLeaderDeferred'), 'the later one was deferred, with an Event');
});

t.test('finding 11: a removal still being asked for does not give way; the drain waits and names it', async (t) => {
  const { drain, pd, ledger, advance } = setup();
  await ledger.put('db', 'basic', { storeId: '1', podUid: 'tikv-uid-0', beganAt: 1_000_000, askedAt: 1_000_000, cause: 'removal' }, 'basic-tikv-0');
  await ledger.put('db', 'basic', { storeId: '2', podUid: 'tikv-uid-1', beganAt: 1_000_000, askedAt: 1_000_000, cause: 'removal' }, 'basic-tikv-1');
  await pd.addEvictLeader('1');
  await pd.addEvictLeader('2');
  advance(30_000);
  const r = await drain.reviewRemoval(evict('basic-tikv-2'));
  t.match(r, { allowed: false, message: /could leave regions with nowhere to put their leaders: store 1 \(evicting for the removal of basic-tikv-0\), store 2 \(evicting for the removal of basic-tikv-1\)/ });
  t.notOk(pd.evicting.has('3'), 'store 3 is not added');
});

t.test('finding 11: an eviction nobody asks for any more gives way when another store needs the room', async (t) => {
  const { drain, pd, ledger, events, advance } = setup();
  // Store 1: a refused-then-abandoned pod delete; store 2: an eviction someone else started (pd-ctl).
  await ledger.put('db', 'basic', { storeId: '1', podUid: 'tikv-uid-0', beganAt: 1_000_000, askedAt: 1_000_000, cause: 'removal' }, 'basic-tikv-0');
  await pd.addEvictLeader('1');
  await pd.addEvictLeader('2');
  advance(61_000);
  const r = await drain.reviewRemoval(evict('basic-tikv-2'));
  t.notOk(pd.evicting.has('1'), 'the abandoned eviction was ended');
  t.ok(pd.evicting.has('2'), "someone else's eviction is left alone");
  t.ok(pd.evicting.has('3'), 'store 3 evicts now');
  t.match(r, { allowed: false, message: /evicting 10 region leaders from TiKV store 3/ });
  t.notOk((await ledger.get('db', 'basic')).evictions.some((e) => e.storeId === '1'), 'its record is gone');
  t.ok(events.events.some((e) => e.reason === 'EvictLeaderGaveWay' && /store 1/.test(e.message)));
});

t.test('finding 9: what the drain service keeps per pod, cluster or node goes with them', async (t) => {
  const { drain, pd, pods, nodes, advance } = setup();
  pd.evictStep = 0;
  await drain.reviewRemoval(evict('basic-tikv-0')); // told to wait: remembered for the waited-seconds metric
  await drain.nodeDrainChanged('n4', true);
  t.match(drain.kept, { waiting: 1, nodes: 1, leaderCounts: 2 }); // basic-tikv-0's store, and the one evicted at the cordon of n4
  pods.remove('db/basic-tikv-0'); // deleted another way (never allowed here)
  nodes.remove('n4');
  advance(61_000);
  await drain.reconcileEvictions();
  t.same(drain.kept, { waiting: 0, transfers: 0, nodes: 0, heldFor: 0, leaderCounts: 0 });
});

t.test('a pod the controller recorded as stopped by a suspend goes on that record, also when PD no longer answers', async (t) => {
  const { drain, pd, ledger } = setup();
  await ledger.write('db', 'basic', { leaving: [{ component: 'tikv', member: '3', pod: 'basic-tikv-2', podUid: 'tikv-uid-2', since: 1_000_000, act: 'suspend' }], evictions: [], seenEvictions: [] }, null);
  pd.down = true;
  const del = { namespace: 'db', name: 'basic-tikv-2', dryRun: false, via: 'delete' as const };
  t.match(await drain.reviewRemoval(del), { allowed: true, reason: /tidb-steward's controller removes it \(suspend, recorded in the DisruptionLedger/ });
  t.match(await drain.reviewRemoval({ ...del, name: 'basic-tikv-1' }), { allowed: false, code: 429, message: /PD is unreachable/ }, 'a pod without such a record still needs PD');
});
