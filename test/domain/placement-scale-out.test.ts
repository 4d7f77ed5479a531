// The step rule of a PD scale-out (stepCount, placeWithTarget, judgeWithTarget) and the note of what a
// layout tolerates (interimPlacementNote): tables, and properties against first-principles oracles.
import t from 'tap';
import fc from 'fast-check';
import {
  filterNodes,
  interimPlacementNote,
  judgeNode,
  judgeWithTarget,
  maxPerDomain,
  parseTargetReplicas,
  placeWithTarget,
  planPlacement,
  stepCount,
  type DomainCounts,
} from '../../src/domain/placement.ts';
import type { NodeView, TidbIdentity } from '../../src/domain/model.ts';
import { HOST, ZONE, makeNodes, nodeStore } from '../builders.ts';

const pd: TidbIdentity = { namespace: 'db', cluster: 'basic', component: 'pd' };
const tikv: TidbIdentity = { namespace: 'db', cluster: 'basic', component: 'tikv' };

t.test('stepCount: the next count, only while scaling out and only when its limit is larger', async (t) => {
  // [component, interim, target, step]
  const table: Array<['pd' | 'tikv', number, number | undefined, number | null]> = [
    ['pd', 4, 5, 5],
    ['pd', 4, 7, 5], // never the target's own limit (3), the next count's (2)
    ['pd', 6, 7, 7],
    ['pd', 6, 9, 7],
    ['pd', 3, 5, null], // 3 → 4: the limit stays 1
    ['pd', 5, 7, null], // 5 → 6: the limit stays 2
    ['pd', 2, 3, null],
    ['pd', 1, 3, null],
    ['pd', 4, 4, null], // not scaling
    ['pd', 4, 3, null], // scaling in
    ['pd', 4, undefined, null], // no annotation: PingCAP's StatefulSets, or ours before this change
    ['tikv', 4, 5, null],
  ];
  for (const [c, n, target, step] of table) t.equal(stepCount(c, n, target), step, `${c} ${n} → ${target}: ${step}`);
});

t.test('parseTargetReplicas: whole numbers 1..999 only', async (t) => {
  const table: Array<[unknown, number | null]> = [['5', 5], [' 7 ', 7], ['100', 100], ['0', null], ['05', null], ['-3', null], ['3.0', null], ['', null], ['1e2', null], ['1000', null], [5, null], [undefined, null], [null, null]];
  for (const [v, want] of table) t.equal(parseTargetReplicas(v), want, JSON.stringify(v));
});

const lookup = (nodes: NodeView[]) => nodeStore(nodes);

t.test('placeWithTarget table: 6 nodes in 3 zones, zone level', async (t) => {
  const nodes = makeNodes(6, 3); // n1,n4 z1; n2,n5 z2; n3,n6 z3
  const all = nodes.map((n) => n.name);
  const place = (replicas: number, target: number | undefined, peers: string[]) =>
    placeWithTarget(planPlacement({ identity: pd, replicas, targetReplicas: target, peerNodes: peers }, [ZONE], lookup(nodes)), all, lookup(nodes));
  const table: Array<{ replicas: number; target?: number; peers: string[]; fits: string[]; underTarget: boolean }> = [
    { replicas: 4, target: 5, peers: ['n1', 'n2', 'n3'], fits: all, underTarget: true },
    { replicas: 4, peers: ['n1', 'n2', 'n3'], fits: [], underTarget: false },
    { replicas: 4, target: 5, peers: ['n1', 'n2'], fits: ['n3', 'n6'], underTarget: false }, // the interim rule still places
    { replicas: 4, target: 5, peers: ['n1', 'n4', 'n2'], fits: ['n3', 'n6'], underTarget: false },
    { replicas: 4, target: 5, peers: ['n1', 'n4', 'n2', 'n5', 'n3'], fits: ['n3', 'n6'], underTarget: true }, // racing binds: z1, z2 full at 2
    { replicas: 3, target: 5, peers: ['n1', 'n2', 'n3'], fits: [], underTarget: false }, // 3 → 4 keeps 1 per zone
    { replicas: 5, target: 5, peers: ['n1', 'n4', 'n2', 'n5'], fits: ['n3', 'n6'], underTarget: false },
    { replicas: 6, target: 7, peers: ['n1', 'n4', 'n2', 'n5', 'n3', 'n6'], fits: all, underTarget: true },
  ];
  for (const row of table) {
    const out = place(row.replicas, row.target, row.peers);
    t.same([out.fits, out.underTarget], [row.fits, row.underTarget], `${row.replicas} → ${row.target ?? '-'} with peers [${row.peers}]`);
  }
});

