import t from 'tap';
import fc from 'fast-check';
import { maxPerDomain, planPlacement, filterNodes, judgeNode, scoreNode } from '../../src/domain/placement.ts';
import type { NodeView, TidbIdentity } from '../../src/domain/model.ts';
import { makeNode, makeNodes, nodeStore } from '../builders.ts';

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';
const pd: TidbIdentity = { namespace: 'db', cluster: 'basic', component: 'pd' };
const tikv: TidbIdentity = { namespace: 'db', cluster: 'basic', component: 'tikv' };
const lookup = (nodes: NodeView[]) => nodeStore(nodes);

t.test('PD limit per domain is max(1, floor((n-1)/2)) for 1..7 replicas', async (t) => {
  const table: Array<[number, number]> = [[1, 1], [2, 1], [3, 1], [4, 1], [5, 2], [6, 2], [7, 3]];
  for (const [n, max] of table) t.equal(maxPerDomain('pd', n, 0), max, `${n} replicas → ${max}`);
});

t.test('TiKV limit follows PingCAP: none under 3, 1 while fewer than 3 domains are used, then ceil(R/3)', async (t) => {
  const table: Array<[number, number, number]> = [
    [1, 0, Infinity], [2, 5, Infinity], [3, 0, 1], [3, 2, 1], [3, 3, 1], [4, 3, 2], [6, 3, 2], [7, 4, 3], [9, 2, 1],
  ];
  for (const [r, used, max] of table) t.equal(maxPerDomain('tikv', r, used), max, `R=${r}, ${used} domains used → ${max}`);
});

t.test('PD placement table: replicas × domains on hostnames', async (t) => {
  // [replicas, nodes, peers per node before placing, expected fitting nodes]
  const table: Array<{ replicas: number; nodes: number; peers: string[]; fits: string[] }> = [
    { replicas: 1, nodes: 1, peers: [], fits: ['n1'] },
    { replicas: 3, nodes: 3, peers: [], fits: ['n1', 'n2', 'n3'] },
    { replicas: 3, nodes: 3, peers: ['n1'], fits: ['n2', 'n3'] },
    { replicas: 3, nodes: 3, peers: ['n1', 'n2'], fits: ['n3'] },
    { replicas: 3, nodes: 2, peers: ['n1', 'n2'], fits: [] },
    { replicas: 5, nodes: 3, peers: ['n1', 'n1', 'n2', 'n2'], fits: ['n3'] },
    { replicas: 5, nodes: 3, peers: ['n1', 'n2', 'n3'], fits: ['n1', 'n2', 'n3'] },
    { replicas: 7, nodes: 5, peers: ['n1', 'n1', 'n1', 'n2', 'n2', 'n2'], fits: ['n3', 'n4', 'n5'] },
    { replicas: 4, nodes: 6, peers: ['n1', 'n2', 'n3'], fits: ['n4', 'n5', 'n6'] },
    { replicas: 2, nodes: 1, peers: ['n1'], fits: [] },
  ];
  for (const row of table) {
    const nodes = makeNodes(row.nodes);
    const plan = planPlacement({ identity: pd, replicas: row.replicas, peerNodes: row.peers }, [HOST], lookup(nodes));
    const out = filterNodes(plan, nodes.map((n) => n.name), lookup(nodes));
    t.same(out.fits, row.fits, `${row.replicas} replicas on ${row.nodes} nodes with peers [${row.peers}]`);
    t.equal(Object.keys(out.refused).length, row.nodes - row.fits.length, 'every other node has a reason');
  }
});

t.test('two levels: hostname and zone must both hold', async (t) => {
  // 6 nodes in 3 zones: n1,n4 → z1; n2,n5 → z2; n3,n6 → z3
  const nodes = makeNodes(6, 3);
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: ['n1'] }, [HOST, ZONE], lookup(nodes));
  const out = filterNodes(plan, nodes.map((n) => n.name), lookup(nodes));
  t.same(out.fits, ['n2', 'n3', 'n5', 'n6'], 'n4 is a fresh host but shares zone z1 with n1');
  t.match(out.refused.n4, /topology\.kubernetes\.io\/zone=z1 \(node n4\) already holds 1 of 3 PD members of cluster db\/basic \(at most 1 per topology\.kubernetes\.io\/zone\)/);
  t.equal(out.refused.n1, 'node n1 already holds 1 of 3 PD members of cluster db/basic (at most 1 per kubernetes.io/hostname)');
});

