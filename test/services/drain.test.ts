import t from 'tap';
import fc from 'fast-check';
import { DrainService, memberOfPod, regionFaults, storeOfPod } from '../../src/services/drain.ts';
import { makeNode, makePod, stores } from '../builders.ts';
import { FakeEvents, silentLogger } from '../fakes.ts';
import { DrainFakePd, FakeLivePods, FakeTeardown, MemoryLedger } from '../drain-fakes.ts';
import { DEFAULT_DRAIN_TAINTS, nodeViewFor } from '../../src/k8s/views.ts';
import { DisruptionAuthority } from '../../src/services/authority.ts';
import { PdAccess } from '../../src/pd/facts.ts';

function setup(opts: { cordoned?: string[] } = {}) {
  const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n, {}, opts.cordoned?.includes(n) ?? false));
  const pdPods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());
  const tikvPods = [0, 1, 2, 3].map((i) => makePod(`basic-tikv-${i}`).of('db', 'basic', 'tikv').on(`n${(i % 3) + 1}`).uid(`tikv-uid-${i}`).view());
  const s = stores({ nodes, pods: [...pdPods, ...tikvPods] });
  const pd = new DrainFakePd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  tikvPods.forEach((p, i) => pd.addStore(String(i + 1), p.name, 10 + i));
  const records = new MemoryLedger();
  const teardown = new FakeTeardown();
  const livePods = new FakeLivePods();
  const events = new FakeEvents();
  let now = 1_000_000;
  const decisions: string[] = [];
  const waited: number[] = [];
  const drain = new DrainService({
    ...s,
    pdFor: () => pd,
    ledger: records,
    teardown,
    livePods,
    events,
    metrics: { decision: (c, o) => decisions.push(`${c}:${o}`), waited: (_c, sec) => waited.push(sec) },
    logger: silentLogger,
    now: () => now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  const replica = () =>
    new DrainService({ ...s, pdFor: () => pd, ledger: records, teardown, livePods, events, metrics: { decision: () => undefined, waited: () => undefined }, logger: silentLogger, now: () => now, evictTimeoutMs: 600_000, abandonAfterMs: 300_000 });
  return { drain, pd, records, teardown, livePods, events, decisions, waited, replica, ...s, advance: (ms: number) => (now += ms) };
}

const evict = (name: string) => ({ namespace: 'db', name, dryRun: false, via: 'eviction' as const });

t.test('PD leader: hand over first, then allow; metrics and events follow', async (t) => {
  const { drain, pd, events, decisions, waited, advance } = setup();
  const first = await drain.reviewRemoval(evict('basic-pd-0'));
  t.match(first, { allowed: false, code: 429, reason: 'TooManyRequests', message: /transferring PD leader from basic-pd-0 to basic-pd-1/, retryAfterSeconds: 1 });
  t.same(pd.transfers, ['basic-pd-1']);
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
  t.same(pd.transfers, []);
});

t.test('PD leader on a cordoned node is handed to a member on a schedulable node', async (t) => {
  const { drain, pd } = setup({ cordoned: ['n1', 'n2'] });
  await drain.reviewRemoval(evict('basic-pd-0'));
  t.same(pd.transfers, ['basic-pd-2']);
});

t.test('PD down or slow: a clear "not yet", never a throw', async (t) => {
  const { drain, pd, decisions, events } = setup();
  pd.down = true;
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: false, code: 429, message: /db\/basic-pd-1 cannot go yet: cannot check it with PD of cluster db\/basic: PD's members and their health cannot be read: PD is unreachable/ });
  t.same(decisions, ['pd:error']);
  t.ok(events.events.some((e) => e.reason === 'DrainCheckFailed'));
  pd.down = false;
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: true });
});

t.test('TiKV: evict leaders, wait for zero, then allow; the record drives cleanup', async (t) => {
  const { drain, pd, records, advance } = setup();
  pd.evictStep = 5;
  const r1 = await drain.reviewRemoval(evict('basic-tikv-0'));
  t.match(r1, { allowed: false, code: 429, message: /evicting 10 region leaders from TiKV store 1 of basic-tikv-0/ });
  t.ok(pd.evicting.has('1'), 'store 1 is in the evict-leader scheduler');
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
  pd.evictStep = 0;
  await drain.reviewRemoval(evict('basic-tikv-1'));
  advance(601_000);
  const r = await drain.reviewRemoval(evict('basic-tikv-1'));
  t.match(r, { allowed: true, warnings: [/goes with 11 region leaders still on store 2/] });
  t.ok(events.events.some((e) => e.type === 'Warning' && e.reason === 'EvictLeaderTimeout'));
});

