// The PD client through a new PD leader's restore window (issue 14, finding 10): real pd-server
// v8.5.4, its leader killed right after an evict-leader entry was added, listed only some of its
// schedulers at first, answered the DELETE of the entry with 404 and then restored it, left behind for
// good, because the client took that 404 for "none" once GET /schedulers listed anything. The
// stand-in restores one scheduler per restoreStepMs on a clock the test moves; every PD call is
// asserted exactly.
import t from 'tap';
import { PdClient, PdError } from '../../src/pd/client.ts';
import { PdStandin } from '../pd-standin.ts';

const API = '/pd/api/v1';
const LIST = `GET ${API}/scheduler-config/evict-leader-scheduler/list`;
const CONFIG = `GET ${API}/config/schedule`;
const RESTORING = "PD's leader has an evict-leader scheduler in its persisted config but does not run it yet (its list answers HTTP 404): it is still restoring its schedulers after an election, and the stores it will hold again are unknown until it has; try again in a few seconds";
const STEP = 100;

function setup(opts: { restoreStepMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const sd = new PdStandin({
    members: ['pd-0', 'pd-1', 'pd-2'],
    stores: [1, 2, 3, 4].map((id) => ({ id, pod: `tikv-${id - 1}`, leaders: 10 })),
    restoreStepMs: opts.restoreStepMs ?? STEP,
    now: () => clock.now,
  });
  const pd = new PdClient({ endpoints: ['http://pd-0.pd-peer:2379'], timeoutMs: 1000, fetchImpl: sd.fetch });
  /** Calls (and PD's statuses) since the last look. */
  const calls = () => {
    const out = sd.calls.map((c) => `${c.method} ${c.path}${c.query ? `?${c.query}` : ''} → ${c.status}`);
    sd.clearCalls();
    return out;
  };
  return { sd, pd, clock, calls };
}

/** The PdError a call rejects with, as [status, message]; 'resolved' when it does not reject. */
async function rejection(p: Promise<unknown>): Promise<[number | undefined, string] | 'resolved'> {
  const e = await p.then(() => null, (err: unknown) => err);
  if (e === null) return 'resolved';
  if (!(e instanceof PdError)) throw e;
  return [e.status, e.message];
}

t.test('the leader killed after an entry was added: unknown until the new leader restores the entry, then seen and removed for good', async (t) => {
  const { sd, pd, clock, calls } = setup();
  await pd.addEvictLeader('1');
  t.same(calls(), [`${LIST} → 404`, `${CONFIG} → 200`, `POST ${API}/schedulers → 200`]);

  t.equal(sd.killLeader(), 'pd-1');
  clock.now += 3 * STEP;
  t.same(sd.runningSchedulers(), ['balance-hot-region-scheduler', 'balance-leader-scheduler', 'balance-region-scheduler'], 'the new leader lists only some of its schedulers: restored one by one, evict-leader not yet');

  // The old rule took these 404s for "none" because GET /schedulers listed something.
  t.same(await rejection(pd.evictingStores()), [503, `PD evict-leader list: ${RESTORING}`]);
  t.same(await rejection(pd.removeEvictLeader('1')), [503, `stopping the leader eviction of store 1: ${RESTORING}`]);
  t.same(await pd.evictLeaderState(), { stores: null, leader: 'pd-1', reason: RESTORING });
  t.same(await rejection(pd.addEvictLeader('2')), [503, `evicting leaders from store 2: ${RESTORING}`], 'no POST that would replace the persisted entry');
  t.same(calls(), [
    `${LIST} → 404`, `${CONFIG} → 200`,
    `DELETE ${API}/schedulers/evict-leader-scheduler-1 → 404`, `${LIST} → 404`, `${CONFIG} → 200`,
    `${LIST} → 404`, `GET ${API}/leader → 200`, `${CONFIG} → 200`,
    `${LIST} → 404`, `${CONFIG} → 200`,
  ]);
  t.same([...sd.evicting], [1], 'PD still holds the entry: the DELETE changed nothing');

  clock.now += STEP;
  t.same(await pd.evictingStores(), ['1'], 'restored: the entry is back, and seen');
  await pd.removeEvictLeader('1');
  t.same(await pd.evictLeaderState(), { stores: [], leader: 'pd-1', reason: 'PD has no evict-leader scheduler, running or persisted (its list answers HTTP 404)' });
  t.same(calls(), [
    `${LIST} → 200`,
    `DELETE ${API}/schedulers/evict-leader-scheduler-1 → 200`,
    `${LIST} → 404`, `GET ${API}/leader → 200`, `${CONFIG} → 200`,
  ]);
  clock.now += 10 * STEP;
  t.same(sd.runningSchedulers(), ['balance-region-scheduler', 'balance-leader-scheduler', 'balance-hot-region-scheduler', 'evict-slow-store-scheduler'], 'restore done: no evict-leader scheduler left behind');
  t.equal(sd.evicting.size, 0);
});

t.test('a DELETE answered 404 during the restore, then the entry restored: the client does not call it done', async (t) => {
  const { sd, pd, clock, calls } = setup();
  await pd.addEvictLeader('3');
  await pd.addEvictLeader('4');
  sd.killLeader();
  clock.now += 2 * STEP;
  const during = await rejection(pd.removeEvictLeader('4'));
  t.equal(Array.isArray(during) && during[0], 503);
  clock.now += 2 * STEP;
  t.same(await pd.evictingStores(), ['3', '4'], 'both entries restored: the DELETE of store 4 did not happen');
  calls();
  // Asked again after the restore, it is done, and store 3 stays evicted.
  await pd.removeEvictLeader('4');
  t.same(await pd.evictingStores(), ['3']);
  t.same(calls(), [`DELETE ${API}/schedulers/evict-leader-scheduler-4 → 200`, `${LIST} → 200`]);
});

t.test('the DELETE answered 404 and the entry restored before the client looks: a 503, not done', async (t) => {
  const { sd, pd, clock, calls } = setup();
  await pd.addEvictLeader('1');
  sd.killLeader();
  clock.now += 3 * STEP;
  // PD restores the scheduler between the DELETE and the client's look at the list.
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await sd.fetch(input, init);
    if (init?.method === 'DELETE') clock.now += STEP;
    return res;
  }) as typeof fetch;
  const racing = new PdClient({ endpoints: ['http://pd-1.pd-peer:2379'], timeoutMs: 1000, fetchImpl });
  calls();
  t.same(await rejection(racing.removeEvictLeader('1')), [503, 'stopping the leader eviction of store 1: PD answered the DELETE with HTTP 404 but its evict-leader scheduler holds the store (its leader restored it in between); try again']);
  t.same(calls(), [`DELETE ${API}/schedulers/evict-leader-scheduler-1 → 404`, `${LIST} → 200`]);
  await pd.removeEvictLeader('1');
  t.same(await pd.evictingStores(), []);
});

