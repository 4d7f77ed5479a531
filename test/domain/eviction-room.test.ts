// Room for evicted leaders: a table, and a property that an allowed eviction never leaves a region
// with all its peers on stores that cannot take a leader.
import t from 'tap';
import fc from 'fast-check';
import { decideEvictionRoom, type EvictionRoomStore } from '../../src/domain/drain.ts';

const s = (id: string, over: Partial<EvictionRoomStore> = {}): EvictionRoomStore => ({ id, up: true, evicting: false, ...over });

t.test('table', async (t) => {
  const rows: Array<[string, EvictionRoomStore[], number, boolean, RegExp, string[]?]> = [
    ['nobody else evicting', [s('1'), s('2'), s('3')], 3, true, /0 of the other stores cannot, 1 may/],
    ['one other evicting, 3 replicas', [s('1'), s('2', { evicting: true }), s('3'), s('4')], 3, true, /1 of the other stores cannot, 1 may/],
    ['two others evicting, 3 replicas: waits and names them', [s('1'), s('2', { evicting: true, why: 'evicting for the removal of kv-1' }), s('3', { evicting: true }), s('4')], 3, false, /store 2 \(evicting for the removal of kv-1\), store 3 \(evicting leaders\) cannot take leaders and 3 peers per region leave room for 1; waiting for one of them to end/, []],
    ['one other not Up and one evicting', [s('1'), s('2', { up: false }), s('3', { evicting: true })], 3, false, /store 2 \(not Up\)/, []],
    ['an abandoned one gives way', [s('1'), s('2', { evicting: true, abandoned: true }), s('3', { evicting: true })], 3, false, /waiting/, ['2']],
    ['5 replicas leave room for 3', [s('1'), s('2', { evicting: true }), s('3', { evicting: true }), s('4', { up: false }), s('5'), s('6')], 5, true, /3 of the other stores cannot, 3 may/],
    ['one replica: nothing to move', [s('1'), s('2', { evicting: true })], 1, true, /no other peer/],
  ];
  for (const [name, stores, r, allowed, reason, giveWay] of rows) {
    const d = decideEvictionRoom('1', stores, r);
    t.equal(d.allowed, allowed, `${name}: ${d.reason}`);
    t.match(d.reason, reason, name);
    if (!d.allowed) t.same(d.giveWay, giveWay, `${name}: give way`);
  }
});

t.test('property: once allowed, every region with the store among its peers keeps a peer that can take its leader', async (t) => {
  const arb = fc.record({
    r: fc.integer({ min: 2, max: 5 }),
    stores: fc.array(fc.record({ up: fc.boolean(), evicting: fc.boolean() }), { minLength: 2, maxLength: 7 }),
  });
  fc.assert(
    fc.property(arb, ({ r, stores }) => {
      const list = stores.map((x, i) => s(String(i), x));
      const d = decideEvictionRoom('0', list, r);
      if (!d.allowed) return true;
      // Every set of r stores holding store 0 (a region's peers, one per store) has a receiver.
      const others = list.slice(1);
      const choose = (from: EvictionRoomStore[], k: number): EvictionRoomStore[][] =>
        k === 0 ? [[]] : from.flatMap((x, i) => choose(from.slice(i + 1), k - 1).map((rest) => [x, ...rest]));
      return choose(others, Math.min(r - 1, others.length)).every((peers) => peers.length === 0 || peers.some((p) => p.up && !p.evicting));
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 store sets');
});