t.test('cleanup: the new pod of a store ends the eviction; nothing is left in PD or the records', async (t) => {
  const { drain, pd, records, pods, advance } = setup();
  pd.evictStep = 100;
  await drain.reviewRemoval(evict('basic-tikv-2'));
  t.ok(pd.evicting.has('3'));
  // The pod is deleted and comes back with a new uid, Running on a schedulable node.
  pods.upsert('db/basic-tikv-2', { ...pods.get('db/basic-tikv-2')!, uid: 'tikv-uid-2-new' });
  advance(30_000);
  t.equal(await drain.reconcileEvictions(), 1);
  t.notOk(pd.evicting.has('3'));
  t.same(await records.forCluster('db', 'basic'), []);
});

t.test('cordon starts evictions and transfers; uncordon ends them', async (t) => {
  const { drain, pd, records, nodes } = setup();
  nodes.upsert('n1', makeNode('n1', {}, true));
  await drain.nodeCordoned('n1');
  t.same(pd.transfers, ['basic-pd-1'], 'the leader on n1 handed over');
  t.same([...pd.evicting].sort(), ['1', '4'], 'stores of basic-tikv-0 and basic-tikv-3 on n1');
  t.match(await records.forCluster('db', 'basic'), [{ cause: 'cordon' }, { cause: 'cordon' }]);
  t.equal(await drain.reconcileEvictions(), 0, 'kept while the node is cordoned');
  nodes.upsert('n1', makeNode('n1', {}, false));
  t.equal(await drain.reconcileEvictions(), 2);
  t.same([...pd.evicting], []);
});

t.test('always allow: non-TiDB pods, terminating pods, escape hatch', async (t) => {
  const { drain, pods, pd, events, livePods } = setup();
  livePods.pods.set('db/web-0', null);
  t.match(await drain.reviewRemoval(evict('web-0')), { allowed: true, reason: 'not a TiDB PD or TiKV pod' });
  t.match(
    await drain.reviewRemoval({ namespace: 'db', name: 'basic-pd-0', dryRun: false, via: 'delete', fromRequest: { labels: makePod('x').of('db', 'basic', 'pd').labels(), deleting: true, skipDrainCheck: false, uid: 'pd-uid-0' } }),
    { allowed: true, reason: /already terminating/ },
  );
  pods.upsert('db/basic-pd-0', { ...pods.get('db/basic-pd-0')!, skipDrainCheck: true });
  t.match(await drain.reviewRemoval(evict('basic-pd-0')), { allowed: true, warnings: [/without drain checks/] });
  t.ok(events.events.some((e) => e.reason === 'DrainCheckSkipped' && e.type === 'Warning'));
});

t.test('an eviction of a PD/TiKV pod missing from the cache: read live and judged, never allowed unchecked', async (t) => {
  const { drain, pods, pd, livePods, records } = setup();
  const view = pods.get('db/basic-pd-1')!;
  pods.remove('db/basic-pd-1');
  livePods.pods.set('db/basic-pd-1', view);
  pd.unhealthy.add('basic-pd-2');
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: false, code: 429, message: /db\/basic-pd-1 cannot go yet: .*below the quorum of 2; waiting for basic-pd-2/ }, 'judged like a cached pod');
  t.same(livePods.reads, [{ pod: 'db/basic-pd-1', timeoutMs: 500 }], 'one read, with a deadline inside the budget');
  pd.unhealthy.clear();
  t.match(await drain.reviewRemoval(evict('basic-pd-1')), { allowed: true, reason: /not the PD leader/ }, 'allowed once it is safe');
  t.match((await records.read('db', 'basic')).ledger.leaving, [{ component: 'pd', pod: 'basic-pd-1', podUid: view.uid }], 'and recorded like any removal');
});