t.test('a node without a topology label is refused with that reason', async (t) => {
  const nodes = [makeNode('n1', { [ZONE]: 'a' }), makeNode('n2')];
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: [] }, [HOST, ZONE], lookup(nodes));
  const out = filterNodes(plan, ['n1', 'n2', 'ghost'], lookup(nodes));
  t.same(out.fits, ['n1', 'ghost'], 'a node the cache does not know yet is left to the bind check');
  t.match(out.refused.n2, /node n2 has no label topology\.kubernetes\.io\/zone/);
  t.match(judgeNode(plan, 'ghost', lookup(nodes)), { fit: false, reason: /not in tidb-steward's node cache/ }, 'and bind refuses it');
});

t.test('TiKV spreads to 3 domains before doubling up', async (t) => {
  const nodes = makeNodes(4);
  const at = (peers: string[], replicas: number) =>
    filterNodes(planPlacement({ identity: tikv, replicas, peerNodes: peers }, [HOST], lookup(nodes)), nodes.map((n) => n.name), lookup(nodes)).fits;
  t.same(at(['n1', 'n2'], 4), ['n3', 'n4'], '2 domains used: only fresh nodes');
  t.same(at(['n1', 'n2', 'n3'], 4), ['n1', 'n2', 'n3', 'n4'], '3 domains used: ceil(4/3)=2 per node');
  t.same(at(['n1', 'n1'], 2), ['n1', 'n2', 'n3', 'n4'], 'under 3 replicas: no limit');
  t.match(judgeNode(planPlacement({ identity: tikv, replicas: 3, peerNodes: ['n1'] }, [HOST], lookup(nodes)), 'n1', lookup(nodes)), {
    fit: false,
    reason: /1 of 3 TiKV stores .* while fewer than 3 domains are used/,
  });
});

t.test('a peer on a node the cache no longer knows counts in no domain', async (t) => {
  const nodes = makeNodes(3);
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: ['gone'] }, [HOST], lookup(nodes));
  t.same(filterNodes(plan, ['n1', 'n2', 'n3'], lookup(nodes)).fits, ['n1', 'n2', 'n3']);
});

t.test('scores prefer emptier domains', async (t) => {
  const nodes = makeNodes(3);
  const plan = planPlacement({ identity: pd, replicas: 5, peerNodes: ['n1', 'n1', 'n2'] }, [HOST], lookup(nodes));
  const s = ['n1', 'n2', 'n3', 'ghost'].map((n) => scoreNode(plan, n, lookup(nodes)));
  t.same(s, [3, 5, 10, 0]);
});

// Oracles from first principles, not from maxPerDomain's formula.
//
// PD: a Raft group of n members keeps quorum only while a majority of the n (more than n/2) is alive.
// A domain may hold c members if losing it leaves n - c of n, still a majority: 2(n - c) > n. For n of
// 1 or 2 no layout survives the loss of any member's domain; the best there is, one per domain, is
// what the rule asks then. The count is searched for, so a wrong closed form cannot hide here.
function pdMostPerDomain(n: number): number {
  let most = 0;
  for (let c = 1; c <= n; c++) if (2 * (n - c) > n) most = c;
  return Math.max(1, most);
}

// TiKV (PingCAP's spreading rule, stated as what a layout must look like rather than as a limit):
// with 3 or more stores, the first three go to three different domains, so that a region's three
// replicas can each sit in its own domain, and no domain ever holds more than a third of the stores
// (rounded up), so that losing one domain loses at most a third of them.
function layoutKeepsRule(component: 'pd' | 'tikv', nodes: NodeView[], keys: string[], replicas: number, placed: string[]): boolean {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const key of keys) {
    const domains: string[] = [];
    for (const p of placed) {
      const v = byName.get(p)?.labels[key];
      if (v === undefined) return false;
      domains.push(v);
    }
    const counts: Record<string, number> = {};
    for (const d of domains) counts[d] = (counts[d] ?? 0) + 1;
    const worst = Math.max(0, ...Object.values(counts));
    if (component === 'pd') {
      if (worst > pdMostPerDomain(replicas)) return false;
      continue;
    }
    if (replicas < 3) continue;
    const firstThree = domains.slice(0, 3);
    if (new Set(firstThree).size !== firstThree.length) return false;
    if (3 * (worst - 1) >= replicas) return false; // worst > ceil(R/3), i.e. worst - 1 >= R/3
  }
  return true;
}

