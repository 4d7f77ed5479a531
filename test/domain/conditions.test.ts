// Conditions as `kubectl describe` shows them: one per type, in a fixed order, transition time moving
// only when the status flips, observedGeneration always the current one.
import t from 'tap';
import type { Condition } from '../../src/cluster/schema.ts';
import { CONDITION_ORDER, getCondition, setCondition } from '../../src/domain/conditions.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const T1 = T0 + 1000;
const c = (type: string, status: 'True' | 'False', over: Partial<Condition> = {}): Condition => ({ type, status, reason: 'R', message: 'm', lastTransitionTime: new Date(T0).toISOString(), observedGeneration: 1, ...over });

t.test('setCondition', async (t) => {
  const table: Array<{ name: string; list: Condition[]; input: { type: string; status: 'True' | 'False' }; time: string; types: string[] }> = [
    { name: 'new condition: now', list: [], input: { type: 'Ready', status: 'True' }, time: '2026-01-01T00:00:01.000Z', types: ['Ready'] },
    { name: 'same status: kept', list: [c('Ready', 'True')], input: { type: 'Ready', status: 'True' }, time: '2026-01-01T00:00:00.000Z', types: ['Ready'] },
    { name: 'flipped: now', list: [c('Ready', 'True')], input: { type: 'Ready', status: 'False' }, time: '2026-01-01T00:00:01.000Z', types: ['Ready'] },
    { name: 'another type with the same status does not count', list: [c('Paused', 'False')], input: { type: 'Ready', status: 'False' }, time: '2026-01-01T00:00:01.000Z', types: ['Ready', 'Paused'] },
    { name: 'ordered', list: [c('Degraded', 'False'), c('Paused', 'False'), c('Suspended', 'False'), c('Ready', 'True')], input: { type: 'Progressing', status: 'False' }, time: '2026-01-01T00:00:01.000Z', types: ['Ready', 'Progressing', 'Paused', 'Suspended', 'Degraded'] },
  ];
  for (const x of table) {
    const out = setCondition(x.list, { ...x.input, reason: 'Why', message: 'what' }, 3, T1);
    const got = out.find((y) => y.type === x.input.type)!;
    t.equal(got.lastTransitionTime, x.time, `${x.name}: time`);
    t.same(got, { type: x.input.type, status: x.input.status, reason: 'Why', message: 'what', lastTransitionTime: x.time, observedGeneration: 3 }, `${x.name}: whole`);
    t.same(out.map((y) => y.type), x.types, `${x.name}: order`);
  }
  const long = setCondition([], { type: 'Ready', status: 'False', reason: 'R', message: 'x'.repeat(2000) }, 1, T1);
  t.equal(long[0]!.message.length, 1024, 'messages are capped at 1024 characters');
  t.same(CONDITION_ORDER, ['Ready', 'Progressing', 'Paused', 'Suspended', 'Degraded']);
});

t.test('getCondition', async (t) => {
  const list = [c('Ready', 'True'), c('Paused', 'False')];
  t.equal(getCondition(list, 'Paused')?.status, 'False');
  t.equal(getCondition(list, 'Degraded'), undefined);
  t.equal(getCondition(undefined, 'Ready'), undefined);
});
