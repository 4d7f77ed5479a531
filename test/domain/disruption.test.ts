// The disruption decision: tables of PD and TiKV cases, and a property over concurrent reviews that
// serialise through a shared ledger written with a version precondition (as the DisruptionLedger is).
import t from 'tap';
import fc from 'fast-check';
import { decideDisruption, decideLeavingCleanup, type MemberDisruptionState } from '../../src/domain/drain.ts';

const NOW = 10_000_000;
const m = (name: string, healthy = true, leaving: string | null = null, soft = false): MemberDisruptionState => ({ name, healthy, leaving, leavingSoft: soft, leavingSince: leaving ? NOW - 42_000 : null });

t.test('PD: table', async (t) => {
  const table: Array<{ name: string; member: string; members: MemberDisruptionState[]; allowed: boolean; reason: RegExp }> = [
    { name: 'healthy 3, one goes', member: 'a', members: [m('a'), m('b'), m('c')], allowed: true, reason: /2 of 3 PD members stay healthy without a \(quorum 2\)/ },
    { name: '3 with one leaving: the second waits', member: 'b', members: [m('a', true, 'removal allowed'), m('b'), m('c')], allowed: false, reason: /would leave 1 of 3 .* quorum of 2; waiting for a \(removal allowed for 42s\)/ },
    { name: 'issue case: 5, one down, one leaving: a third waits', member: 'c', members: [m('a', false), m('b', false, 'removal allowed'), m('c'), m('d'), m('e')], allowed: false, reason: /would leave 2 of 5 .* quorum of 3/ },
    { name: '5, one down: one may go', member: 'c', members: [m('a', false), m('b'), m('c'), m('d'), m('e')], allowed: true, reason: /3 of 5/ },
    { name: 'a terminating pod counts as leaving', member: 'c', members: [m('a', true, 'pod is terminating'), m('b', false), m('c')], allowed: false, reason: /a \(pod is terminating for 42s\), b \(unhealthy\)/ },
    { name: 'an unhealthy member may go even without quorum', member: 'a', members: [m('a', false), m('b', false), m('c')], allowed: true, reason: /not healthy/ },
    { name: 'not a member', member: 'z', members: [m('a')], allowed: true, reason: /not a member/ },
    { name: 'single member', member: 'a', members: [m('a')], allowed: false, reason: /^removing PD member a would leave 0 of 1 members healthy, below the quorum of 1; waiting for the other members$/ },
    { name: '2 of 2 healthy: neither may go', member: 'b', members: [m('a'), m('b')], allowed: false, reason: /^removing PD member b would leave 1 of 2 members healthy, below the quorum of 2; waiting for the other members$/ },
    { name: 'a member asked again while its removal is recorded counts only the others', member: 'a', members: [m('a', true, 'removal allowed'), m('b', false), m('c')], allowed: false, reason: /^removing PD member a would leave 1 of 3 members healthy, below the quorum of 2; waiting for b \(unhealthy\)$/ },
    { name: 'a member asked again while its removal is recorded may go when the others hold quorum', member: 'a', members: [m('a', true, 'removal allowed'), m('b'), m('c')], allowed: true, reason: /^2 of 3 PD members stay healthy without a \(quorum 2\)$/ },
    { name: 'a hard-leaving member blocks a soft one whatever the names', member: 'a', members: [m('a', true, 'node draining', true), m('b', true, 'removal allowed'), m('c')], allowed: false, reason: /^removing PD member a would leave 1 of 3 members healthy, below the quorum of 2; waiting for b \(removal allowed for 42s\)$/ },
    { name: 'not a member while another node drains', member: 'z', members: [m('a', true, 'node draining', true), m('b')], allowed: true, reason: /^z is not a member of this PD cluster$/ },
    { name: 'two soft (cordoned) members: the smaller name goes first', member: 'a', members: [m('a', true, 'node draining', true), m('b', true, 'node draining', true), m('c')], allowed: true, reason: /2 of 3/ },
    { name: 'two soft members: the larger name waits', member: 'b', members: [m('a', true, 'node draining', true), m('b', true, 'node draining', true), m('c')], allowed: false, reason: /waiting for a \(node draining/ },
    { name: 'a soft member blocks a plain delete elsewhere', member: 'c', members: [m('a'), m('b', true, 'node draining', true), m('c')], allowed: false, reason: /waiting for b/ },
  ];
  for (const row of table) {
    const d = decideDisruption({ component: 'pd', member: row.member, members: row.members }, NOW);
    t.equal(d.allowed, row.allowed, `${row.name}: ${d.reason}`);
    t.match(d.reason, row.reason, row.name);
  }
});

t.test('TiKV: table', async (t) => {
  const table: Array<{ name: string; member: string; members: MemberDisruptionState[]; maxReplicas?: number; regionFaults?: number; faultyRegions?: number; allowed: boolean; reason: RegExp }> = [
    { name: '3 stores, 3 replicas, one goes', member: '1', members: [m('1'), m('2'), m('3')], allowed: true, reason: /at most 1 peers .* within the 1 that 3 replicas tolerate/ },
    { name: 'issue case: a second store waits while one is leaving', member: '2', members: [m('1', true, 'removal allowed'), m('2'), m('3')], allowed: false, reason: /^removing store 2 would let regions lose their majority \(3 replicas tolerate 1 away\); waiting for store 1 \(removal allowed for 42s\)$/ },
    { name: 'another store not Up', member: '2', members: [m('1', false), m('2'), m('3')], allowed: false, reason: /store 1 \(not Up\)/ },
    { name: 'PD reports down peers', member: '2', members: [m('1'), m('2'), m('3')], regionFaults: 1, faultyRegions: 4, allowed: false, reason: /^removing store 2 would let regions lose their majority \(3 replicas tolerate 1 away\); waiting for 4 regions PD reports with down, offline or missing peers \(up to 1 in one region\)$/ },
    { name: 'PD reports faults without a region count', member: '2', members: [m('1'), m('2'), m('3')], regionFaults: 2, allowed: false, reason: /waiting for some regions PD reports with down, offline or missing peers \(up to 2 in one region\)$/ },
    { name: '5 replicas tolerate two away', member: '2', members: [m('1', true, 'removal allowed'), m('2'), m('3'), m('4'), m('5')], maxReplicas: 5, allowed: true, reason: /within the 2/ },
    { name: '5 replicas, two away: a third waits', member: '3', members: [m('1', true, 'removal allowed'), m('2', false), m('3'), m('4'), m('5')], maxReplicas: 5, allowed: false, reason: /waiting for store 1 .*, store 2 \(not Up\)/ },
    { name: 'a store that is not Up may go', member: '1', members: [m('1', false), m('2'), m('3', false)], allowed: true, reason: /not Up/ },
    { name: 'one replica tolerates nothing', member: '1', members: [m('1'), m('2')], maxReplicas: 1, allowed: false, reason: /tolerate 0/ },
    { name: 'not a store of this cluster', member: '9', members: [m('1')], allowed: true, reason: /^store 9 is not a store of this cluster$/ },
    { name: 'a store asked again while its removal is recorded counts only the others', member: '1', members: [m('1', true, 'removal allowed'), m('2'), m('3')], allowed: true, reason: /^with store 1 away, at most 1 peers of any region are away, within the 1 that 3 replicas tolerate$/ },
    { name: 'a store leaving and not Up counts once', member: '3', members: [m('1', false, 'pod is terminating'), m('2'), m('3'), m('4'), m('5')], maxReplicas: 5, allowed: true, reason: /^with store 3 away, at most 2 peers of any region are away, within the 2 that 5 replicas tolerate$/ },
    // A crashed TiKV: its store is Down and its pod not Ready (so leaving); PD reports its peers down.
    // Its pod going changes no region, so a drain of its node is not held up by its own faults.
    { name: 'a Down store whose pod is not Ready may go', member: '1', members: [m('1', false, 'pod is not Ready'), m('2'), m('3')], regionFaults: 1, faultyRegions: 7, allowed: true, reason: /^store 1 is not Up: its regions already count it away$/ },
    { name: 'a Down store on a draining node may go while another is Down', member: '1', members: [m('1', false, 'node draining', true), m('2', false), m('3')], allowed: true, reason: /^store 1 is not Up/ },
    { name: 'an Up store waits for a Down store that is leaving', member: '2', members: [m('1', false, 'pod is not Ready'), m('2'), m('3')], regionFaults: 1, allowed: false, reason: /waiting for store 1 \(pod is not Ready for 42s\), some regions/ },
  ];
  for (const row of table) {
    const { member, members, maxReplicas, regionFaults, faultyRegions } = row;
    const d = decideDisruption({ component: 'tikv', member, members, ...(maxReplicas ? { maxReplicas } : {}), ...(regionFaults ? { regionFaults } : {}), ...(faultyRegions ? { faultyRegions } : {}) }, NOW);
    t.equal(d.allowed, row.allowed, `${row.name}: ${d.reason}`);
    t.match(d.reason, row.reason, row.name);
  }
  t.match(decideDisruption({ component: 'tidb', member: 'x', members: [] }, NOW), { allowed: true, reason: /not gated/ });
});

t.test('leaving entries end when the member is back, gone, or the removal was never carried out', async (t) => {
  const entry = { component: 'pd' as const, member: 'pd-1', pod: 'pd-1', podUid: 'old', since: NOW - 60_000 };
  const pod = (uid: string, over: Partial<{ running: boolean; ready: boolean; deleting: boolean }> = {}) => ({ uid, running: true, ready: true, deleting: false, ...over });
  const policy = { now: NOW, abandonAfterMs: 300_000 };
  const later = { now: NOW + 600_000, abandonAfterMs: 300_000 };
  const leaving = 'PD member pd-1 is still leaving';
  const table: Array<[string, ReturnType<typeof pod> | null, { healthy: boolean } | null, boolean, string, typeof policy?]> = [
    ['old pod still terminating', pod('old', { deleting: true }), { healthy: true }, false, leaving],
    ['no pod yet', null, { healthy: false }, false, 'PD member pd-1 has no pod yet'],
    ['new pod not Ready', pod('new', { ready: false }), { healthy: false }, false, leaving],
    ['new pod Ready, member not healthy yet', pod('new'), { healthy: false }, false, 'pd-1 is back but PD member pd-1 is not healthy yet'],
    ['new pod Ready, member healthy', pod('new'), { healthy: true }, true, 'pd-1 is back and PD member pd-1 is healthy'],
    ['new pod Ready, member gone from PD', pod('new'), null, true, 'pd-1 is back and PD member pd-1 is no longer part of the cluster'],
    ['member and pod gone (scale-in)', null, null, true, 'PD member pd-1 and its pod pd-1 are gone'],
    // A new pod serves only when running, Ready and not deleting: each alone keeps the entry.
    ['new pod not Ready, member healthy', pod('new', { ready: false }), { healthy: true }, false, leaving],
    ['new pod not running, member healthy', pod('new', { running: false }), { healthy: true }, false, leaving],
    ['new pod deleting, member healthy', pod('new', { deleting: true }), { healthy: true }, false, leaving],
    ['same pod serving long after the allowance', pod('old'), { healthy: true }, true, 'the allowed removal of pd-1 was not carried out; it still serves', later],
    ['same pod serving exactly at the abandon time', pod('old'), { healthy: true }, true, 'the allowed removal of pd-1 was not carried out; it still serves', { now: NOW - 60_000 + 300_000, abandonAfterMs: 300_000 }],
    ['same pod serving a millisecond before', pod('old'), { healthy: true }, false, leaving, { now: NOW - 60_000 + 299_999, abandonAfterMs: 300_000 }],
    ['same pod serving shortly after', pod('old'), { healthy: true }, false, leaving],
    ['same pod serving long after, member not healthy', pod('old'), { healthy: false }, false, leaving, later],
    ['same pod serving long after, member gone from PD', pod('old'), null, false, leaving, later],
    ['same pod terminating long after: the removal is being carried out', pod('old', { deleting: true }), { healthy: true }, false, leaving, later],
  ];
  for (const [name, p, member, remove, reason, pol] of table) t.same(decideLeavingCleanup(entry, p, member, pol ?? policy), { remove, reason }, name);
  const store = { component: 'tikv' as const, member: '4', pod: 'basic-tikv-1', podUid: 'old', since: NOW - 60_000 };
  t.same(decideLeavingCleanup(store, null, null, policy), { remove: true, reason: 'store 4 and its pod basic-tikv-1 are gone' }, 'TiKV: store and pod gone');
  t.same(decideLeavingCleanup(store, null, { healthy: true }, policy), { remove: false, reason: 'store 4 has no pod yet' }, 'TiKV: no pod yet');
  t.same(decideLeavingCleanup(store, pod('new'), { healthy: true }, policy), { remove: true, reason: 'basic-tikv-1 is back and store 4 is healthy' }, 'TiKV: back and Up');
});

// ---- property: concurrent reviews through a versioned ledger ------------------------------------

type Op =
  | { t: 'review'; replica: number; member: number }
  | { t: 'commit'; replica: number }
  | { t: 'recover'; member: number }
  | { t: 'cordon'; member: number };

const opArb = (members: number, replicas: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { arbitrary: fc.record({ t: fc.constant('review' as const), replica: fc.nat(replicas - 1), member: fc.nat(members - 1) }), weight: 4 },
    { arbitrary: fc.record({ t: fc.constant('commit' as const), replica: fc.nat(replicas - 1) }), weight: 4 },
    { arbitrary: fc.record({ t: fc.constant('recover' as const), member: fc.nat(members - 1) }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant('cordon' as const), member: fc.nat(members - 1) }), weight: 1 },
  );