t.test('oracle self-check: the first-principles PD limit per domain for 1..9 members', async (t) => {
  // Hand-checked: 4 members lose quorum with 2 in one domain (2 of 4 left is not a majority).
  t.same([1, 2, 3, 4, 5, 6, 7, 8, 9].map(pdMostPerDomain), [1, 1, 1, 1, 2, 2, 3, 3, 4]);
  for (let n = 1; n <= 9; n++) t.equal(maxPerDomain('pd', n, 0), pdMostPerDomain(n), `implementation agrees for ${n}`);
});

const topology = fc
  .record({ nodes: fc.integer({ min: 1, max: 9 }), zones: fc.integer({ min: 1, max: 6 }), twoLevels: fc.boolean(), replicas: fc.integer({ min: 1, max: 8 }) })
  .map(({ nodes, zones, twoLevels, replicas }) => ({ nodes: makeNodes(nodes, zones), keys: twoLevels ? [HOST, ZONE] : [HOST], replicas }));

for (const component of ['pd', 'tikv'] as const) {
  const identity = component === 'pd' ? pd : tikv;
  const fitting = (nodes: NodeView[], keys: string[], replicas: number, placed: string[]) => {
    const plan = planPlacement({ identity, replicas, peerNodes: placed }, keys, lookup(nodes));
    return filterNodes(plan, nodes.map((n) => n.name), lookup(nodes)).fits;
  };

  t.test(`property (${component}): any sequence of placements the filter allows keeps the first-principles layout`, async (t) => {
    fc.assert(
      fc.property(topology, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), ({ nodes, keys, replicas }, picks) => {
        const placed: string[] = [];
        for (const pick of picks.slice(0, replicas)) {
          const fits = fitting(nodes, keys, replicas, placed);
          if (fits.length === 0) break;
          placed.push(fits[pick % fits.length]!);
          if (!layoutKeepsRule(component, nodes, keys, replicas, placed)) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
    t.pass('2000 random topologies and placement orders');
  });

  t.test(`property (${component}): a node is returned exactly when placing there keeps the layout`, async (t) => {
    fc.assert(
      fc.property(topology, fc.array(fc.nat(), { maxLength: 7 }), ({ nodes, keys, replicas }, picks) => {
        // A valid starting state, built through the oracle alone.
        const placed: string[] = [];
        for (const pick of picks.slice(0, replicas - 1)) {
          const ok = nodes.filter((n) => layoutKeepsRule(component, nodes, keys, replicas, [...placed, n.name]));
          if (ok.length === 0) break;
          placed.push(ok[pick % ok.length]!.name);
        }
        const expected = nodes.filter((n) => layoutKeepsRule(component, nodes, keys, replicas, [...placed, n.name])).map((n) => n.name);
        return JSON.stringify(fitting(nodes, keys, replicas, placed)) === JSON.stringify(expected);
      }),
      { numRuns: 2000 },
    );
    t.pass('filter agrees with the oracle on 2000 states');
  });
}

t.test('property (pd): with enough domains every member gets placed, and losing any one domain keeps a majority', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 9 }), fc.array(fc.nat(), { minLength: 9, maxLength: 9 }), (replicas, picks) => {
      const nodes = makeNodes(replicas);
      const placed: string[] = [];
      for (const pick of picks.slice(0, replicas)) {
        const plan = planPlacement({ identity: pd, replicas, peerNodes: placed }, [HOST], lookup(nodes));
        const fits = filterNodes(plan, nodes.map((n) => n.name), lookup(nodes)).fits;
        if (fits.length === 0) return false;
        placed.push(fits[pick % fits.length]!);
      }
      return nodes.every((lost) => 2 * placed.filter((p) => p !== lost.name).length > replicas);
    }),
    { numRuns: 500 },
  );
  t.pass('no placement order gets stuck, and every single-node loss leaves a majority');
});

t.test('many refused nodes (a full zone) take the lookup path and agree with the scan path', async (t) => {
  const nodes = makeNodes(40, 2); // z1: n1,n3,...; z2: n2,n4,...
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: ['n1'] }, [HOST, ZONE], lookup(nodes));
  t.ok(plan.blocked.size > 16, `${plan.blocked.size} nodes blocked`);
  const out = filterNodes(plan, [...nodes.map((n) => n.name), 'ghost'], lookup(nodes));
  t.same(out.fits, [...nodes.filter((_, i) => i % 2 === 1).map((n) => n.name), 'ghost']);
  t.equal(Object.keys(out.refused).length, 20);
});