t.test('a live read that fails or does not answer is a 429 with the reason; a pod that is gone may go', async (t) => {
  const { drain, pods, livePods, decisions } = setup();
  pods.remove('db/basic-tikv-1');
  livePods.failure = new Error('pods "basic-tikv-1" is forbidden: User "system:serviceaccount:tidb-steward:tidb-steward" cannot get resource "pods" (HTTP 403)');
  t.same(await drain.reviewRemoval(evict('basic-tikv-1')), {
    allowed: false,
    code: 429,
    reason: 'TooManyRequests',
    message: `db/basic-tikv-1 cannot go yet: it is not in tidb-steward's pod cache and reading it from the API server failed: pods "basic-tikv-1" is forbidden: User "system:serviceaccount:tidb-steward:tidb-steward" cannot get resource "pods" (HTTP 403); will retry`,
    retryAfterSeconds: 1,
  });
  livePods.failure = null;
  livePods.hang = true;
  const started = Date.now();
  t.match(await drain.reviewRemoval(evict('basic-tikv-1')), { allowed: false, code: 429, message: /reading it from the API server failed: no answer within 500 ms; will retry$/ });
  t.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms`);
  livePods.hang = false;
  t.match(await drain.reviewRemoval(evict('basic-tikv-1')), { allowed: true, reason: 'the pod does not exist' }, '404: nothing to protect');
  t.same(decisions, [], 'never judged: no decision counted');
});

t.test('no live read when the cache or the request says what the pod is', async (t) => {
  const { drain, pods, livePods } = setup();
  await drain.reviewRemoval(evict('basic-pd-1'));
  pods.remove('db/basic-pd-2');
  const labels = makePod('x').of('db', 'basic', 'pd').labels();
  await drain.reviewRemoval({ namespace: 'db', name: 'basic-pd-2', dryRun: false, via: 'delete', fromRequest: { labels, deleting: false, skipDrainCheck: false, uid: 'pd-uid-2' } });
  t.same(livePods.reads, []);
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

// ---- disruption accounting (issue drain-safety) ---------------------------------------------------

function fivePd() {
  const names = [0, 1, 2, 3, 4].map((i) => `basic-pd-${i}`);
  const nodes = [1, 2, 3, 4, 5].map((n) => makeNode(`n${n}`));
  const pdPods = names.map((n, i) => makePod(n).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());
  const s = stores({ nodes, pods: pdPods });
  const pd = new DrainFakePd(names, 'basic-pd-0');
  const ledger = new MemoryLedger();
  const events = new FakeEvents();
  let now = 5_000_000;
  const replica = () =>
    new DrainService({ ...s, pdFor: () => pd, ledger, teardown: new FakeTeardown(), livePods: new FakeLivePods(), events, metrics: { decision: () => undefined, waited: () => undefined }, logger: silentLogger, now: () => now, evictTimeoutMs: 600_000, abandonAfterMs: 300_000 });
  return { pd, ledger, events, ...s, replica, advance: (ms: number) => (now += ms) };
}

t.test('issue case: 5 PD members, one down, two nodes drained at once on two replicas: one goes, one waits', async (t) => {
  const { pd, ledger, pods, replica, advance } = fivePd();
  pd.silent.add('basic-pd-4'); // process dead, pod Running: it does not answer its own health check
  const [a, b] = [replica(), replica()];
  const [ra, rb] = await Promise.all([a.reviewRemoval(evict('basic-pd-1')), b.reviewRemoval(evict('basic-pd-2'))]);
  const allowed = [ra, rb].filter((r) => r.allowed);
  t.equal(allowed.length, 1, `exactly one allowed: ${JSON.stringify([ra, rb].map((r) => (r.allowed ? r.reason : r.message)))}`);
  const waiting = [ra, rb].find((r) => !r.allowed)!;
  t.match(waiting, { code: 429, message: /would leave 2 of 5 members healthy, below the quorum of 3; waiting for basic-pd-[12] \(eviction allowed/ });
  t.ok(ledger.conflicts >= 0);
  const leaving = (await ledger.get('db', 'basic')).leaving;
  t.equal(leaving.length, 1, 'the allowed removal is in the ledger');
  const gone = leaving[0]!.pod;
  const other = gone === 'basic-pd-1' ? 'basic-pd-2' : 'basic-pd-1';
  // The pod goes; its replacement comes up with a new uid but PD does not count it healthy yet.
  pd.unhealthy.add(gone);
  pods.upsert(`db/${gone}`, { ...pods.get(`db/${gone}`)!, uid: `${gone}-new` });
  advance(5000);
  t.equal(await a.reconcileEvictions(), 0, 'still leaving while PD counts it unhealthy');
  t.match(await b.reviewRemoval(evict(other)), { allowed: false, message: /waiting for basic-pd-[12] \(eviction allowed for 5s\)/ });
  pd.unhealthy.delete(gone);
  t.equal(await a.reconcileEvictions(), 1, 'the replacement is healthy: no longer leaving');
  t.match(await b.reviewRemoval(evict(other)), { allowed: true });
});

t.test('a conflicting ledger write makes the replica decide again on what the other wrote', async (t) => {
  const { ledger, replica } = fivePd();
  const [a, b] = [replica(), replica()];
  // b's write lands between a's read and a's write.
  ledger.beforeWrite = async () => {
    ledger.beforeWrite = null;
    const r = await b.reviewRemoval(evict('basic-pd-2'));
    t.ok(r.allowed, 'b goes first');
  };
  const { pd } = { pd: null };
  void pd;
  const r = await a.reviewRemoval(evict('basic-pd-1'));
  t.ok(ledger.conflicts >= 1, 'a saw a conflict');
  t.ok(r.allowed, 'with 5 healthy members, after b (leaving) 3 of 5 still stay without a: a may go too');
  const leaving = (await ledger.get('db', 'basic')).leaving.map((e) => e.member).sort();
  t.same(leaving, ['basic-pd-1', 'basic-pd-2']);
  t.match(await replica().reviewRemoval(evict('basic-pd-3')), { allowed: false, message: /would leave 2 of 5/ }, 'a third waits');
});

t.test('PD health per member: an unreachable member is unhealthy and its own pod may go; /health is not used', async (t) => {
  const { pd, replica } = fivePd();
  pd.silent.add('basic-pd-3');
  let healthCalls = 0;
  pd.health = async () => {
    healthCalls++;
    throw new Error('PD /health took 3 s per unreachable member');
  };
  t.match(await replica().reviewRemoval(evict('basic-pd-3')), { allowed: true, reason: /not healthy/ });
  t.equal(healthCalls, 0);
  t.ok(pd.memberHealthCalls > 0);
  // Every member silent: our probes do not work; nothing is judged healthy or unhealthy on that.
  for (let i = 0; i < 5; i++) pd.silent.add(`basic-pd-${i}`);
  t.match(await replica().reviewRemoval(evict('basic-pd-2')), { allowed: false, message: /none answered its own health check/ });
});

t.test('a Terminating pod counts as leaving until its replacement is healthy', async (t) => {
  const { pods, replica } = setup();
  pods.upsert('db/basic-pd-2', { ...pods.get('db/basic-pd-2')!, deleting: true });
  t.match(await replica().reviewRemoval(evict('basic-pd-1')), { allowed: false, message: /waiting for basic-pd-2 \(pod is terminating\)/ });
  pods.upsert('db/basic-pd-2', { ...pods.get('db/basic-pd-2')!, deleting: false, uid: 'new', ready: false });
  t.match(await replica().reviewRemoval(evict('basic-pd-1')), { allowed: false, message: /basic-pd-2 \(pod is not Ready\)/ });
  pods.upsert('db/basic-pd-2', { ...pods.get('db/basic-pd-2')!, ready: true });
  t.match(await replica().reviewRemoval(evict('basic-pd-1')), { allowed: true });
});

t.test('a DeleteCollection of all PD pods lets one go; the others wait', async (t) => {
  const { replica } = setup();
  const labels = makePod('x').of('db', 'basic', 'pd').labels();
  const r = replica();
  const results = [];
  for (const i of [1, 2, 0]) {
    results.push(await r.reviewRemoval({ namespace: 'db', name: `basic-pd-${i}`, dryRun: false, via: 'deletecollection', fromRequest: { labels, deleting: false, skipDrainCheck: false, uid: `pd-uid-${i}` } }));
  }
  t.same(results.map((x) => x.allowed), [true, false, false]);
});

t.test('members named with a domain suffix are found by prefix and by URL host', async (t) => {
  const suffix = (i: number) => `basic-pd-${i}.basic-pd-peer.db.svc.cluster.local`;
  const { pods, nodes } = setup();
  const pd = new DrainFakePd([0, 1, 2].map(suffix), suffix(0));
  const d = new DrainService({ pods, nodes, pdFor: () => pd, ledger: new MemoryLedger(), teardown: new FakeTeardown(), livePods: new FakeLivePods(), events: new FakeEvents(), metrics: { decision: () => undefined, waited: () => undefined }, logger: silentLogger, now: () => 1, evictTimeoutMs: 1, abandonAfterMs: 1 });
  t.match(await d.reviewRemoval(evict('basic-pd-0')), { allowed: false, message: /transferring PD leader from basic-pd-0\.basic-pd-peer.* to basic-pd-1\./ });
  pd.unhealthy.add(suffix(2));
  t.match(await d.reviewRemoval(evict('basic-pd-1')), { allowed: false, message: /below the quorum of 2/ }, 'the quorum guard applies, not "not a member"');
  const byUrl = [{ name: 'pd-a', client_urls: ['https://basic-pd-7.basic-pd-peer.db.svc:2379'] }];
  t.equal(memberOfPod(byUrl, 'basic-pd-7')?.name, 'pd-a');
  t.equal(memberOfPod(byUrl, 'basic-pd-70'), undefined);
});

t.test('a live store wins over a Tombstone at the same address', async (t) => {
  const s = (id: string, state: string) => ({ store: { id, address: 'basic-tikv-0.basic-tikv-peer.db.svc:20160', state_name: state, labels: [] }, status: { leader_count: 0, region_count: 0 } });
  t.equal(storeOfPod([s('1', 'Tombstone'), s('7', 'Up')], 'basic-tikv-0')?.store.id, '7');
  t.equal(storeOfPod([s('1', 'Tombstone')], 'basic-tikv-0')?.store.id, '1');
});

t.test('TiKV: two stores of three never away together; region faults and stores not Up block too', async (t) => {
  const { pd, replica, records, pods, advance } = setup();
  pd.evictStep = 100;
  pd.storeList.pop(); // 3 stores: basic-tikv-0..2
  const [a, b] = [replica(), replica()];
  // Leaders are evicted on both (first call), then both ask again.
  await Promise.all([a.reviewRemoval(evict('basic-tikv-0')), b.reviewRemoval(evict('basic-tikv-1'))]);
  const [ra, rb] = await Promise.all([a.reviewRemoval(evict('basic-tikv-0')), b.reviewRemoval(evict('basic-tikv-1'))]);
  t.equal([ra, rb].filter((r) => r.allowed).length, 1, `one allowed: ${JSON.stringify([ra, rb].map((r) => (r.allowed ? r.reason : r.message)))}`);
  t.match([ra, rb].find((r) => !r.allowed), { message: /would let regions lose their majority \(3 replicas tolerate 1 away\); waiting for store [12] \(eviction allowed/ });
  const entry = (await records.get('db', 'basic')).leaving[0]!;
  // The store comes back Up with a new pod: no longer leaving.
  pods.upsert(`db/${entry.pod}`, { ...pods.get(`db/${entry.pod}`)!, uid: 'new' });
  advance(1000);
  await a.reconcileEvictions();
  t.same((await records.get('db', 'basic')).leaving, []);
  pd.checks.set('down-peer', [{ id: '9', peers: ['1', '2', '3'], down_peers: ['3'] }]);
  const other = entry.pod === 'basic-tikv-0' ? 'basic-tikv-1' : 'basic-tikv-0';
  t.match(await b.reviewRemoval(evict(other)), { allowed: false, message: /1 regions PD reports with down, offline or missing peers/ });
  pd.checks.clear();
  pd.storeList[2]!.store.state_name = 'Disconnected';
  t.match(await b.reviewRemoval(evict(other)), { allowed: false, message: /store 3 \(not Up\)/ });
  pd.storeList[2]!.store.state_name = 'Up';
  t.match(await b.reviewRemoval(evict(other)), { allowed: true });
});

t.test('TiKV: a crashed pod (store Down, pod not Ready, its peers reported down) may go; the others wait for it', async (t) => {
  const { drain, pd, pods } = setup();
  pd.storeList.pop(); // 3 stores: basic-tikv-0..2
  pd.storeList[0]!.store.state_name = 'Down';
  pd.checks.set('down-peer', [{ id: '9', peers: ['1', '2', '3'], down_peers: ['1'] }]);
  pods.upsert('db/basic-tikv-0', { ...pods.get('db/basic-tikv-0')!, ready: false });
  t.match(await drain.reviewRemoval(evict('basic-tikv-0')), { allowed: true, reason: /store 1 of basic-tikv-0 is Down: it serves no leaders, so its pod may go/ });
  t.match(await drain.reviewRemoval(evict('basic-tikv-1')), { allowed: false, code: 429, message: /waiting for store 1 \(eviction allowed for 0s\), 1 regions PD reports with down, offline or missing peers/ });
});

t.test('region faults: missing, down and offline peers per region; the worst region counts', async (t) => {
  const checks = new Map([
    ['miss-peer', [{ id: '1', peers: ['1', '2'], down_peers: [] }]],
    ['down-peer', [{ id: '1', peers: ['1', '2'], down_peers: ['2'] }, { id: '2', peers: ['1', '2', '3'], down_peers: ['3'] }]],
    ['offline-peer', [{ id: '3', peers: ['1', '4', '5'], down_peers: [] }]],
  ] as const);
  t.same(regionFaults(new Map(checks.entries()) as never, 3, new Set(['4', '5'])), { worst: 2, regions: 3 });
});

t.test('teardown: a deleting namespace or owner lets the pod go unchecked, even without PD', async (t) => {
  const { replica, teardown, pd } = setup();
  pd.down = true;
  teardown.namespaces.add('db');
  t.match(await replica().reviewRemoval(evict('basic-pd-0')), { allowed: true, reason: /namespace db is being deleted/ });
  teardown.namespaces.clear();
  teardown.owners.add('db/basic-tikv');
  t.match(await replica().reviewRemoval(evict('basic-tikv-0')), { allowed: true, reason: /StatefulSet db\/basic-tikv .* is being deleted/ });
  t.match(await replica().reviewRemoval(evict('basic-pd-0')), { allowed: false, code: 429 });
});

t.test('a pod that is not Running may go when PD cannot be reached, with a warning and an Event', async (t) => {
  const { replica, pods, pd, events } = setup();
  pd.down = true;
  pods.upsert('db/basic-pd-1', { ...pods.get('db/basic-pd-1')!, running: false });
  t.match(await replica().reviewRemoval(evict('basic-pd-1')), { allowed: true, warnings: [/not Running and PD .* cannot be asked/] });
  t.ok(events.events.some((e) => e.reason === 'DrainCheckSkippedPdUnreachable' && e.type === 'Warning'));
});

t.test('deadlines: a slow lookup becomes a 429 with the reason, within the budget', async (t) => {
  const { pods, nodes, pd } = setup();
  const teardown = new FakeTeardown();
  teardown.slowMs = 2000;
  const d = new DrainService({ pods, nodes, pdFor: () => pd, ledger: new MemoryLedger(), teardown, livePods: new FakeLivePods(), events: new FakeEvents(), metrics: { decision: () => undefined, waited: () => undefined }, logger: silentLogger, now: Date.now, evictTimeoutMs: 1, abandonAfterMs: 1, budgetMs: 100 });
  const started = Date.now();
  const r = await d.reviewRemoval(evict('basic-pd-1'));
  t.match(r, { allowed: false, code: 429, message: /ran out of its 100 ms budget while checking whether the cluster is being torn down/ });
  t.ok(Date.now() - started < 1000);
});

t.test('an eviction someone else started times out from when tidb-steward first saw it; Disconnected waits for leaders', async (t) => {
  const { replica, pd, records, advance } = setup();
  pd.evictStep = 0;
  pd.evicting.add('2'); // someone else's
  t.match(await replica().reviewRemoval(evict('basic-tikv-1')), { allowed: false, message: /evicting 11 region leaders/ });
  t.match((await records.get('db', 'basic')).seenEvictions, [{ storeId: '2', since: 1_000_000 }]);
  advance(601_000);
  t.match(await replica().reviewRemoval(evict('basic-tikv-1')), { allowed: true, warnings: [/goes with 11 region leaders/] });
  pd.storeList[0]!.store.state_name = 'Disconnected';
  t.match(await replica().reviewRemoval(evict('basic-tikv-0')), { allowed: false });
});

t.test('the node watch: a drain taint (not a cordon) starts the hand-over, its removal ends it', async (t) => {
  const { drain, pd, nodes } = setup();
  const view = nodeViewFor(DEFAULT_DRAIN_TAINTS);
  const wire = (taints: Array<{ key: string; effect: string }>) => view({ metadata: { name: 'n3', labels: { 'kubernetes.io/hostname': 'n3' } }, spec: { taints } }).value!;
  const plain = wire([]);
  const tainted = wire([{ key: 'karpenter.sh/disrupted', effect: 'NoSchedule' }]);
  t.equal(tainted.unschedulable, false, 'not cordoned: binds still judge spec.unschedulable alone');
  t.equal(tainted.draining, true);
  t.equal(drain.nodeViewChanged(plain, plain), null, 'no change, nothing to do');
  t.equal(drain.nodeViewChanged(undefined, tainted), null, 'first sight (relist) is not a change');
  nodes.upsert('n3', tainted);
  await drain.nodeViewChanged(plain, tainted);
  t.same([...pd.evicting], ['3'], 'store of basic-tikv-2 on n3');
  nodes.upsert('n3', plain);
  await drain.nodeViewChanged(tainted, plain);
  t.same([...pd.evicting], []);
});

t.test('autoscaler drain taints start the hand-over; removing them ends it', async (t) => {
  const { drain, pd, nodes } = setup();
  await drain.nodeDrainChanged('n2', true);
  t.same([...pd.evicting].sort(), ['2'], 'store of basic-tikv-1 on n2');
  await drain.nodeDrainChanged('n2', true);
  t.same([...pd.evicting].sort(), ['2'], 'acted on once');
  nodes.upsert('n2', makeNode('n2'));
  await drain.nodeDrainChanged('n2', false);
  t.same([...pd.evicting], []);
});

t.test('cleanup waits while a new PD leader has not restored its schedulers, then ends the eviction', async (t) => {
  const { drain, pd, records, pods, advance } = setup();
  await drain.reviewRemoval(evict('basic-tikv-2'));
  t.ok(pd.evicting.has('3'));
  pods.upsert('db/basic-tikv-2', { ...pods.get('db/basic-tikv-2')!, uid: 'tikv-uid-2-new' });
  advance(30_000);
  // PD's leader changed: it lists no schedulers yet, and a DELETE now would be undone by its restore.
  pd.schedulersRestored = false;
  t.equal(await drain.reconcileEvictions(), 0, 'nothing ended while PD has not restored its schedulers');
  t.same(pd.removals, [], 'no DELETE sent to PD');
  t.match(await records.forCluster('db', 'basic'), [{ storeId: '3' }], 'the record is kept');
  pd.schedulersRestored = true;
  t.equal(await drain.reconcileEvictions(), 1);
  t.same(pd.removals, ['3']);
  t.same(await records.forCluster('db', 'basic'), []);
});

t.test('ledger cleanup reads PD through the shared snapshot: its fresh read serves the decisions after it', async (t) => {
  const { pd, records, nodes, pods } = setup();
  let storeReads = 0;
  const readStores = pd.stores.bind(pd);
  pd.stores = async () => {
    storeReads++;
    return readStores();
  };
  let clock = 1_000_000;
  const now = () => clock;
  const access = new PdAccess({ client: async () => pd, ttlMs: 60_000, now });
  const authority = new DisruptionAuthority({ pods, nodes, pd: access, ledger: records, now, logger: silentLogger });
  const drain = new DrainService({
    pods,
    nodes,
    pdFor: () => pd,
    authority,
    ledger: records,
    teardown: new FakeTeardown(),
    livePods: new FakeLivePods(),
    events: new FakeEvents(),
    metrics: { decision: () => undefined, waited: () => undefined },
    logger: silentLogger,
    now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  nodes.upsert('n1', makeNode('n1', {}, true));
  await drain.nodeCordoned('n1');
  t.same([...pd.evicting].sort(), ['1', '4']);
  await access.facts('db', 'basic');
  clock += 1000;
  // Still cordoned: nothing to end. The pass reads PD afresh (a snapshot from before it is not trusted)...
  const before = storeReads;
  t.equal(await drain.reconcileEvictions(), 0);
  t.equal(storeReads, before + 1, 'one read of the stores for the pass');
  // ...and that read is the shared one: the next decision's facts come from it.
  t.equal((await access.facts('db', 'basic')).at, clock, "the decision's snapshot is the one the pass took");
  t.equal(storeReads, before + 1, 'the decision after it read nothing more');
  nodes.upsert('n1', makeNode('n1', {}, false));
  clock += 1000;
  t.equal(await drain.reconcileEvictions(), 2, 'uncordoned: both cordon evictions end');
  t.same([...pd.evicting], []);
  const after = storeReads;
  await access.facts('db', 'basic');
  t.equal(storeReads, after + 1, 'PD changed: the next decision reads it afresh');
});

t.test('a removal is judged on PD facts read after it arrived: a snapshot from before an election does not let the new leader go', async (t) => {
  const { pd, records, nodes, pods } = setup();
  let clock = 1_000_000;
  const now = () => clock;
  const access = new PdAccess({ client: async () => pd, ttlMs: 60_000, now });
  const authority = new DisruptionAuthority({ pods, nodes, pd: access, ledger: records, now, logger: silentLogger });
  const drain = new DrainService({
    pods,
    nodes,
    pdFor: () => pd,
    authority,
    ledger: records,
    teardown: new FakeTeardown(),
    livePods: new FakeLivePods(),
    events: new FakeEvents(),
    metrics: { decision: () => undefined, waited: () => undefined },
    logger: silentLogger,
    now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  await access.facts('db', 'basic'); // read while basic-pd-0 leads
  clock += 100;
  pd.leader = 'basic-pd-2'; // an election the snapshot has not seen
  clock += 100;
  const review = await drain.reviewRemoval(evict('basic-pd-2'));
  t.match(review, { allowed: false, code: 429, message: /transferring PD leader from basic-pd-2 to basic-pd-0/ });
  t.same(pd.transfers, ['basic-pd-0']);
});

t.test('ledger cleanup does not drop a leaving PD member on health read before its pod was replaced', async (t) => {
  const { pd, records, nodes, pods } = setup();
  let clock = 1_000_000;
  const now = () => clock;
  const access = new PdAccess({ client: async () => pd, ttlMs: 60_000, now });
  const authority = new DisruptionAuthority({ pods, nodes, pd: access, ledger: records, now, logger: silentLogger });
  const drain = new DrainService({ pods, nodes, pdFor: () => pd, authority, ledger: records, teardown: new FakeTeardown(), livePods: new FakeLivePods(), events: new FakeEvents(), metrics: { decision: () => undefined, waited: () => undefined }, logger: silentLogger, now, evictTimeoutMs: 600_000, abandonAfterMs: 300_000 });
  const { ledger, resourceVersion } = await records.read('db', 'basic');
  await records.write('db', 'basic', { ...ledger, leaving: [{ component: 'pd', member: 'basic-pd-1', pod: 'basic-pd-1', podUid: 'pd-uid-1-old', since: clock, act: 'eviction' }] }, resourceVersion);
  await access.facts('db', 'basic'); // read while the old pod's member still answered
  clock += 500;
  pd.unhealthy.add('basic-pd-1'); // the old pod went; the new pod (pd-uid-1) runs, its member not up yet
  t.equal(await drain.reconcileEvictions(), 0);
  t.match((await records.get('db', 'basic')).leaving, [{ member: 'basic-pd-1' }], 'still leaving: PD does not count it healthy now');
  pd.unhealthy.delete('basic-pd-1');
  clock += 500;
  t.equal(await drain.reconcileEvictions(), 1, 'dropped once PD counts it healthy');
});

t.test('dry run (kubectl drain --dry-run=server): the verdict a real removal gets now, with nothing changed', async (t) => {
  const dry = (name: string) => ({ ...evict(name), dryRun: true });
  const cases: Array<{ name: string; given?: (s: ReturnType<typeof setup>) => void; pod: string; verdict: RegExp | true }> = [
    { name: 'the PD leader is held for its hand-over', pod: 'basic-pd-0', verdict: /db\/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1 \(dry run: nothing changed; a real removal would first move PD leadership from basic-pd-0 to basic-pd-1\)/ },
    { name: 'a PD follower goes', pod: 'basic-pd-1', verdict: true },
    { name: 'the quorum guard holds a member', given: ({ pd }) => pd.unhealthy.add('basic-pd-2'), pod: 'basic-pd-1', verdict: /below the quorum of 2; waiting for basic-pd-2 \(unhealthy\) \(dry run: nothing changed\)/ },
    { name: 'a TiKV store with leaders is held for their eviction', pod: 'basic-tikv-1', verdict: /evicting 11 region leaders from TiKV store 2 of basic-tikv-1 \(dry run: nothing changed; a real removal would first evict 11 region leaders from TiKV store 2\)/ },
    { name: 'PD unreachable: not yet, with the fact that could not be read', given: ({ pd }) => (pd.down = true), pod: 'basic-tikv-0', verdict: /cannot check it with PD of cluster db\/basic: PD's TiKV stores cannot be read/ },
  ];
  for (const c of cases) {
    const s = setup();
    c.given?.(s);
    const review = await s.drain.reviewRemoval(dry(c.pod));
    if (c.verdict === true) t.match(review, { allowed: true, reason: /^dry run, nothing changed: .*not the PD leader/ }, c.name);
    else t.match(review, { allowed: false, code: 429, message: c.verdict }, c.name);
    t.same({ transfers: s.pd.transfers, evicting: [...s.pd.evicting], ledgerWrites: s.records.writes, ledger: await s.records.list(), events: s.events.events.length, decisions: s.decisions }, { transfers: [], evicting: [], ledgerWrites: 0, ledger: [], events: 0, decisions: [] }, `${c.name}: nothing written to PD, the ledger, Events or metrics`);
    // The real removal right after gives the same answer (and only it acts).
    if (!s.pd.down) {
      const real = await s.drain.reviewRemoval(evict(c.pod));
      t.equal(real.allowed, review.allowed, `${c.name}: the real removal agrees`);
      if (!real.allowed && !review.allowed) t.ok(review.message.startsWith(real.message.replace(/ \(for \d+s\)$/, '')), `${c.name}: same reason as the real removal: ${real.message}`);
    }
  }
});

t.test('property: a dry run and the real removal right after it get the same answer', async (t) => {
  const pods = ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-tikv-0', 'basic-tikv-1', 'basic-tikv-2', 'basic-tikv-3'];
  const state = fc.record({
    cordoned: fc.subarray(['n1', 'n2', 'n3']),
    unhealthy: fc.subarray(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], { maxLength: 2 }),
    leader: fc.constantFrom('basic-pd-0', 'basic-pd-1', 'basic-pd-2', null),
    leaders: fc.array(fc.constantFrom(0, 3, 40), { minLength: 4, maxLength: 4 }),
    evicting: fc.subarray(['1', '2', '3', '4']),
    down: fc.subarray(['1', '2', '3', '4'], { maxLength: 1 }),
    pod: fc.constantFrom(...pods),
    via: fc.constantFrom('eviction' as const, 'delete' as const),
  });
  let held = 0;
  await fc.assert(
    fc.asyncProperty(state, async (s) => {
      const answer = async (dryRun: boolean) => {
        const x = setup({ cordoned: s.cordoned });
        x.pd.leader = s.leader;
        for (const m of s.unhealthy) x.pd.unhealthy.add(m);
        x.pd.storeList.forEach((st, i) => {
          st.status.leader_count = s.leaders[i]!;
          if (s.down.includes(st.store.id)) st.store.state_name = 'Down';
        });
        for (const id of s.evicting) x.pd.evicting.add(id);
        x.pd.evictStep = 0;
        const review = await x.drain.reviewRemoval({ namespace: 'db', name: s.pod, dryRun, via: s.via });
        return { review, writes: x.records.writes + x.pd.transfers.length + x.pd.evicting.size - s.evicting.length + x.events.events.length };
      };
      const dry = await answer(true);
      const real = await answer(false);
      if (dry.writes !== 0) throw new Error(`the dry run changed something: ${JSON.stringify(s)}`);
      if (dry.review.allowed !== real.review.allowed) throw new Error(`dry ${JSON.stringify(dry.review)} vs real ${JSON.stringify(real.review)} for ${JSON.stringify(s)}`);
      if (!dry.review.allowed && !real.review.allowed) {
        held++;
        if (!dry.review.message.startsWith(`${real.review.message} (dry run: nothing changed`)) throw new Error(`reasons differ: ${dry.review.message} | ${real.review.message}`);
      }
    }),
    { numRuns: 150 },
  );
  t.ok(held > 10, `${held} of 150 states held the pod, with the same reason either way`);
});
