import t from 'tap';
import { DrainService, storeOfPod } from '../../src/services/drain.ts';
import { makeNode, makePod, stores } from '../builders.ts';
import { FakeEvents, FakeRecords, addStore, pdClientFor, silentLogger, standinPd } from '../fakes.ts';

function setup(opts: { cordoned?: string[] } = {}) {
  const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n, {}, opts.cordoned?.includes(n) ?? false));
  const pdPods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());
  const tikvPods = [0, 1, 2, 3].map((i) => makePod(`basic-tikv-${i}`).of('db', 'basic', 'tikv').on(`n${(i % 3) + 1}`).uid(`tikv-uid-${i}`).view());
  const s = stores({ nodes, pods: [...pdPods, ...tikvPods] });
  const pd = standinPd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  tikvPods.forEach((p, i) => addStore(pd, i + 1, p.name, 10 + i));
  const client = pdClientFor(pd);
  const records = new FakeRecords();
  const events = new FakeEvents();
  let now = 1_000_000;
  const decisions: string[] = [];
  const waited: number[] = [];
  const drain = new DrainService({
    ...s,
    pdFor: () => client,
    records,
    events,
    metrics: { decision: (c, o) => decisions.push(`${c}:${o}`), waited: (_c, sec) => waited.push(sec) },
    logger: silentLogger,
    now: () => now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  return { drain, pd, records, events, decisions, waited, ...s, advance: (ms: number) => (now += ms) };
}

const evict = (name: string) => ({ namespace: 'db', name, dryRun: false, via: 'eviction' as const });

t.test('PD leader: hand over first, then allow; metrics and events follow', async (t) => {
  const { drain, pd, events, decisions, waited, advance } = setup();
  const first = await drain.reviewRemoval(evict('basic-pd-0'));
  t.match(first, { allowed: false, code: 429, reason: 'TooManyRequests', message: /transferring PD leader from basic-pd-0 to basic-pd-1/, retryAfterSeconds: 1 });
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-1'], 'exactly one call changed PD: the transfer, by POST');
  t.same(pd.callLines().slice(0, 2).sort(), ['GET /pd/api/v1/health', 'GET /pd/api/v1/members']);
  t.ok(events.events.some((e) => e.reason === 'PDLeaderTransfer' && e.ref.kind === 'Pod'), 'event on the pod');
  t.ok(events.events.some((e) => e.reason === 'PDLeaderTransfer' && e.ref.kind === 'StatefulSet'), 'event on the cluster (StatefulSet)');
  advance(2000);
  t.match(await drain.reviewRemoval(evict('basic-pd-0')), { allowed: true, reason: /not the PD leader \(basic-pd-1 is\)/ });
  t.same(decisions, ['pd:wait', 'pd:allow']);
  t.same(waited, [2]);
});

t.test('PD quorum guard refuses a second member while one is down', async (t) => {
  const { drain, pd } = setup();
  pd.unhealthy.add('basic-pd-2');
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: false, code: 429, message: /below the quorum of 2; waiting for basic-pd-2/ });
  t.same(pd.writes(), [], 'nothing asked of PD');
});

t.test('PD leader on a cordoned node is handed to a member on a schedulable node', async (t) => {
  const { drain, pd } = setup({ cordoned: ['n1', 'n2'] });
  await drain.reviewRemoval(evict('basic-pd-0'));
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-2']);
});

t.test('PD down or slow: a clear "not yet", never a throw', async (t) => {
  const { drain, pd, decisions, events } = setup();
  pd.down = true;
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: false, code: 429, message: /db\/basic-pd-1 cannot go yet: cannot check it with PD of cluster db\/basic: PD is unreachable/ });
  t.same(decisions, ['pd:error']);
  t.ok(events.events.some((e) => e.reason === 'DrainCheckFailed'));
  pd.down = false;
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: true });
});

t.test('TiKV: evict leaders, wait for zero, then allow; the record drives cleanup', async (t) => {
  const { drain, pd, records, advance } = setup();
  pd.evictPerRead = 5;
  const r1 = await drain.reviewRemoval(evict('basic-tikv-0'));
  t.match(r1, { allowed: false, code: 429, message: /evicting 10 region leaders from TiKV store 1 of basic-tikv-0/ });
  t.ok(pd.evicting.has(1), 'store 1 is in the evict-leader scheduler');
  t.same(pd.writes(), ['POST /pd/api/v1/schedulers'], 'one POST adds the scheduler');
  t.same(JSON.parse(pd.calls.find((c) => c.method === 'POST')!.body), { name: 'evict-leader-scheduler', store_id: 1 }, 'store_id a number, as PD requires');
  t.ok(pd.callLines().includes('GET /pd/api/v1/stores?state=0&state=1&state=2'), 'stores read with Tombstones included');
  t.match(await records.forCluster('db', 'basic'), [{ storeId: '1', podUid: 'tikv-uid-0', cause: 'removal', beganAt: 1_000_000 }]);
  advance(5000);
  t.match(await drain.reviewRemoval(evict('basic-tikv-0')), { allowed: false, message: /evicting 5 region leaders .* \(for 5s\)/ });
  advance(5000);
  t.match(await drain.reviewRemoval(evict('basic-tikv-0')), { allowed: true, reason: /leads no regions/ });
  // While the same pod is still there the eviction stays; once a new pod serves the store, it goes.
  t.equal(await drain.reconcileEvictions(), 0);
});

