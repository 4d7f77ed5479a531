import t from 'tap';
import fc from 'fast-check';
import { ANSWER_RESERVE_MS, PD_TRANSFER_EXPECTED_MS, SMALL_LEADER_COUNT, decideWaitInCall, type HandOver } from '../../src/domain/handover.ts';

const pd: HandOver = { kind: 'pd-leader', member: 'basic-pd-0', to: 'basic-pd-1' };
const tikv = (leaderCount: number, leadersPerSecond: number | null = null): HandOver => ({ kind: 'tikv-leaders', storeId: '1', leaderCount, leadersPerSecond });

t.test('wait in the call or 429: the table', async (t) => {
  const at = 1_000_000;
  const rows: Array<[string, HandOver, { arrivedAt: number; budgetMs: number; waiting?: boolean }, number, boolean, RegExp]> = [
    ['off', pd, { arrivedAt: at, budgetMs: 0 }, at, false, /inside the admission call is off \(--admission-wait-ms 0\)/],
    ['PD transfer, fresh call', pd, { arrivedAt: at, budgetMs: 3000 }, at, true, /PD leader transfer takes about 0\.5 s, within the 2\.9 s left/],
    ['PD transfer, budget counted from arrival', pd, { arrivedAt: at, budgetMs: 3000 }, at + 2450, false, /takes about 0\.5 s, more than the 0\.4 s left/],
    ['PD transfer, already waiting: the time left decides', pd, { arrivedAt: at, budgetMs: 3000, waiting: true }, at + 2450, true, /under way, within the 0\.4 s left/],
    ['budget spent', pd, { arrivedAt: at, budgetMs: 3000, waiting: true }, at + 3000, false, /3000 ms an admission call may wait \(--admission-wait-ms\) are spent/],
    ['few leaders, no rate', tikv(10), { arrivedAt: at, budgetMs: 3000 }, at, true, /10 leaders \(at most 20, with no rate seen yet\) take about 0\.5 s/],
    ['many leaders, no rate', tikv(500), { arrivedAt: at, budgetMs: 3000 }, at, false, /500 leaders are more than the 20 waited for without a rate seen: not waited for/],
    ['many leaders, fast rate', tikv(500, 1000), { arrivedAt: at, budgetMs: 3000 }, at, true, /500 leaders at the 1000\.0\/s PD moved lately take about 0\.5 s/],
    ['few leaders, slow rate', tikv(10, 2), { arrivedAt: at, budgetMs: 3000 }, at, false, /10 leaders at the 2\.0\/s .* take about 5\.0 s, more than the 2\.9 s left/],
    ['no progress lately', tikv(10, 0), { arrivedAt: at, budgetMs: 3000, waiting: true }, at + 100, false, /no leader left store 1 lately: not waited for/],
    ['waiting, no rate yet', tikv(500), { arrivedAt: at, budgetMs: 3000, waiting: true }, at + 100, true, /PD is moving the 500 leaders of store 1/],
    ['no leaders left', tikv(0), { arrivedAt: at, budgetMs: 3000 }, at, true, /leads no regions/],
  ];
  for (const [name, handOver, input, now, wait, reason] of rows) {
    const d = decideWaitInCall({ handOver, ...input }, now);
    t.equal(d.wait, wait, `${name}: ${wait ? 'wait' : '429'}`);
    t.match(d.reason, reason, `${name}: reason`);
    if (d.wait) t.equal(d.until, input.arrivedAt + input.budgetMs - ANSWER_RESERVE_MS, `${name}: until the budget, less the answer's reserve`);
  }
});

const handOvers = fc.oneof(
  fc.record({ kind: fc.constant('pd-leader' as const), member: fc.constant('basic-pd-0'), to: fc.constantFrom('basic-pd-1', null) }),
  fc.record({ kind: fc.constant('tikv-leaders' as const), storeId: fc.constant('1'), leaderCount: fc.nat(10_000), leadersPerSecond: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true })) }),
);

t.test('properties: a wait never outlives the budget counted from arrival', async (t) => {
  fc.assert(
    fc.property(handOvers, fc.nat(10_000), fc.nat(12_000), fc.boolean(), (handOver, budgetMs, elapsed, waiting) => {
      const arrivedAt = 5_000_000;
      const now = arrivedAt + elapsed;
      const d = decideWaitInCall({ handOver, arrivedAt, budgetMs, waiting }, now);
      if (budgetMs === 0) return !d.wait;
      if (!d.wait) return d.reason.length > 0;
      return d.until > now && d.until <= arrivedAt + budgetMs;
    }),
  );
  t.pass('held');
});

t.test('properties: later is never more willing to wait, nor more leaders, nor a slower rate', async (t) => {
  fc.assert(
    fc.property(fc.nat(1000), fc.nat(1000), fc.option(fc.double({ min: 0.01, max: 1000, noNaN: true })), fc.nat(5000), fc.nat(5000), (a, b, rate, e1, e2) => {
      const input = (n: number) => ({ handOver: tikv(n, rate), arrivedAt: 0, budgetMs: 3000 });
      const [fewer, more] = a <= b ? [a, b] : [b, a];
      const [early, late] = e1 <= e2 ? [e1, e2] : [e2, e1];
      if (decideWaitInCall(input(more), early).wait && !decideWaitInCall(input(fewer), early).wait) return false;
      if (decideWaitInCall(input(fewer), late).wait && !decideWaitInCall(input(fewer), early).wait) return false;
      if (rate !== null && decideWaitInCall({ ...input(more), handOver: tikv(more, rate / 2) }, early).wait && !decideWaitInCall(input(more), early).wait) return false;
      return true;
    }),
  );
  t.pass('held');
});

t.test('the small-count rule and the PD estimate fit the default budget', async (t) => {
  t.ok(decideWaitInCall({ handOver: tikv(SMALL_LEADER_COUNT), arrivedAt: 0, budgetMs: 3000 }, 0).wait, `${SMALL_LEADER_COUNT} leaders are waited for`);
  t.notOk(decideWaitInCall({ handOver: tikv(SMALL_LEADER_COUNT + 1), arrivedAt: 0, budgetMs: 3000 }, 0).wait, 'one more is not, without a rate');
  t.ok(decideWaitInCall({ handOver: pd, arrivedAt: 0, budgetMs: PD_TRANSFER_EXPECTED_MS + ANSWER_RESERVE_MS }, 0).wait, 'a budget just large enough');
  t.notOk(decideWaitInCall({ handOver: pd, arrivedAt: 0, budgetMs: PD_TRANSFER_EXPECTED_MS + ANSWER_RESERVE_MS - 1 }, 0).wait, 'one ms less is not');
});