interface World {
  healthy: boolean[];
  removed: boolean[];
  cordoned: boolean[];
  ledger: { version: number; leaving: Set<number> };
}

/** Runs the ops: each replica decides on a snapshot and commits only if the ledger did not change. */
function run(world: World, ops: Op[], decide: (w: World, member: number) => boolean, invariant: (w: World) => string | null): string | null {
  const pending = new Map<number, { member: number; version: number }>();
  for (const op of ops) {
    if (op.t === 'review') {
      if (world.removed[op.member]) continue;
      if (decide(world, op.member)) pending.set(op.replica, { member: op.member, version: world.ledger.version });
      else pending.delete(op.replica);
    } else if (op.t === 'commit') {
      const p = pending.get(op.replica);
      pending.delete(op.replica);
      if (!p || p.version !== world.ledger.version || world.removed[p.member]) continue;
      world.ledger.leaving.add(p.member);
      world.ledger.version++;
      world.removed[p.member] = true;
    } else if (op.t === 'recover') {
      if (!world.removed[op.member]) continue;
      world.removed[op.member] = false;
      world.healthy[op.member] = true;
      world.cordoned[op.member] = false;
      world.ledger.leaving.delete(op.member);
      world.ledger.version++;
    } else {
      world.cordoned[op.member] = true;
    }
    const broken = invariant(world);
    if (broken) return broken;
  }
  return null;
}