t.test('before the new leader restores anything (it lists none), and with nothing to restore', async (t) => {
  const { sd, pd, clock, calls } = setup();
  await pd.addEvictLeader('2');
  sd.leader = 'pd-2';
  t.same(sd.runningSchedulers(), [], 'an election by assignment too: lists none at first');
  t.same(await rejection(pd.evictingStores()), [503, `PD evict-leader list: ${RESTORING}`]);
  clock.now += 5 * STEP;
  await pd.removeEvictLeader('2');
  calls();
  // No evict-leader scheduler persisted: a new leader's 404 is final at once, restore or not.
  await pd.transferLeader('pd-0');
  t.equal(sd.restoring, true);
  t.same(sd.runningSchedulers(), []);
  t.same(await pd.evictingStores(), []);
  await pd.removeEvictLeader('2');
  t.same(calls(), [
    `POST ${API}/leader/transfer/pd-0 → 200`,
    `${LIST} → 404`, `${CONFIG} → 200`,
    `DELETE ${API}/schedulers/evict-leader-scheduler-2 → 404`, `${LIST} → 404`, `${CONFIG} → 200`,
  ]);
});

t.test('the stand-in: elections by transfer, resign, kill and assignment each start a restore', async (t) => {
  const { sd, clock } = setup();
  sd.evicting.add(1);
  t.equal(sd.restoring, false);
  t.equal(sd.handle('POST', `${API}/leader/transfer/pd-1`).status, 200);
  t.equal(sd.leader, 'pd-1');
  t.equal(sd.restoring, true);
  clock.now += 5 * STEP;
  t.equal(sd.restoring, false);
  t.equal(sd.handle('POST', `${API}/leader/resign`).status, 200);
  t.equal(sd.leader, 'pd-0', 'another healthy member wins');
  t.same(sd.runningSchedulers(), []);
  clock.now += STEP;
  t.same(sd.runningSchedulers(), ['balance-hot-region-scheduler']);
  t.equal(sd.killLeader(), 'pd-1');
  t.ok(sd.unhealthy.has('pd-0'), 'the killed leader is down');
  sd.leader = 'pd-1';
  t.same(sd.elections.map((e) => e.leader), ['pd-1', 'pd-0', 'pd-1'], 'the same leader again is no election');
  sd.unhealthy.add('pd-2');
  t.throws(() => sd.killLeader(), /no healthy member left to take over from pd-1/);
  const alone = new PdStandin({ members: ['solo'], restoreStepMs: STEP });
  alone.handle('POST', `${API}/leader/resign`);
  t.same(alone.elections.map((e) => e.leader), ['solo'], 'alone, the leader is elected again');
  t.equal(alone.restoring, true);
});

