// Holding a removal inside the admission call while PD finishes a short hand-over (issue 18, build 1),
// against the PD stand-in through the real PdClient, on the real clock (the stand-in's transfer delay
// is a timer). Times are not asserted: what is asserted is the answer and its reason.
import t from 'tap';
import { DrainService } from '../../src/services/drain.ts';
import { makeNode, makePod, stores } from '../builders.ts';
import { FakeEvents, addStore, pdClientFor, silentLogger, standinPd } from '../fakes.ts';
import { FakeLivePods, FakeTeardown, MemoryLedger } from '../drain-fakes.ts';

function setup(opts: { transferDelayMs?: number; waitInCallMs?: number; tikvLeaders?: number; evictPerRead?: number } = {}) {
  const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n));
  const pdPods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());
  const tikvPods = [0, 1, 2].map((i) => makePod(`basic-tikv-${i}`).of('db', 'basic', 'tikv').on(`n${i + 1}`).uid(`tikv-uid-${i}`).view());
  const s = stores({ nodes, pods: [...pdPods, ...tikvPods] });
  const pd = standinPd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  pd.transferDelayMs = opts.transferDelayMs ?? 0;
  pd.evictPerRead = opts.evictPerRead ?? 100;
  tikvPods.forEach((p, i) => addStore(pd, i + 1, p.name, i === 0 ? (opts.tikvLeaders ?? 10) : 10));
  const client = pdClientFor(pd);
  const ledger = new MemoryLedger();
  const drain = new DrainService({
    ...s,
    pdFor: () => client,
    ledger,
    teardown: new FakeTeardown(),
    livePods: new FakeLivePods(),
    events: new FakeEvents(),
    metrics: { decision: () => undefined, waited: () => undefined },
    logger: silentLogger,
    now: Date.now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
    budgetMs: 4000,
    waitInCallMs: opts.waitInCallMs ?? 2000,
    waitPollMs: 50,
  });
  return { drain, pd, ledger, ...s };
}

const evict = (name: string, extra: { arrivedAt?: number; signal?: AbortSignal } = {}) => ({ namespace: 'db', name, dryRun: false, via: 'eviction' as const, ...extra });
const transfers = (pd: ReturnType<typeof standinPd>) => pd.writes().filter((w) => w.includes('/leader/transfer/'));

t.test('PD leader: a transfer within the budget is waited for and the eviction allowed, the removal recorded first', async (t) => {
  const { drain, pd, ledger } = setup({ transferDelayMs: 300 });
  const review = await drain.reviewRemoval(evict('basic-pd-0'));
  t.match(review, { allowed: true, reason: /PD leadership moved from basic-pd-0 to basic-pd-1 while the call was held/ });
  t.same(transfers(pd), ['POST /pd/api/v1/leader/transfer/basic-pd-1']);
  t.match((await ledger.get('db', 'basic')).leaving, [{ component: 'pd', member: 'basic-pd-0', pod: 'basic-pd-0', podUid: 'pd-uid-0', act: 'eviction' }]);
  t.equal(drain.kept.heldFor, 0, 'nothing left waiting');
});

t.test('PD leader: a transfer longer than the budget gets the 429 with its reason', async (t) => {
  const { drain, pd, ledger } = setup({ transferDelayMs: 3000, waitInCallMs: 800 });
  const review = await drain.reviewRemoval(evict('basic-pd-0'));
  t.match(review, {
    allowed: false,
    code: 429,
    message: /db\/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1: basic-pd-0 still leads PD; .*800 ms an admission call may wait \(--admission-wait-ms\)/,
  });
  t.equal(pd.leader, 'basic-pd-0', 'the stand-in had not finished');
  t.match((await ledger.get('db', 'basic')).leaving, [{ member: 'basic-pd-0' }], 'the record written first stays for the retry');
});

t.test('PD leader: concurrent calls for one member share one wait', async (t) => {
  const { drain, pd } = setup({ transferDelayMs: 400 });
  const first = drain.reviewRemoval(evict('basic-pd-0'));
  const second = drain.reviewRemoval({ namespace: 'db', name: 'basic-pd-0', dryRun: false, via: 'delete' as const });
  await new Promise((r) => setTimeout(r, 200));
  t.equal(drain.kept.heldFor, 1, 'one loop looks at PD for both calls');
  const [a, b] = await Promise.all([first, second]);
  t.match(a, { allowed: true, reason: /moved from basic-pd-0 to basic-pd-1/ });
  t.match(b, { allowed: true, reason: /moved from basic-pd-0 to basic-pd-1/ });
  t.same(transfers(pd), ['POST /pd/api/v1/leader/transfer/basic-pd-1'], 'one transfer');
  t.equal(drain.kept.heldFor, 0);
});

