// The real tidb-scheduler (kube-scheduler v1.36 with tidb-steward as its extender) places PD pods of
// StatefulSets on kwok nodes so that no failure domain holds a PD majority.
import t from 'tap';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectlOk, namespace, perNode, pods, statefulSet, until } from './helpers.ts';

t.setTimeout(600_000);

async function placePd(ns: string, replicas: number, opts: { parallel?: boolean; expectScheduled?: number } = {}) {
  const cleanup = await namespace(ns);
  await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: ns, cluster: 'basic', component: 'pd', replicas, parallel: opts.parallel ?? true }));
  const want = opts.expectScheduled ?? replicas;
  const list = await until(`${want} of ${replicas} PD pods scheduled in ${ns}`, async () => {
    const l = await pods(ns);
    return l.length === replicas && l.filter((p) => p.node).length >= want ? l : null;
  }, 90_000);
  return { list, cleanup };
}

t.before(async () => {
  await ensureUp();
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: 'kubernetes.io/hostname' });
});

t.test('3 nodes, 3 PD replicas: one per node', async (t) => {
  await setNodes(defaultNodes(3));
  const { list, cleanup } = await placePd('e2e-pd3', 3);
  t.teardown(cleanup);
  t.same(Object.values(perNode(list)).sort(), [1, 1, 1], JSON.stringify(perNode(list)));
});

t.test('3 nodes, 5 PD replicas: at most 2 per node', async (t) => {
  const { list, cleanup } = await placePd('e2e-pd5', 5);
  t.teardown(cleanup);
  const counts = perNode(list);
  t.ok(Object.values(counts).every((c) => c <= 2), `at most 2 per node: ${JSON.stringify(counts)}`);
  t.equal(list.filter((p) => p.node).length, 5);
});

t.test('2 nodes, 3 PD replicas: the third stays Pending and describe shows why', async (t) => {
  await setNodes(defaultNodes(2));
  const { list, cleanup } = await placePd('e2e-pd3of2', 3, { expectScheduled: 2 });
  t.teardown(cleanup);
  const pending = list.find((p) => !p.node)!;
  t.ok(pending, 'one pod is not scheduled');
  const described = await until('the FailedScheduling event with our reason', async () => {
    const d = await kubectlOk(['describe', 'pod', '-n', 'e2e-pd3of2', pending.name]);
    return /already holds 1 of 3 PD members of cluster e2e-pd3of2\/basic \(at most 1 per kubernetes\.io\/hostname\)/.test(d) ? d : null;
  }, 30_000);
  t.match(described, /FailedScheduling/);
  // Still Pending a while later: nothing places it against the rule.
  await new Promise((r) => setTimeout(r, 3000));
  t.equal((await pods('e2e-pd3of2')).filter((p) => p.node).length, 2);
  t.same(Object.values(perNode(await pods('e2e-pd3of2'))).sort(), [1, 1]);
});

t.test('7 PD pods created at once over 5 nodes: never more than 3 on a node, over repeated runs', async (t) => {
  await setNodes(defaultNodes(5));
  for (let run = 1; run <= 3; run++) {
    const ns = `e2e-pd7-run${run}`;
    const { list, cleanup } = await placePd(ns, 7, { parallel: true });
    const counts = perNode(list);
    t.ok(Object.values(counts).every((c) => c <= 3), `run ${run}: ${JSON.stringify(counts)}`);
    await cleanup();
  }
});

t.test('with the zone key configured, no zone holds a PD majority', async (t) => {
  // 6 nodes in 3 zones, 2 per zone.
  await setNodes(defaultNodes(6, 3));
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: 'kubernetes.io/hostname,topology.kubernetes.io/zone' });
  t.teardown(() => restartSteward({ STEWARD_TOPOLOGY_KEYS: 'kubernetes.io/hostname' }));
  const zoneOf = (node: string) => `zone-${String.fromCharCode(97 + ((node.charCodeAt(5) - 97) % 3))}`;
  for (const replicas of [3, 5]) {
    const ns = `e2e-zone${replicas}`;
    const { list, cleanup } = await placePd(ns, replicas);
    const zones: Record<string, number> = {};
    for (const p of list) if (p.node) zones[zoneOf(p.node)] = (zones[zoneOf(p.node)] ?? 0) + 1;
    const max = Math.max(1, Math.floor((replicas - 1) / 2));
    t.ok(Object.values(zones).every((c) => c <= max), `${replicas} replicas, at most ${max} per zone: ${JSON.stringify(zones)}`);
    await cleanup();
  }
});