function states(w: World, healthyOf: (i: number) => boolean): MemberDisruptionState[] {
  return w.healthy.map((_, i) => {
    const leaving = w.ledger.leaving.has(i) ? 'removal allowed' : w.cordoned[i] ? 'node draining' : null;
    return { name: `m${String(i).padStart(2, '0')}`, healthy: healthyOf(i), leaving, leavingSoft: leaving === 'node draining' };
  });
}

t.test('property: concurrent PD reviews never take PD below quorum', async (t) => {
  const scenario = fc
    .record({ n: fc.constantFrom(3, 4, 5, 7), replicas: fc.integer({ min: 2, max: 3 }) })
    .chain(({ n, replicas }) =>
      fc.record({
        n: fc.constant(n),
        down: fc.uniqueArray(fc.nat(n - 1), { maxLength: n - (Math.floor(n / 2) + 1) }),
        ops: fc.array(opArb(n, replicas), { maxLength: 60 }),
      }),
    );
  fc.assert(
    fc.property(scenario, ({ n, down, ops }) => {
      const majority = Math.floor(n / 2) + 1;
      const world: World = { healthy: Array.from({ length: n }, (_, i) => !down.includes(i)), removed: Array(n).fill(false), cordoned: Array(n).fill(false), ledger: { version: 0, leaving: new Set() } };
      const decide = (w: World, i: number) =>
        decideDisruption({ component: 'pd', member: `m${String(i).padStart(2, '0')}`, members: states(w, (j) => w.healthy[j]! && !w.removed[j]) }, NOW).allowed;
      const broken = run(world, ops, decide, (w) => {
        const serving = w.healthy.filter((h, i) => h && !w.removed[i]).length;
        return serving < majority ? `only ${serving} of ${n} PD members serve` : null;
      });
      return broken === null;
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 interleavings');
});

t.test('property: concurrent TiKV reviews never take a region below its majority', async (t) => {
  const scenario = fc
    .record({ stores: fc.integer({ min: 3, max: 6 }), replicas: fc.integer({ min: 2, max: 3 }), r: fc.constantFrom(3, 5) })
    .filter(({ stores, r }) => r <= stores)
    .chain(({ stores, replicas, r }) =>
      fc.record({
        stores: fc.constant(stores),
        r: fc.constant(r),
        // Each region: its peers' stores (R of them, or fewer when PD reports missing peers).
        regions: fc.array(fc.uniqueArray(fc.nat(stores - 1), { minLength: Math.max(1, r - 2), maxLength: r }), { minLength: 1, maxLength: 12 }),
        down: fc.uniqueArray(fc.nat(stores - 1), { maxLength: 2 }),
        ops: fc.array(opArb(stores, replicas), { maxLength: 60 }),
      }),
    );
  fc.assert(
    fc.property(scenario, ({ stores, r, regions, down, ops }) => {
      const world: World = { healthy: Array.from({ length: stores }, (_, i) => !down.includes(i)), removed: Array(stores).fill(false), cordoned: Array(stores).fill(false), ledger: { version: 0, leaving: new Set() } };
      const up = (w: World, s: number) => w.healthy[s]! && !w.removed[s];
      const regionBroken = (w: World) => regions.find((peers) => peers.filter((s) => up(w, s)).length < Math.floor(peers.length / 2) + 1);
      fc.pre(regionBroken(world) === undefined);
      // What PD's region checks report: per region, its missing peers plus its peers on stores away.
      const faults = (w: World) => regions.map((peers) => r - peers.length + peers.filter((s) => !up(w, s)).length);
      const decide = (w: World, i: number) => {
        const f = faults(w);
        return decideDisruption(
          { component: 'tikv', member: `m${String(i).padStart(2, '0')}`, members: states(w, (j) => up(w, j)), maxReplicas: r, regionFaults: Math.max(0, ...f), faultyRegions: f.filter((x) => x > 0).length },
          NOW,
        ).allowed;
      };
      const broken = run(world, ops, decide, (w) => (regionBroken(w) ? `a region of ${JSON.stringify(regions)} lost its majority` : null));
      return broken === null;
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 interleavings');
});

t.test('property check is not vacuous: without the ledger precondition PD loses quorum', async (t) => {
  // Two replicas review b and c of a 5-member PD with a down; both commit without the version check.
  const members = (leaving: Set<string>) => ['a', 'b', 'c', 'd', 'e'].map((n) => ({ name: n, healthy: n !== 'a', leaving: leaving.has(n) ? 'removal allowed' : null }));
  const first = decideDisruption({ component: 'pd', member: 'b', members: members(new Set()) }, NOW);
  const second = decideDisruption({ component: 'pd', member: 'c', members: members(new Set()) }, NOW);
  t.ok(first.allowed && second.allowed, 'each alone is allowed on the same snapshot: only the ledger serialises them');
  t.notOk(decideDisruption({ component: 'pd', member: 'c', members: members(new Set(['b'])) }, NOW).allowed, 'after b is recorded, c waits');
});