t.test('placeWithTarget: kept (pinned) nodes count as fitting, so the step rule is not needed', async (t) => {
  const nodes = makeNodes(6, 3);
  const plan = planPlacement({ identity: pd, replicas: 4, targetReplicas: 5, peerNodes: ['n1', 'n2', 'n3'] }, [ZONE], lookup(nodes));
  const out = placeWithTarget(plan, ['n4', 'n5'], lookup(nodes), (n) => n === 'n5');
  t.same(out, { fits: ['n5'], refused: { n4: 'topology.kubernetes.io/zone=z1 (node n4) already holds 1 of 4 PD members of cluster db/basic (at most 1 per topology.kubernetes.io/zone)' }, underTarget: false });
  const none = placeWithTarget(planPlacement({ identity: pd, replicas: 4, targetReplicas: 5, peerNodes: ['n1', 'n4', 'n2', 'n5', 'n3'] }, [ZONE], lookup(nodes)), ['n1', 'n6'], lookup(nodes));
  t.same(none.fits, ['n6']);
  t.equal(none.underTarget, true);
  t.equal(none.refused.n1, 'topology.kubernetes.io/zone=z1 (node n1) already holds 2 of 4 PD members of cluster db/basic (at most 2 per topology.kubernetes.io/zone, the limit for 5 members while PD scales out to 5)', 'when neither fits, the step rule says why');
});

t.test('judgeWithTarget: interim first, then the step limit, never beyond', async (t) => {
  const nodes = makeNodes(6, 3);
  const plan = planPlacement({ identity: pd, replicas: 4, targetReplicas: 5, peerNodes: ['n1', 'n4', 'n2'] }, [ZONE], lookup(nodes));
  t.same(judgeWithTarget(plan, 'n3', lookup(nodes)), { fit: true, underTarget: false });
  t.same(judgeWithTarget(plan, 'n5', lookup(nodes)), { fit: true, underTarget: true, interimReason: 'topology.kubernetes.io/zone=z2 (node n5) already holds 1 of 4 PD members of cluster db/basic (at most 1 per topology.kubernetes.io/zone)' });
  t.same(judgeWithTarget(plan, 'n1', lookup(nodes)), { fit: false, reason: 'topology.kubernetes.io/zone=z1 (node n1) already holds 2 of 4 PD members of cluster db/basic (at most 2 per topology.kubernetes.io/zone, the limit for 5 members while PD scales out to 5)' });
  const noTarget = planPlacement({ identity: pd, replicas: 4, peerNodes: ['n1', 'n4', 'n2'] }, [ZONE], lookup(nodes));
  t.same(judgeWithTarget(noTarget, 'n5', lookup(nodes)), judgeNode(noTarget, 'n5', lookup(nodes)));
  t.same(judgeWithTarget(plan, 'ghost', lookup(nodes)), { fit: false, reason: "node ghost is not in tidb-steward's node cache yet; it cannot be checked for PD placement of cluster db/basic" });
});

// ---- properties --------------------------------------------------------------------------------