t.test('the stand-in: a POST while the evict-leader scheduler is not restored replaces the persisted entries (as PD v8.5 does)', async (t) => {
  const { sd, clock } = setup();
  sd.evicting.add(1);
  sd.evicting.add(3);
  sd.killLeader();
  clock.now += STEP;
  const r = sd.handle('POST', `${API}/schedulers`, JSON.stringify({ name: 'evict-leader-scheduler', store_id: 2 }));
  t.same([r.status, JSON.parse(r.body)], [200, 'The scheduler is created.']);
  t.same(sd.runningSchedulers(), ['balance-hot-region-scheduler', 'evict-leader-scheduler']);
  clock.now += 10 * STEP;
  t.same([...sd.evicting], [2], 'stores 1 and 3 lost');
  t.same(JSON.parse(sd.handle('GET', `${API}/config/schedule`).body)['schedulers-v2'].at(-1), { type: 'evict-leader', args: ['2'], disable: false, 'args-payload': '' });
  t.equal(sd.handle('DELETE', `${API}/schedulers/evict-leader-scheduler`).status, 200, 'the whole scheduler, by name');
  t.same(sd.handle('DELETE', `${API}/schedulers/evict-leader-scheduler`).body, '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"\n');
  t.same(sd.runningSchedulers(), ['balance-region-scheduler', 'balance-leader-scheduler', 'balance-hot-region-scheduler', 'evict-slow-store-scheduler']);
});

t.test('the stand-in: while its scheduler is not restored, a store is not evicted; the restore on the real clock', async (t) => {
  const sd = new PdStandin({ members: ['pd-0', 'pd-1'], stores: [{ id: 1, pod: 'tikv-0', leaders: 10 }, { id: 2, pod: 'tikv-1', leaders: 10 }], restoreStepMs: 20 });
  sd.evicting.add(1);
  sd.killLeader();
  sd.stepEviction(5);
  t.equal(sd.store(1)!.leaders, 10, 'no leader moved while the scheduler is not running');
  await new Promise((r) => setTimeout(r, 150));
  t.equal(sd.restoring, false);
  sd.stepEviction(5);
  t.equal(sd.store(1)!.leaders, 5);
});

t.test('store labels through the client: merged as PD merges them, refused as PD refuses', async (t) => {
  const { sd, pd, calls } = setup();
  await pd.setStoreLabels('1', { zone: 'z-1', host: 'node-1' });
  await pd.setStoreLabels('1', { Zone: 'z-2', host: '' });
  t.same(sd.store(1)!.labels, [{ key: 'pod', value: 'tikv-0' }, { key: 'zone', value: 'z-2' }], 'keys compared without case; an empty value removes the label');
  t.same((await pd.stores()).find((s) => s.store.id === '1')?.store.labels, [{ key: 'pod', value: 'tikv-0' }, { key: 'zone', value: 'z-2' }]);
  t.same(await rejection(pd.setStoreLabels('9', { zone: 'z-1' })), [500, 'PD refused to set labels {"zone":"z-1"} on store 9: HTTP 500 "[PD:cluster:ErrInvalidStoreID]invalid store id 9, not found"\n']);
  const bad = await rejection(pd.setStoreLabels('1', { 'bad key': 'v' }));
  t.equal(Array.isArray(bad) && bad[0], 400);
  t.match(Array.isArray(bad) && bad[1], /^PD refused to set labels \{"bad key":"v"\} on store 1: HTTP 400 \{"code":"input","msg":"bad key does not match format/);
  t.equal((await rejection(pd.setStoreLabels('1', { zone: 'a b' })) as [number, string])[0], 400, 'a value outside the format');
  t.same(calls().map((c) => c.replace(/ → \d+$/, '')), [
    `POST ${API}/store/1/label`, `POST ${API}/store/1/label`, `GET ${API}/stores?state=0&state=1&state=2`,
    `POST ${API}/store/9/label`, `POST ${API}/store/1/label`, `POST ${API}/store/1/label`,
  ]);
  t.equal(sd.handle('POST', `${API}/store/1/label?force`, '{"zone":"z-3"}').status, 200);
  t.same(sd.store(1)!.labels, [{ key: 'zone', value: 'z-3' }], '?force replaces');
  t.equal(sd.handle('POST', `${API}/store/1/label`, '{"zone":3}').status, 400, 'a value that is not a string');
  t.equal(sd.handle('POST', `${API}/store/1/label`, 'zone').status, 400, 'not JSON');
  t.equal(sd.handle('POST', `${API}/store/1/label`, '["zone"]').status, 400, 'not an object');
});