t.test('a TiKV peer on a node the cache no longer knows is no domain used', async (t) => {
  // Peers on n1, n2 and a deleted node: 2 domains are in use, so still at most 1 per domain.
  const nodes = makeNodes(4);
  const plan = planPlacement({ identity: tikv, replicas: 4, peerNodes: ['n1', 'n2', 'gone'] }, [HOST], lookup(nodes));
  t.same(filterNodes(plan, nodes.map((n) => n.name), lookup(nodes)).fits, ['n3', 'n4']);
  t.equal(judgeNode(plan, 'n1', lookup(nodes)).fit, false);
});

t.test('a node refused at two levels gets the first level\'s reason', async (t) => {
  // n1 holds a peer (hostname level) and has no zone label (zone level).
  const nodes = [makeNode('n1'), makeNode('n2', { [ZONE]: 'a' }), makeNode('n3', { [ZONE]: 'b' })];
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: ['n1'] }, [HOST, ZONE], lookup(nodes));
  t.equal(filterNodes(plan, ['n1', 'n2', 'n3'], lookup(nodes)).refused.n1, 'node n1 already holds 1 of 3 PD members of cluster db/basic (at most 1 per kubernetes.io/hostname)');
});

t.test('exact refusal sentences', async (t) => {
  const nodes = makeNodes(4);
  const unknown = judgeNode(planPlacement({ identity: tikv, replicas: 3, peerNodes: [] }, [HOST], lookup(nodes)), 'ghost', lookup(nodes));
  t.same(unknown, { fit: false, reason: "node ghost is not in tidb-steward's node cache yet; it cannot be checked for TIKV placement of cluster db/basic" });
  // TiKV with 3 domains in use: ceil(4/3) = 2 per node, and no "fewer than 3 domains" note.
  const full = judgeNode(planPlacement({ identity: tikv, replicas: 4, peerNodes: ['n1', 'n1', 'n2', 'n3'] }, [HOST], lookup(nodes)), 'n1', lookup(nodes));
  t.same(full, { fit: false, reason: 'node n1 already holds 2 of 4 TiKV stores of cluster db/basic (at most 2 per kubernetes.io/hostname)' });
  const racked = nodeStore(nodes, [HOST, 'rack']);
  const noLabel = filterNodes(planPlacement({ identity: tikv, replicas: 3, peerNodes: [] }, [HOST, 'rack'], racked), ['n1'], racked);
  t.same(noLabel.refused, { n1: 'node n1 has no label rack, a failure-domain key for TiKV stores of cluster db/basic' });
});

t.test('filter: refused holds only candidates, fits is a new array in candidate order', async (t) => {
  const nodes = makeNodes(5);
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: ['n1', 'n4'] }, [HOST], lookup(nodes));
  const candidates = ['n5', 'n4', 'n2'];
  const out = filterNodes(plan, candidates, lookup(nodes));
  t.same(out, { fits: ['n5', 'n2'], refused: { n4: 'node n4 already holds 1 of 3 PD members of cluster db/basic (at most 1 per kubernetes.io/hostname)' } }, 'n1 is blocked but was not asked about');
  const none = filterNodes(plan, ['n2', 'n3'], lookup(nodes));
  t.same(none, { fits: ['n2', 'n3'], refused: {} });
  t.not(none.fits, candidates, 'not the caller\'s array');
  const same = ['n2', 'n3'];
  t.not(filterNodes(plan, same, lookup(nodes)).fits, same, 'not the caller\'s array when all fit');
});

t.test('scores: zero without levels or without a label; averaged over levels', async (t) => {
  const nodes = [makeNode('n1', { [ZONE]: 'a' }), makeNode('n2', { [ZONE]: 'a' }), makeNode('n3', { [ZONE]: 'b' }), makeNode('n4')];
  const plan = planPlacement({ identity: pd, replicas: 5, peerNodes: ['n1'] }, [HOST, ZONE], lookup(nodes));
  // n2: host 1/(1+0), zone 1/(1+1) → 10·1.5/2 = 7.5 → 8; n1: (1/2 + 1/2)/2 → 5; n3: 10; n4 has no zone → 0.
  t.same(['n1', 'n2', 'n3', 'n4'].map((n) => scoreNode(plan, n, lookup(nodes))), [5, 8, 10, 0]);
  t.equal(scoreNode(planPlacement({ identity: pd, replicas: 3, peerNodes: [] }, [], lookup(nodes)), 'n1', lookup(nodes)), 0);
});
