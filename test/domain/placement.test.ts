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

// An oracle written independently of the implementation: recount every domain after the placement.
function keepsRule(nodes: NodeView[], keys: string[], replicas: number, placed: string[]): boolean {
  const max = Math.max(1, Math.floor((replicas - 1) / 2));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const key of keys) {
    const counts: Record<string, number> = {};
    for (const p of placed) {
      const v = byName.get(p)?.labels[key];
      if (v === undefined) return false;
      counts[v] = (counts[v] ?? 0) + 1;
    }
    if (Object.values(counts).some((c) => c > max)) return false;
  }
  return true;
}

const topology = fc
  .record({ nodes: fc.integer({ min: 1, max: 9 }), zones: fc.integer({ min: 1, max: 6 }), twoLevels: fc.boolean(), replicas: fc.integer({ min: 1, max: 7 }) })
  .map(({ nodes, zones, twoLevels, replicas }) => ({ nodes: makeNodes(nodes, zones), keys: twoLevels ? [HOST, ZONE] : [HOST], replicas }));

t.test('property: any sequence of placements the filter allows never breaks the rule', async (t) => {
  fc.assert(
    fc.property(topology, fc.array(fc.nat(), { minLength: 1, maxLength: 7 }), ({ nodes, keys, replicas }, picks) => {
      const placed: string[] = [];
      for (const pick of picks.slice(0, replicas)) {
        const plan = planPlacement({ identity: pd, replicas, peerNodes: placed }, keys, lookup(nodes));
        const fits = filterNodes(plan, nodes.map((n) => n.name), lookup(nodes)).fits;
        if (fits.length === 0) break;
        placed.push(fits[pick % fits.length]!);
        if (!keepsRule(nodes, keys, replicas, placed)) return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random topologies and placement orders');
});

t.test('property: a node is returned exactly when placing there keeps the rule', async (t) => {
  fc.assert(
    fc.property(topology, fc.array(fc.nat(), { maxLength: 6 }), ({ nodes, keys, replicas }, picks) => {
      // Build a valid starting state by placing greedily through the oracle.
      const placed: string[] = [];
      for (const pick of picks.slice(0, replicas - 1)) {
        const ok = nodes.filter((n) => keepsRule(nodes, keys, replicas, [...placed, n.name]));
        if (ok.length === 0) break;
        placed.push(ok[pick % ok.length]!.name);
      }
      const plan = planPlacement({ identity: pd, replicas, peerNodes: placed }, keys, lookup(nodes));
      const fits = filterNodes(plan, nodes.map((n) => n.name), lookup(nodes)).fits;
      const expected = nodes.filter((n) => keepsRule(nodes, keys, replicas, [...placed, n.name])).map((n) => n.name);
      return JSON.stringify(fits) === JSON.stringify(expected);
    }),
    { numRuns: 2000 },
  );
  t.pass('filter agrees with the oracle on 2000 states');
});

t.test('many refused nodes (a full zone) take the lookup path and agree with the scan path', async (t) => {
  const nodes = makeNodes(40, 2); // z1: n1,n3,...; z2: n2,n4,...
  const plan = planPlacement({ identity: pd, replicas: 3, peerNodes: ['n1'] }, [HOST, ZONE], lookup(nodes));
  t.ok(plan.blocked.size > 16, `${plan.blocked.size} nodes blocked`);
  const out = filterNodes(plan, [...nodes.map((n) => n.name), 'ghost'], lookup(nodes));
  t.same(out.fits, [...nodes.filter((_, i) => i % 2 === 1).map((n) => n.name), 'ghost']);
  t.equal(Object.keys(out.refused).length, 20);
});