t.test('PD leader: the budget counts from the request\'s arrival, not from the review', async (t) => {
  const { drain, pd, ledger } = setup({ transferDelayMs: 300 });
  // Arrived 1.8 s ago (a slow body, a queue): 0.05 s left of the 2 s, less than a transfer takes.
  const review = await drain.reviewRemoval(evict('basic-pd-0', { arrivedAt: Date.now() - 1800 }));
  t.match(review, { allowed: false, code: 429, message: /transferring PD leader from basic-pd-0 to basic-pd-1 \(a PD leader transfer takes about 0\.5 s, more than the 0\.\d s left to wait inside the call\)/ });
  t.same(transfers(pd), ['POST /pd/api/v1/leader/transfer/basic-pd-1'], 'the transfer still starts');
  t.same((await ledger.get('db', 'basic')).leaving, [], 'nothing recorded for a removal not held');
});

t.test('PD leader: waiting off (0) answers 429 at once, as before', async (t) => {
  const { drain } = setup({ transferDelayMs: 100, waitInCallMs: 0 });
  t.match(await drain.reviewRemoval(evict('basic-pd-0')), { allowed: false, code: 429, message: /^db\/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1$/ });
});

t.test('a held call ends when its caller goes away, and at shutdown', async (t) => {
  const { drain } = setup({ transferDelayMs: 5000, waitInCallMs: 3000 });
  const gone = new AbortController();
  const held = drain.reviewRemoval(evict('basic-pd-0', { signal: gone.signal }));
  setTimeout(() => gone.abort(), 150);
  t.match(await held, { allowed: false, code: 429, message: /the caller went away/ });
  t.equal(drain.kept.heldFor, 0, 'its loop stopped with it');
  const again = drain.reviewRemoval(evict('basic-pd-0'));
  setTimeout(() => drain.close(), 150);
  t.match(await again, { allowed: false, code: 429, message: /tidb-steward is shutting down/ });
});

t.test('TiKV: a store with few leaders is evicted and waited for inside the call', async (t) => {
  const { drain, pd, ledger } = setup({ tikvLeaders: 10, evictPerRead: 4 });
  const review = await drain.reviewRemoval(evict('basic-tikv-0'));
  t.match(review, { allowed: true, reason: /PD moved every leader off store 1 while the call was held/ });
  t.same(pd.writes(), ['POST /pd/api/v1/schedulers'], 'the eviction started once');
  const l = await ledger.get('db', 'basic');
  t.match(l.leaving, [{ component: 'tikv', member: '1', podUid: 'tikv-uid-0' }]);
  t.match(l.evictions, [{ storeId: '1', podUid: 'tikv-uid-0', cause: 'removal' }], 'the eviction recorded with the removal, before PD was asked');
});

t.test('TiKV: a store with many leaders and no rate seen gets the 429 at once', async (t) => {
  const { drain, ledger } = setup({ tikvLeaders: 500, evictPerRead: 0 });
  const review = await drain.reviewRemoval(evict('basic-tikv-0'));
  t.match(review, { allowed: false, code: 429, message: /evicting 500 region leaders from TiKV store 1 of basic-tikv-0 \(500 leaders are more than the 20 waited for without a rate seen: not waited for inside the call\)$/ });
  t.same((await ledger.get('db', 'basic')).leaving, [], 'not recorded as leaving');
});

t.test('TiKV: many leaders, but the rate seen since the cordon says PD moves them in time: held and allowed', async (t) => {
  const { drain, pd, nodes } = setup({ tikvLeaders: 100, evictPerRead: 0 });
  pd.startEvicting(50, 10);
  t.teardown(() => pd.stopEvicting());
  nodes.upsert('n1', makeNode('n1', {}, true));
  await drain.nodeCordoned('n1'); // notes 100 leaders as the eviction begins
  await new Promise((r) => setTimeout(r, 300));
  const review = await drain.reviewRemoval(evict('basic-tikv-0'));
  t.match(review, { allowed: true, reason: /PD moved every leader off store 1 while the call was held/ });
});

t.test('PD leader: a held call does not wait on a transfer that is not under way (leadership came back since the last request)', async (t) => {
  const { drain, pd } = setup({ transferDelayMs: 100, waitInCallMs: 3000 });
  t.match(await drain.reviewRemoval(evict('basic-pd-0')), { allowed: true });
  pd.leader = 'basic-pd-0'; // an election gives it back within the 3 s in which a repeat request is skipped
  const review = await drain.reviewRemoval(evict('basic-pd-0'));
  t.match(review, { allowed: true, reason: /PD leadership moved from basic-pd-0 to basic-pd-1 while the call was held/ });
  t.same(transfers(pd), ['POST /pd/api/v1/leader/transfer/basic-pd-1', 'POST /pd/api/v1/leader/transfer/basic-pd-1'], 'asked again');
});