t.test('TiKV: timeout lets the pod go with a warning and an Event', async (t) => {
  const { drain, pd, events, advance } = setup();
  pd.evictPerRead = 0;
  await drain.reviewRemoval(evict('basic-tikv-1'));
  advance(601_000);
  const r = await drain.reviewRemoval(evict('basic-tikv-1'));
  t.match(r, { allowed: true, warnings: [/goes with 11 region leaders still on store 2/] });
  t.ok(events.events.some((e) => e.type === 'Warning' && e.reason === 'EvictLeaderTimeout'));
});

t.test('cleanup: the new pod of a store ends the eviction; nothing is left in PD or the records', async (t) => {
  const { drain, pd, records, pods, advance } = setup();
  pd.evictPerRead = 100;
  await drain.reviewRemoval(evict('basic-tikv-2'));
  t.ok(pd.evicting.has(3));
  // The pod is deleted and comes back with a new uid, Running on a schedulable node.
  pods.upsert('db/basic-tikv-2', { ...pods.get('db/basic-tikv-2')!, uid: 'tikv-uid-2-new' });
  advance(30_000);
  t.equal(await drain.reconcileEvictions(), 1);
  t.notOk(pd.evicting.has(3));
  t.same(pd.writes(), ['POST /pd/api/v1/schedulers', 'DELETE /pd/api/v1/schedulers/evict-leader-scheduler-3'], 'removed by DELETE of the per-store scheduler name');
  t.same(await records.forCluster('db', 'basic'), []);
});

t.test('cordon starts evictions and transfers; uncordon ends them', async (t) => {
  const { drain, pd, records, nodes } = setup();
  nodes.upsert('n1', makeNode('n1', {}, true));
  await drain.nodeCordoned('n1');
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-1', 'POST /pd/api/v1/schedulers', 'POST /pd/api/v1/schedulers'], 'the leader on n1 handed over, two stores evicted');
  t.same([...pd.evicting].sort(), [1, 4], 'stores of basic-tikv-0 and basic-tikv-3 on n1');
  t.match(await records.forCluster('db', 'basic'), [{ cause: 'cordon' }, { cause: 'cordon' }]);
  t.equal(await drain.reconcileEvictions(), 0, 'kept while the node is cordoned');
  nodes.upsert('n1', makeNode('n1', {}, false));
  t.equal(await drain.reconcileEvictions(), 2);
  t.same([...pd.evicting], []);
  t.same(pd.writes().slice(3).sort(), ['DELETE /pd/api/v1/schedulers/evict-leader-scheduler-1', 'DELETE /pd/api/v1/schedulers/evict-leader-scheduler-4']);
});

t.test('always allow: non-TiDB pods, terminating pods, dry runs, escape hatch', async (t) => {
  const { drain, pods, pd, events } = setup();
  t.match(await drain.reviewRemoval(evict('web-0')), { allowed: true, reason: 'not a TiDB PD or TiKV pod' });
  t.match(
    await drain.reviewRemoval({ namespace: 'db', name: 'basic-pd-0', dryRun: false, via: 'delete', fromRequest: { labels: makePod('x').of('db', 'basic', 'pd').labels(), deleting: true, skipDrainCheck: false, uid: 'pd-uid-0' } }),
    { allowed: true, reason: /already terminating/ },
  );
  t.match(await drain.reviewRemoval({ ...evict('basic-pd-0'), dryRun: true }), { allowed: true, reason: /dry run/ });
  t.same(pd.calls, [], 'a dry run asks nothing of PD');
  pods.upsert('db/basic-pd-0', { ...pods.get('db/basic-pd-0')!, skipDrainCheck: true });
  t.match(await drain.reviewRemoval(evict('basic-pd-0')), { allowed: true, warnings: [/without drain checks/] });
  t.ok(events.events.some((e) => e.reason === 'DrainCheckSkipped' && e.type === 'Warning'));
});

t.test('stores map to pods by address, else by a pod label', async (t) => {
  const s = (id: string, address: string, labels: Array<{ key: string; value: string }> = []) => ({ store: { id, address, state_name: 'Up', labels }, status: { leader_count: 0, region_count: 0 } });
  const list = [s('1', 'basic-tikv-0.basic-tikv-peer.db.svc:20160'), s('2', 'mock:://tikv-2', [{ key: 'pod', value: 'basic-tikv-1' }])];
  t.equal(storeOfPod(list, 'basic-tikv-0')?.store.id, '1');
  t.equal(storeOfPod(list, 'basic-tikv-1')?.store.id, '2');
  t.equal(storeOfPod(list, 'basic-tikv-10'), undefined, 'prefix of another pod name does not match');
});

t.test('the pod cache indexes pods by node, following moves and removals', async (t) => {
  const { pods } = setup();
  const names = (node: string) => [...pods.onNode(node)].map((p) => p.name).sort();
  t.same(names('n1'), ['basic-pd-0', 'basic-tikv-0', 'basic-tikv-3']);
  pods.upsert('db/basic-tikv-3', { ...pods.get('db/basic-tikv-3')!, nodeName: 'n2' });
  t.same(names('n1'), ['basic-pd-0', 'basic-tikv-0']);
  t.ok(names('n2').includes('basic-tikv-3'));
  pods.remove('db/basic-pd-0');
  t.same(names('n1'), ['basic-tikv-0']);
});
