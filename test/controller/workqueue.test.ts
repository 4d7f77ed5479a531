// The work queue: dedup, one worker per key, re-run when added during processing, backoff, requeueAfter.
import t from 'tap';
import { WorkQueue } from '../../src/controller/workqueue.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

t.test('a key queued several times runs once', async (t) => {
  const q = new WorkQueue({ concurrency: 2 });
  const seen: string[] = [];
  q.add('a');
  q.add('a');
  q.add('b');
  q.add('a');
  q.start(async (k) => void seen.push(k));
  await tick(20);
  t.same(seen.sort(), ['a', 'b']);
  await q.shutdown();
});

t.test('the same key never runs twice at once; an add during processing runs it again after', async (t) => {
  const q = new WorkQueue({ concurrency: 4 });
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  q.start(async () => {
    active++;
    runs++;
    maxActive = Math.max(maxActive, active);
    await tick(20);
    active--;
  });
  q.add('k');
  await tick(2);
  q.add('k');
  q.add('k');
  await tick(80);
  t.equal(maxActive, 1);
  t.equal(runs, 2, 'once, then once more for the adds that came in meanwhile');
  await q.shutdown();
});

t.test('failures back off per key, doubling; success resets', async (t) => {
  const q = new WorkQueue({ concurrency: 1, backoffBaseMs: 10, backoffMaxMs: 40 });
  const times: number[] = [];
  let fail = 3;
  q.start(async () => {
    times.push(Date.now());
    if (fail-- > 0) throw new Error('boom');
  });
  t.equal(q.backoffFor('x'), 10);
  q.add('x');
  await tick(150);
  t.equal(times.length, 4, '3 failures then a success');
  const gaps = times.slice(1).map((v, i) => v - times[i]!);
  t.ok(gaps[0]! >= 9 && gaps[1]! >= 19 && gaps[2]! >= 38, `gaps ${gaps.join(', ')}`);
  t.equal(q.backoffFor('x'), 10, 'reset after success');
  await q.shutdown();
});

t.test('requeueAfter brings a key back later; an earlier add wins', async (t) => {
  const q = new WorkQueue({ concurrency: 1 });
  let runs = 0;
  q.start(async () => {
    runs++;
    return runs === 1 ? { requeueAfterMs: 30 } : undefined;
  });
  q.add('k');
  await tick(10);
  t.equal(runs, 1);
  await tick(40);
  t.equal(runs, 2);
  q.addAfter('k', 10_000);
  q.add('k');
  await tick(10);
  t.equal(runs, 3, 'an add replaces the delayed one');
  await q.shutdown();
});