const layout = fc
  .record({
    nodes: fc.integer({ min: 1, max: 9 }),
    zones: fc.integer({ min: 1, max: 5 }),
    twoLevels: fc.boolean(),
    replicas: fc.integer({ min: 1, max: 8 }),
    extra: fc.integer({ min: 0, max: 6 }),
    noTarget: fc.boolean(),
    peers: fc.array(fc.nat(), { maxLength: 8 }),
  })
  .map(({ nodes, zones, twoLevels, replicas, extra, noTarget, peers }) => {
    const ns = makeNodes(nodes, zones);
    return {
      nodes: ns,
      keys: twoLevels ? [HOST, ZONE] : [ZONE],
      replicas,
      target: noTarget ? undefined : replicas + extra - 3, // below, at and above the interim count
      // Any existing layout, even one over the limit (pinned volumes, earlier rules).
      peers: peers.slice(0, replicas - 1).map((p) => ns[p % ns.length]!.name),
    };
  });

function mostAfter(nodes: NodeView[], keys: string[], placed: string[]): number {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let most = 0;
  for (const key of keys) {
    const counts = new Map<string, number>();
    for (const p of placed) {
      const v = byName.get(p)!.labels[key]!;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    most = Math.max(most, ...counts.values());
  }
  return most;
}

t.test('property: a node fits under the step rule only when its domains stay within the target\'s limit', async (t) => {
  fc.assert(
    fc.property(layout, ({ nodes, keys, replicas, target, peers }) => {
      const index = lookup(nodes);
      const plan = planPlacement({ identity: pd, replicas, targetReplicas: target, peerNodes: peers }, keys, index);
      const out = placeWithTarget(plan, nodes.map((n) => n.name), index);
      if (!out.underTarget) return true;
      const limit = maxPerDomain('pd', target!, 0);
      const step = maxPerDomain('pd', replicas + 1, 0);
      // Judged one level at a time: the domain the new member joins holds at most the limit afterwards.
      return out.fits.every((f) => {
        const node = nodes.find((n) => n.name === f)!;
        return keys.every((key) => {
          const after = [...peers, f].filter((p) => nodes.find((n) => n.name === p)!.labels[key] === node.labels[key]).length;
          return after <= step && after <= limit;
        });
      });
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 layouts');
});

t.test('property: without a target annotation (or with one not above the interim count) nothing changes', async (t) => {
  fc.assert(
    fc.property(layout, fc.boolean(), ({ nodes, keys, replicas, target, peers }, drop) => {
      const index = lookup(nodes);
      const t0 = drop || target === undefined || target <= replicas ? (drop ? undefined : target) : replicas; // never above n
      const plan = planPlacement({ identity: pd, replicas, targetReplicas: t0, peerNodes: peers }, keys, index);
      const old = planPlacement({ identity: pd, replicas, peerNodes: peers }, keys, index);
      const names = nodes.map((n) => n.name);
      const out = placeWithTarget(plan, names, index);
      const before = filterNodes(old, names, index);
      return plan.underTarget === null && !out.underTarget && JSON.stringify([out.fits, out.refused]) === JSON.stringify([before.fits, before.refused]) && names.every((n) => JSON.stringify(judgeWithTarget(plan, n, index)) === JSON.stringify({ ...judgeNode(old, n, index), ...(judgeNode(old, n, index).fit ? { underTarget: false } : {}) }));
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 layouts: the interim rule alone, as before');
});

t.test('property: when the interim rule fits a candidate, the step rule is never used', async (t) => {
  fc.assert(
    fc.property(layout, ({ nodes, keys, replicas, target, peers }) => {
      const index = lookup(nodes);
      const names = nodes.map((n) => n.name);
      const strict = filterNodes(planPlacement({ identity: pd, replicas, peerNodes: peers }, keys, index), names, index);
      const out = placeWithTarget(planPlacement({ identity: pd, replicas, targetReplicas: target, peerNodes: peers }, keys, index), names, index);
      return strict.fits.length === 0 || (!out.underTarget && JSON.stringify(out.fits) === JSON.stringify(strict.fits));
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 layouts');
});

t.test('property: a scale-out from 3 over Z ≥ 3 zones, one member at a time, always completes within the rule', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 5 }), fc.integer({ min: 4, max: 9 }), fc.array(fc.nat(), { minLength: 9, maxLength: 9 }), (zones, target, picks) => {
      // A target the zones can hold at all (4 members over 3 zones cannot survive a zone loss: refused, as before).
      fc.pre(zones * maxPerDomain('pd', target, 0) >= target);
      const nodes = makeNodes(zones * 3, zones);
      const index = lookup(nodes);
      const names = nodes.map((n) => n.name);
      // The first 3, one per zone (the interim rule at 3).
      const placed = ['n1', 'n2', 'n3'];
      for (let n = 4; n <= target; n++) {
        const plan = planPlacement({ identity: pd, replicas: n, targetReplicas: target, peerNodes: placed }, [ZONE], index);
        const out = placeWithTarget(plan, names, index);
        if (out.fits.length === 0) return false;
        placed.push(out.fits[picks[n - 1]! % out.fits.length]!);
        // After the member joins: within the step's limit, and the target's.
        if (mostAfter(nodes, [ZONE], placed) > Math.max(maxPerDomain('pd', n, 0), stepCount('pd', n, target) ? maxPerDomain('pd', n + 1, 0) : 0)) return false;
      }
      // Done: the layout survives the loss of any one zone.
      const members: Record<string, number> = {};
      for (const p of placed) members[nodes.find((x) => x.name === p)!.labels[ZONE]!] = (members[nodes.find((x) => x.name === p)!.labels[ZONE]!] ?? 0) + 1;
      return interimPlacementNote({ cluster: 'db/basic', levels: [{ key: ZONE, members }], interim: target, target }).tolerates === true;
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 scale-outs: never stuck, and the target layout survives a zone loss');
});

// ---- interimPlacementNote ----------------------------------------------------------------------

const zone = (members: Record<string, number>): DomainCounts[] => [{ key: ZONE, members }];

t.test('interimPlacementNote table', async (t) => {
  const table: Array<{ name: string; levels: DomainCounts[]; unknown?: number; interim: number; target: number; tolerates: boolean | null; reason: string; message: string }> = [
    {
      name: '3 members, 1 per zone',
      levels: zone({ a: 1, b: 1, c: 1 }),
      interim: 3,
      target: 3,
      tolerates: true,
      reason: 'DomainLossTolerated',
      message: 'PD of cluster db/basic survives the loss of any one failure domain: the worst, topology.kubernetes.io/zone=a holds 1 of 3 members, and losing it leaves 2, at least the 2 a quorum of 3 needs',
    },
    {
      name: 'the 4th of 5 placed over 3 zones',
      levels: zone({ a: 2, b: 1, c: 1 }),
      interim: 4,
      target: 5,
      tolerates: false,
      reason: 'NoDomainLossTolerated',
      message:
        'PD of cluster db/basic tolerates no loss of a failure domain until its next member joins: topology.kubernetes.io/zone=a holds 2 of 4 members, and losing it would leave 2, fewer than the 3 a quorum of 4 needs. ' +
        'The scale-out to 5 adds one member at a time; 4 members allow only 1 per domain, so where no node offered keeps to that, tidb-steward places the member within the limit of 5 members (2 per domain), a layout that survives the loss of any one domain once member 5 joins',
    },
    {
      name: 'the 4th not placed yet (counted as a voter that does not serve)',
      levels: zone({ a: 1, b: 1, c: 1 }),
      interim: 4,
      target: 5,
      tolerates: false,
      reason: 'NoDomainLossTolerated',
      message:
        'PD of cluster db/basic tolerates no loss of a failure domain until its next member joins: topology.kubernetes.io/zone=a holds 1 of 4 members, and losing it would leave 2, fewer than the 3 a quorum of 4 needs. ' +
        'The scale-out to 5 adds one member at a time; 4 members allow only 1 per domain, so where no node offered keeps to that, tidb-steward places the member within the limit of 5 members (2 per domain), a layout that survives the loss of any one domain once member 5 joins',
    },
    {
      name: '5 of 5 over 3 zones',
      levels: zone({ a: 2, b: 2, c: 1 }),
      interim: 5,
      target: 5,
      tolerates: true,
      reason: 'DomainLossTolerated',
      message: 'PD of cluster db/basic survives the loss of any one failure domain: the worst, topology.kubernetes.io/zone=a holds 2 of 5 members, and losing it leaves 3, at least the 3 a quorum of 5 needs',
    },
    {
      name: 'not scaling, 2 zones',
      levels: zone({ a: 2, b: 1 }),
      interim: 3,
      target: 3,
      tolerates: false,
      reason: 'NoDomainLossTolerated',
      message: 'PD of cluster db/basic tolerates no loss of a failure domain: topology.kubernetes.io/zone=a holds 2 of 3 members, and losing it would leave 1, fewer than the 2 a quorum of 3 needs; add nodes in other domains (and move a member there) to survive one',
    },
    {
      name: 'scaling 5 → 7 with a zone over the step limit (pinned there): not the step window',
      levels: zone({ a: 3, b: 1, c: 1 }),
      interim: 5,
      target: 7,
      tolerates: false,
      reason: 'NoDomainLossTolerated',
      message: 'PD of cluster db/basic tolerates no loss of a failure domain while PD scales out to 7 members: topology.kubernetes.io/zone=a holds 3 of 5 members, and losing it would leave 2, fewer than the 3 a quorum of 5 needs; add nodes in other domains (and move a member there) to survive one',
    },
    {
      name: 'the host level is the weak one',
      levels: [{ key: HOST, members: { n1: 2, n2: 1, n3: 1, n4: 1 } }, { key: ZONE, members: { a: 2, b: 2, c: 1 } }],
      interim: 5,
      target: 5,
      tolerates: true,
      reason: 'DomainLossTolerated',
      message: 'PD of cluster db/basic survives the loss of any one failure domain: the worst, kubernetes.io/hostname=n1 holds 2 of 5 members, and losing it leaves 3, at least the 3 a quorum of 5 needs',
    },
    {
      name: 'a member on a node of unknown domain',
      levels: zone({ a: 1, b: 1 }),
      unknown: 1,
      interim: 3,
      target: 3,
      tolerates: null,
      reason: 'DomainUnknown',
      message: "whether PD of cluster db/basic survives the loss of a failure domain is not known: 1 of its 3 members run on nodes whose domain tidb-steward does not know (a node not in its cache yet, or without the label); it will tell once it knows",
    },
    {
      name: 'nothing placed',
      levels: zone({}),
      interim: 3,
      target: 3,
      tolerates: null,
      reason: 'DomainUnknown',
      message: 'PD of cluster db/basic has no member placed in a known failure domain yet',
    },
  ];
  for (const row of table) {
    const note = interimPlacementNote({ cluster: 'db/basic', levels: row.levels, unknown: row.unknown, interim: row.interim, target: row.target });
    t.same([note.tolerates, note.reason, note.message], [row.tolerates, row.reason, row.message], row.name);
  }
});

t.test('property: interimPlacementNote tolerates exactly when losing any one domain leaves a majority', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (counts, pending, more) => {
      const placed = counts.reduce((a, b) => a + b, 0);
      const interim = placed + pending;
      const members = Object.fromEntries(counts.map((c, i) => [`z${i}`, c]));
      const note = interimPlacementNote({ cluster: 'db/basic', levels: zone(members), interim, target: interim + more });
      // A majority of the interim members must remain after any one domain is lost.
      const survives = counts.every((c) => 2 * (placed - c) > interim);
      return note.tolerates === survives && note.reason === (survives ? 'DomainLossTolerated' : 'NoDomainLossTolerated');
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 layouts');
});

t.test('TiKV plans never get a step plan', async (t) => {
  const nodes = makeNodes(3);
  t.equal(planPlacement({ identity: tikv, replicas: 4, targetReplicas: 5, peerNodes: [] }, [HOST], lookup(nodes)).underTarget, null);
});
