// The rolling-upgrade decision: tables of (StatefulSet, pods, PD) → next act, and properties over
// arbitrary states and over whole simulated rolls.
import t from 'tap';
import fc from 'fast-check';
import { decideUpdate, trackEviction, type UpdateInput, type UpdatePod, type UpdateStore } from '../../src/domain/update.ts';
import type { ComponentName } from '../../src/cluster/schema.ts';

const OLD = 'rev-a';
const NEW = 'rev-b';
const NOW = 1_000_000;
const policy = { evictTimeoutMs: 60_000, readyTimeoutMs: 300_000, leaderReturnMs: 30_000 };

const name = (c: ComponentName, i: number) => `basic-${c}-${i}`;
function pods(c: ComponentName, revs: string[], over: Record<number, Partial<UpdatePod>> = {}): UpdatePod[] {
  return revs.map((revision, i) => ({ name: name(c, i), ordinal: i, uid: `u-${c}-${i}-${revision}`, revision, running: true, ready: true, deleting: false, createdAt: NOW - 600_000, ...over[i] }));
}
const sts = (replicas: number, partition: number, over: Partial<UpdateInput['sts'] & object> = {}) => ({ replicas, partition, currentRevision: OLD, updateRevision: NEW, observed: true, ...over });
const pdView = (leader: string | null, unhealthy: string[] = [], n = 3) => ({
  reachable: true,
  members: Array.from({ length: n }, (_, i) => ({ name: name('pd', i), healthy: !unhealthy.includes(name('pd', i)) })),
  leader,
});
const stores = (n: number, over: Record<number, Partial<UpdateStore>> = {}): UpdateStore[] =>
  Array.from({ length: n }, (_, i) => ({ id: String(i + 1), pod: name('tikv', i), state: 'Up', leaderCount: 20, regionCount: 60, ...over[i] }));
const noLedger = { leaving: [], evictions: [] };
function input(component: ComponentName, over: Partial<UpdateInput>): UpdateInput {
  return { component, sts: sts(3, 3), pods: pods(component, [OLD, OLD, OLD]), ledger: noLedger, now: NOW, policy, ...(component === 'pd' ? { pd: pdView(name('pd', 0)) } : {}), ...(component === 'tikv' ? { stores: stores(3), evicting: [] } : {}), ...over };
}

t.test('nothing to do', async (t) => {
  t.match(decideUpdate(input('pd', { sts: null })), { act: { type: 'done' }, partition: 0 });
  const d = decideUpdate(input('tidb', { sts: sts(2, 0), pods: pods('tidb', [NEW, NEW]) }));
  t.match(d, { act: { type: 'done', reason: /all 2 TiDB members are at revision rev-b/ }, partition: 0, updated: 2 });
  t.match(decideUpdate(input('tidb', { sts: sts(2, 2, { currentRevision: NEW }), pods: pods('tidb', [NEW, NEW]) })), { act: { type: 'done', reason: /no rolling upgrade under way/ }, partition: 0 });
  t.match(decideUpdate(input('tidb', { sts: sts(0, 0), pods: [] })).act, { type: 'done' });
  t.match(decideUpdate(input('tidb', { sts: sts(2, 2, { observed: false }), pods: pods('tidb', [OLD, OLD]) })), { act: { type: 'wait', reason: /has not yet taken in TiDB's latest pod template/ }, partition: 2 }, 'revisions of an older spec are not trusted');
});

t.test('no roll under way: members that are not Ready are not the upgrade\'s business', async (t) => {
  const creating = input('tikv', { sts: sts(3, 0, { currentRevision: NEW }), pods: pods('tikv', [NEW, NEW], { 0: { ready: false, createdAt: NOW - 1e9 } }), stores: stores(1) });
  t.match(decideUpdate(creating), { act: { type: 'done', reason: /no rolling upgrade under way/ }, partition: 0 });
  // The last member of a roll restarted: the StatefulSet already reports one revision, the ledger still holds the restart.
  const last = { ...creating, pods: pods('tikv', [NEW, NEW, NEW], { 0: { ready: false, createdAt: NOW - 1000 } }), stores: stores(3), ledger: { leaving: [{ component: 'tikv' as const, member: '1', pod: 'basic-tikv-0', podUid: 'old', since: NOW - 2000, act: 'restart' as const }], evictions: [] } };
  t.match(decideUpdate(last).act, { type: 'wait', pod: 'basic-tikv-0', reason: /after its restart: pod basic-tikv-0 is not Ready/ });
});

t.test('unknown facts wait', async (t) => {
  t.match(decideUpdate(input('pd', { pd: { reachable: false, error: 'timeout', members: [], leader: null } })).act, { type: 'wait', reason: /cannot tell PD members' health: timeout/ });
  t.match(decideUpdate(input('tikv', { stores: null })).act, { type: 'wait', reason: /cannot read TiKV stores/ });
  t.match(decideUpdate(input('tikv', { evicting: null })).act, { type: 'wait', reason: /cannot tell whether PD evicts leaders from store 3/ });
});

t.test('PD: leader moved to pd-0 first, highest ordinal first, leader hand-over before its restart', async (t) => {
  t.match(decideUpdate(input('pd', { pd: pdView(name('pd', 1)) })), { act: { type: 'transfer-pd-leader', to: 'basic-pd-0', reason: /so that the leader's restart .* is the last/ }, partition: 3 });
  t.match(decideUpdate(input('pd', { pd: pdView(name('pd', 1), ['basic-pd-0']) })), { act: { type: 'wait', reason: /basic-pd-0 is not healthy/ } }, 'pd-0 unhealthy: one at a time, nothing moves');
  t.match(decideUpdate(input('pd', {})), { act: { type: 'restart', pod: 'basic-pd-2', deletePod: false, reason: /not the PD leader/ }, partition: 2 });
  // pd-2 restarted: waiting for it in PD.
  const after = pods('pd', [OLD, OLD, NEW], { 2: { createdAt: NOW - 5000 } });
  t.match(decideUpdate(input('pd', { sts: sts(3, 2), pods: after, pd: pdView('basic-pd-0', ['basic-pd-2']) })), { act: { type: 'wait', pod: 'basic-pd-2', reason: /after its restart: PD member basic-pd-2 is not healthy/ }, partition: 2 });
  t.match(decideUpdate(input('pd', { sts: sts(3, 2), pods: pods('pd', [OLD, OLD, NEW], { 2: { ready: false, createdAt: NOW - 5000 } }) })).act, { type: 'wait', reason: /pod basic-pd-2 is not Ready/ });
  t.match(decideUpdate(input('pd', { sts: sts(3, 2), pods: after })), { act: { type: 'restart', pod: 'basic-pd-1' }, partition: 1 });
  // The leader is last: handed to an updated member first.
  const last = input('pd', { sts: sts(3, 1), pods: pods('pd', [OLD, NEW, NEW]), pd: pdView('basic-pd-0') });
  t.match(decideUpdate(last).act, { type: 'transfer-pd-leader', to: 'basic-pd-1', reason: /before basic-pd-0 restarts/ });
  t.match(decideUpdate({ ...last, pd: pdView('basic-pd-2') }), { act: { type: 'restart', pod: 'basic-pd-0' }, partition: 0 });
  t.match(decideUpdate({ ...last, pods: pods('pd', [NEW, NEW, NEW]), sts: sts(3, 0) }).act, { type: 'done' });
});

t.test('PD: quorum and the ledger', async (t) => {
  t.match(decideUpdate(input('pd', { pd: pdView('basic-pd-0', ['basic-pd-1']) })).act, { type: 'wait', reason: /one PD member at a time: waiting for PD member basic-pd-1 is not healthy/ });
  const five = input('pd', { sts: sts(5, 5), pods: pods('pd', [OLD, OLD, OLD, OLD, OLD]), pd: pdView('basic-pd-0', ['basic-pd-3', 'basic-pd-4'], 5) });
  t.match(decideUpdate(five).act, { type: 'wait' }, 'two away: nothing');
  t.match(decideUpdate(input('pd', { pd: { ...pdView('basic-pd-0'), leader: null } })).act, { type: 'wait', reason: /no leader/ });
  const two = input('pd', { sts: sts(2, 2), pods: pods('pd', [OLD, OLD]), pd: pdView('basic-pd-0', [], 2) });
  t.match(decideUpdate(two).act, { type: 'wait', reason: /would leave 1 of 2 PD members healthy, below the quorum of 2; with 2 members PD cannot restart one without losing its quorum: raise spec.pd.replicas to 3 first/ });
  const stale = { leaving: [{ component: 'pd' as const, member: 'basic-pd-2', pod: 'basic-pd-2', podUid: 'old', since: NOW - 1000, act: 'restart' as const }], evictions: [] };
  t.match(decideUpdate(input('pd', { sts: sts(3, 2), pods: pods('pd', [OLD, OLD, NEW]), ledger: stale })).act, { type: 'wait', reason: /basic-pd-2 still counts as leaving \(restart\) in the DisruptionLedger/ });
});

t.test('TiKV: evict, wait for zero leaders (progress-based timeout), restart, end eviction, leaders back', async (t) => {
  t.match(decideUpdate(input('tikv', {})).act, { type: 'evict-leaders', storeId: '3', pod: 'basic-tikv-2' });
  const evicting = input('tikv', { evicting: ['3'], stores: stores(3, { 2: { leaderCount: 5 } }), evictProgress: { storeId: '3', leaderCount: 5, since: NOW - 10_000 } });
  t.match(decideUpdate(evicting), { act: { type: 'wait', reason: /5 left; 10s since the count last went down, timeout 60s/ }, partition: 3 });
  const timedOut = decideUpdate({ ...evicting, evictProgress: { storeId: '3', leaderCount: 5, since: NOW - 61_000 } });
  t.match(timedOut, { act: { type: 'restart', pod: 'basic-tikv-2', warning: /still leads 5 regions and its count has not gone down for 61s/ }, partition: 2 });
  t.match(decideUpdate({ ...evicting, stores: stores(3, { 2: { leaderCount: 0 } }) }), { act: { type: 'restart', pod: 'basic-tikv-2', reason: /leads no region/ }, partition: 2 });
  // Restarted: the store must be Up, then the eviction ends, then leaders return.
  const restarted = { sts: sts(3, 2), pods: pods('tikv', [OLD, OLD, NEW], { 2: { createdAt: NOW - 10_000 } }), evicting: ['3'] };
  t.match(decideUpdate(input('tikv', { ...restarted, stores: stores(3, { 2: { state: 'Disconnected', leaderCount: 0 } }) })).act, { type: 'wait', reason: /store 3 of basic-tikv-2 is Disconnected/ });
  t.match(decideUpdate(input('tikv', { ...restarted, stores: stores(3, { 2: { leaderCount: 0 } }) })).act, { type: 'end-evict', storeId: '3' });
  t.match(decideUpdate(input('tikv', { ...restarted, evicting: [], stores: stores(3, { 2: { leaderCount: 0 } }) })).act, { type: 'wait', reason: /to lead regions again \(10s of at most 30s\)/ });
  t.match(decideUpdate(input('tikv', { ...restarted, evicting: [], stores: stores(3, { 2: { leaderCount: 0 } }), now: NOW + 21_000 })).act, { type: 'evict-leaders', storeId: '2' }, 'bounded: the next goes after 30s');
  t.match(decideUpdate(input('tikv', { ...restarted, evicting: [] })).act, { type: 'evict-leaders', storeId: '2', pod: 'basic-tikv-1' });
});

t.test('TiKV eviction progress: the clock restarts on every decrease only', async (t) => {
  const a = trackEviction(null, '3', 20, 0);
  t.same(a, { storeId: '3', leaderCount: 20, since: 0 });
  t.same(trackEviction(a, '3', 20, 5000), a, 'no progress keeps the clock');
  t.same(trackEviction(a, '3', 25, 5000), a, 'more leaders is no progress');
  t.same(trackEviction(a, '3', 15, 6000), { storeId: '3', leaderCount: 15, since: 6000 });
  t.same(trackEviction(a, '4', 20, 7000), { storeId: '4', leaderCount: 20, since: 7000 }, 'another store starts afresh');
});

t.test('TiDB: one at a time', async (t) => {
  const base = input('tidb', { sts: sts(2, 2), pods: pods('tidb', [OLD, OLD]) });
  t.match(decideUpdate(base), { act: { type: 'restart', pod: 'basic-tidb-1' }, partition: 1 });
  t.match(decideUpdate({ ...base, sts: sts(2, 1), pods: pods('tidb', [OLD, NEW], { 1: { deleting: true } }) }).act, { type: 'wait', reason: /basic-tidb-1 to terminate/ });
  t.match(decideUpdate({ ...base, sts: sts(2, 1), pods: pods('tidb', [OLD]) }).act, { type: 'wait', reason: /ordinal 1 to be created again/ });
  t.match(decideUpdate({ ...base, sts: sts(2, 1), pods: pods('tidb', [OLD, OLD]) }).act, { type: 'wait', reason: /basic-tidb-1 to be replaced/ });
  t.match(decideUpdate({ ...base, sts: sts(2, 1), pods: pods('tidb', [OLD, NEW]) }), { act: { type: 'restart', pod: 'basic-tidb-0' }, partition: 0 });
  t.match(decideUpdate({ ...base, pods: pods('tidb', [OLD, OLD], { 0: { ready: false } }) }).act, { type: 'wait', reason: /one TiDB member at a time: waiting for pod basic-tidb-0 is not Ready/ });
  t.match(decideUpdate({ ...base, pods: pods('tidb', [OLD, OLD], { 1: { ready: false } }) }), { act: { type: 'restart', pod: 'basic-tidb-1', reason: /away already/ }, partition: 1 }, 'the target away already: restarted first');
  t.match(decideUpdate({ ...base, sts: sts(2, 1), pods: pods('tidb', [NEW, OLD]) }), { act: { type: 'wait', reason: /basic-tidb-1 to be replaced/ } });
  t.match(decideUpdate({ ...base, sts: sts(2, 2), pods: pods('tidb', [NEW, OLD]) }), { act: { type: 'restart', pod: 'basic-tidb-1' }, partition: 1 });
  t.match(decideUpdate({ ...base, sts: sts(2, 2), pods: pods('tidb', [OLD, NEW]) }), { act: { type: 'restart', pod: 'basic-tidb-0' }, partition: 0 }, 'an updated member below the partition is skipped');
});

t.test('a member that never becomes Ready stops the roll; a fixed spec resumes it', async (t) => {
  const stuckPods = pods('tikv', [OLD, OLD, NEW], { 2: { ready: false, createdAt: NOW - 300_000 } });
  const d = decideUpdate(input('tikv', { sts: sts(3, 2), pods: stuckPods, evicting: ['3'] }));
  t.match(d, { act: { type: 'stuck', pod: 'basic-tikv-2', reason: /basic-tikv-2 was restarted at revision rev-b 300s ago and pod basic-tikv-2 is not Ready; the upgrade of TiKV stops here.*a fixed spec/ }, partition: 2 });
  // The spec is fixed: a new update revision, the partition back at replicas; the broken pod goes first.
  const stuckRecord = { leaving: [{ component: 'tikv' as const, member: '3', pod: 'basic-tikv-2', podUid: 'the-pod-before', since: NOW - 400_000, act: 'restart' as const }], evictions: [] };
  const fixed = decideUpdate(input('tikv', { sts: sts(3, 3, { updateRevision: 'rev-c' }), pods: stuckPods, evicting: ['3'], ledger: stuckRecord }));
  t.match(fixed, { act: { type: 'restart', pod: 'basic-tikv-2', deletePod: false, reason: /away already/ }, partition: 2 }, "its own earlier restart's record does not hold it");
  t.match(decideUpdate(input('tikv', { sts: sts(3, 3, { currentRevision: 'rev-c', updateRevision: 'rev-c' }), pods: pods('tikv', ['rev-c', 'rev-c', 'rev-b'], { 2: { ready: false, createdAt: NOW - 300_000 } }), ledger: stuckRecord })), { act: { type: 'restart', pod: 'basic-tikv-2' }, partition: 2 }, 'the fix back to the running template: the stuck pod is restarted at it');
  // A broken pod below the next target, at a revision neither current nor update: deleted.
  const below = pods('tidb', [OLD, OLD, OLD], { 0: { revision: 'rev-b', ready: false, createdAt: NOW - 400_000 } });
  t.match(decideUpdate(input('tidb', { sts: sts(3, 3, { updateRevision: 'rev-c' }), pods: below })).act, { type: 'restart', pod: 'basic-tidb-0', deletePod: true, reason: /stuck at revision rev-b/ });
  t.match(decideUpdate(input('tidb', { sts: sts(3, 3, { updateRevision: 'rev-c' }), pods: pods('tidb', [OLD, OLD, OLD], { 0: { ready: false } }) })).act, { type: 'wait' }, 'at the current revision it is not ours to delete');
});

// ---- properties ---------------------------------------------------------------------------------

const arbComponent = fc.constantFrom<ComponentName>('pd', 'tikv', 'tidb');
const likely = fc.constantFrom(true, true, true, true, false);
const arbState = fc
  .record({
    component: arbComponent,
    replicas: fc.integer({ min: 1, max: 5 }),
    partition: fc.integer({ min: 0, max: 5 }),
    pods: fc.array(
      // Mostly serving members: the interesting cases are one member away or none.
      fc.record({ present: likely, rev: fc.constantFrom(OLD, NEW, 'rev-x'), ready: likely, deleting: likely.map((x) => !x), healthy: likely, old: fc.boolean(), leaders: fc.constantFrom(0, 5) }),
      { minLength: 5, maxLength: 5 },
    ),
    leader: fc.integer({ min: -1, max: 4 }),
    evicting: fc.boolean(),
  })
  .map((s): UpdateInput => {
    const c = s.component;
    const ps = s.pods.slice(0, s.replicas).flatMap((p, i) => (p.present ? [{ name: name(c, i), ordinal: i, uid: `u${i}`, revision: p.rev, running: true, ready: p.ready, deleting: p.deleting, createdAt: p.old ? NOW - 1e9 : NOW - 1000 }] : []));
    const members = s.pods.slice(0, s.replicas).map((p, i) => ({ name: name(c, i), healthy: p.healthy }));
    return {
      component: c,
      sts: sts(s.replicas, s.partition),
      pods: ps,
      pd: { reachable: true, members, leader: s.leader >= 0 && s.leader < s.replicas ? name('pd', s.leader) : null },
      stores: s.pods.slice(0, s.replicas).map((p, i) => ({ id: String(i + 1), pod: name('tikv', i), state: p.healthy ? 'Up' : 'Down', leaderCount: p.leaders, regionCount: 10 })),
      evicting: s.evicting ? s.pods.slice(0, s.replicas).map((_, i) => String(i + 1)) : [],
      ledger: noLedger,
      now: NOW,
      policy,
    };
  });

t.test('property: a restart never makes a second member of the component away, and PD keeps a healthy quorum', async () => {
  fc.assert(
    fc.property(arbState, (inp) => {
      const d = decideUpdate(inp);
      if (d.act.type !== 'restart') return true;
      const target = d.act.pod;
      const serves = (i: number) => {
        const p = inp.pods.find((x) => x.ordinal === i);
        if (!p || !p.ready || p.deleting) return false;
        if (inp.component === 'pd') return inp.pd!.members.find((m) => m.name === p.name)!.healthy;
        if (inp.component === 'tikv') return inp.stores!.find((s) => s.pod === p.name)!.state === 'Up';
        return true;
      };
      const replicas = inp.sts!.replicas;
      // Lowering the partition to the ordinal restarts every not-updated pod at or above it: only the target may be one.
      for (let i = d.partition; i < replicas; i++) {
        const p = inp.pods.find((x) => x.ordinal === i);
        if (p && p.name !== target && p.revision !== NEW) throw new Error(`partition ${d.partition} also restarts ${p.name}`);
      }
      const awayOthers = Array.from({ length: replicas }, (_, i) => i).filter((i) => name(inp.component, i) !== target && !serves(i));
      if (awayOthers.length > 0) throw new Error(`restart of ${target} while ${awayOthers.join(',')} away`);
      if (inp.component === 'pd') {
        const members = inp.pd!.members;
        const healthyOthers = members.filter((m) => m.healthy && m.name !== target).length;
        const targetCounts = members.some((m) => m.healthy && m.name === target);
        if (targetCounts && healthyOthers < Math.floor(members.length / 2) + 1) throw new Error('PD quorum lost');
        if (inp.pd!.leader === target && targetCounts) throw new Error('restarting the serving PD leader');
      }
      return true;
    }),
    { numRuns: 3000 },
  );
});

/** A whole roll: acts applied to a small world whose pods take random times to come back. */
function simulate(component: ComponentName, replicas: number, delays: number[]): { order: string[]; maxAway: number; leaderRestartedLast: boolean; steps: number } {
  const revs = new Map<number, string>(Array.from({ length: replicas }, (_, i) => [i, OLD]));
  const downUntil = new Map<number, number>();
  let partition = replicas;
  let leader = component === 'pd' ? name('pd', replicas - 1) : null;
  const leaderAtStart: string[] = [];
  const evicting = new Set<string>();
  const leaders = new Map<string, number>(Array.from({ length: replicas }, (_, i) => [String(i + 1), 10]));
  const order: string[] = [];
  let maxAway = 0;
  let tick = 0;
  let d = 0;
  for (; tick < 400; tick++) {
    const now = NOW + tick * 1000;
    const up = (i: number) => (downUntil.get(i) ?? 0) <= tick;
    maxAway = Math.max(maxAway, Array.from({ length: replicas }, (_, i) => i).filter((i) => !up(i)).length);
    for (const id of evicting) leaders.set(id, Math.max(0, leaders.get(id)! - 4));
    const ps: UpdatePod[] = Array.from({ length: replicas }, (_, i) => ({ name: name(component, i), ordinal: i, uid: `u${i}-${revs.get(i)}`, revision: revs.get(i)!, running: true, ready: up(i), deleting: false, createdAt: now - 1000 }));
    const dec = decideUpdate({
      component,
      sts: sts(replicas, partition),
      pods: ps,
      pd: { reachable: true, members: ps.map((p) => ({ name: p.name, healthy: p.ready })), leader },
      stores: ps.map((p, i) => ({ id: String(i + 1), pod: p.name, state: p.ready ? 'Up' : 'Disconnected', leaderCount: leaders.get(String(i + 1))!, regionCount: 10 })),
      evicting: [...evicting],
      ledger: noLedger,
      now,
      policy: { ...policy, leaderReturnMs: 0 },
    });
    const a = dec.act;
    if (a.type === 'done') break;
    if (a.type === 'stuck') throw new Error(a.reason);
    if (a.type === 'transfer-pd-leader') {
      if (leaderAtStart.length === 0) leaderAtStart.push(a.to);
      leader = a.to;
    }
    if (a.type === 'evict-leaders') evicting.add(a.storeId);
    if (a.type === 'end-evict') {
      evicting.delete(a.storeId);
      leaders.set(a.storeId, 10);
    }
    if (a.type === 'restart') {
      const i = a.ordinal;
      if (!up(i)) throw new Error(`${a.pod} restarted while down`);
      if (leader === a.pod) throw new Error(`leader ${a.pod} restarted`);
      partition = dec.partition;
      revs.set(i, NEW);
      downUntil.set(i, tick + 1 + (delays[d++ % delays.length] ?? 1));
      order.push(a.pod);
    }
  }
  return { order, maxAway, leaderRestartedLast: component !== 'pd' || order[order.length - 1] === (leaderAtStart[0] ?? name('pd', 0)), steps: tick };
}

t.test('property: every roll ends, highest ordinal first, one member away at most, PD leader last', async () => {
  fc.assert(
    fc.property(arbComponent, fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 8 }), (c, replicas, delays) => {
      const r = simulate(c, c === 'pd' ? Math.max(3, replicas) : replicas, delays);
      const n = c === 'pd' ? Math.max(3, replicas) : replicas;
      if (r.order.join() !== Array.from({ length: n }, (_, i) => name(c, n - 1 - i)).join()) throw new Error(`order ${r.order.join()}`);
      if (r.maxAway > 1) throw new Error(`${r.maxAway} away at once`);
      if (!r.leaderRestartedLast) throw new Error('the PD leader was not restarted last');
      return true;
    }),
    { numRuns: 300 },
  );
});
