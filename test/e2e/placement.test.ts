// The real tidb-scheduler (kube-scheduler v1.36 with tidb-steward as its extender) places PD pods of
// StatefulSets on kwok nodes so that no failure domain holds a PD majority.
//
// Every scenario lures kube-scheduler's own scoring toward the wrong answer (helpers.ts, Lure: node
// affinity and pod affinity of weight 100 toward one domain), so its default spreading cannot produce
// the expected layout by itself: each passes only because of the rule. To see that by hand, run this
// file with the extender's filter and bind left out of the test cluster's scheduler config:
//   TIDB_SCHEDULER_DROP_VERBS=filter,bind npx tap -j1 --disable-coverage --timeout=900 test/e2e/placement.test.ts
// (every test then fails), and run it again without the variable to restore the scheduler.
import t, { type Test } from 'tap';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectlOk, namespace, perNode, pods, statefulSet, until, type Lure, type PodInfo } from './helpers.ts';

t.setTimeout(600_000);

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

async function placePd(t: Test, ns: string, replicas: number, opts: { lure: Lure; expectScheduled?: number; annotations?: Record<string, string> }) {
  const cleanup = await namespace(ns);
  t.teardown(cleanup); // also when the scheduling below times out
  await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: ns, cluster: 'basic', component: 'pd', replicas, parallel: true, lure: opts.lure, ...(opts.annotations ? { annotations: opts.annotations } : {}) }));
  const want = opts.expectScheduled ?? replicas;
  const list = await until(`${want} of ${replicas} PD pods scheduled in ${ns}`, async () => {
    const l = await pods(ns);
    return l.length === replicas && l.filter((p) => p.node).length >= want ? l : null;
  }, 90_000);
  return list;
}

/** The FailedScheduling messages of a pod. */
async function failedScheduling(ns: string, pod: string): Promise<string[]> {
  const out = await kubectlOk(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${pod},reason=FailedScheduling`, '-o', 'json']);
  return (JSON.parse(out).items as Array<{ message: string }>).map((e) => e.message);
}

/** How many binds the rule refused in the namespace (kube-scheduler records each as FailedScheduling). */
async function refusedBinds(ns: string, list: PodInfo[]): Promise<number> {
  return (await Promise.all(list.map((p) => failedScheduling(ns, p.name)))).flat().filter((m) => /^binding refused: .*already holds/.test(m)).length;
}

/** Waits until the pending pod's FailedScheduling event carries `reason`, then checks it stays Pending. */
async function expectPendingWith(t: Test, ns: string, list: PodInfo[], reason: RegExp, scheduled: number) {
  const pending = list.filter((p) => !p.node);
  if (!t.equal(pending.length, 1, `exactly one pod is not scheduled: ${JSON.stringify(perNode(list))}`)) return;
  // The filter's refusal, as kube-scheduler words it ("0/N nodes are available: ..."); a refused bind
  // ("binding refused: ...") may come before it when the pods raced each other.
  const unschedulable = (m: string) => /^0\/\d+ nodes are available/.test(m) && reason.test(m);
  const messages = await until(`a FailedScheduling event for ${pending[0]?.name} with tidb-steward's reason`, async () => {
    const m = await failedScheduling(ns, pending[0]!.name);
    return m.some(unschedulable) ? m : null;
  }, 30_000);
  t.ok(messages.some(unschedulable), `FailedScheduling: ${messages.find(unschedulable)}`);
  // Still Pending a while later: nothing places it against the rule.
  await new Promise((r) => setTimeout(r, 3000));
  t.equal((await pods(ns)).filter((p) => p.node).length, scheduled, 'still not scheduled 3 s later');
}

t.before(async () => {
  await ensureUp();
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: HOST });
});

t.test('3 nodes, 3 PD replicas lured to node-a: one per node', async (t) => {
  await setNodes(defaultNodes(3));
  const list = await placePd(t, 'e2e-pd3', 3, { lure: { key: HOST, value: 'node-a' } });
  t.same(perNode(list), { 'node-a': 1, 'node-b': 1, 'node-c': 1 });
});

t.test('3 nodes, 5 PD replicas lured to node-a: at most 2 per node', async (t) => {
  const list = await placePd(t, 'e2e-pd5', 5, { lure: { key: HOST, value: 'node-a' } });
  const counts = perNode(list);
  t.ok(Object.values(counts).every((c) => c <= 2), `at most 2 per node: ${JSON.stringify(counts)}`);
  t.equal(list.filter((p) => p.node).length, 5);
});

t.test('2 nodes, 3 PD replicas lured to node-a: the third stays Pending and says why', async (t) => {
  await setNodes(defaultNodes(2));
  const ns = 'e2e-pd3of2';
  const list = await placePd(t, ns, 3, { lure: { key: HOST, value: 'node-a' }, expectScheduled: 2 });
  t.same(perNode(list), { 'node-a': 1, 'node-b': 1 });
  t.comment(`${await refusedBinds(ns, list)} bind(s) refused by the rule`);
  await expectPendingWith(t, ns, list, /already holds 1 of 3 PD members of cluster e2e-pd3of2\/basic \(at most 1 per kubernetes\.io\/hostname\)/, 2);
});

t.test('7 PD pods created at once over 5 nodes, lured to node-a: never more than 3 on a node, over repeated runs', async (t) => {
  await setNodes(defaultNodes(5));
  for (let run = 1; run <= 3; run++) {
    const ns = `e2e-pd7-run${run}`;
    const list = await placePd(t, ns, 7, { lure: { key: HOST, value: 'node-a' } });
    const counts = perNode(list);
    t.ok(Object.values(counts).every((c) => c <= 3), `run ${run}: ${JSON.stringify(counts)}`);
    // Pods filtered before an earlier bind is visible can be sent to a full node; the bind verb refuses
    // them and the scheduler tries again. Not every run races, so this is reported, not asserted.
    t.comment(`run ${run}: ${await refusedBinds(ns, list)} bind(s) refused by the rule`);
  }
});

t.test('with the zone key configured, no zone holds a PD majority, lured to zone-a', async (t) => {
  // 6 nodes in 3 zones, 2 per zone: node-a, node-d in zone-a.
  await setNodes(defaultNodes(6, 3));
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: `${HOST},${ZONE}` });
  t.teardown(() => restartSteward({ STEWARD_TOPOLOGY_KEYS: HOST }));
  const zoneOf = Object.fromEntries(defaultNodes(6, 3).map((n) => [n.name, n.zone]));
  for (const replicas of [3, 5]) {
    const ns = `e2e-zone${replicas}`;
    const list = await placePd(t, ns, replicas, { lure: { key: ZONE, value: 'zone-a' } });
    const zones: Record<string, number> = {};
    for (const p of list) if (p.node) zones[zoneOf[p.node]!] = (zones[zoneOf[p.node]!] ?? 0) + 1;
    const max = replicas === 3 ? 1 : 2;
    t.ok(Object.values(zones).every((c) => c <= max), `${replicas} replicas, at most ${max} per zone: ${JSON.stringify(zones)}`);
  }
});

t.test('2 zones of 2 nodes, 3 PD replicas lured to zone-a: the third stays Pending with the zone reason', async (t) => {
  await setNodes(defaultNodes(4, 2));
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: `${HOST},${ZONE}` });
  t.teardown(() => restartSteward({ STEWARD_TOPOLOGY_KEYS: HOST }));
  const ns = 'e2e-zone3of2';
  const list = await placePd(t, ns, 3, { lure: { key: ZONE, value: 'zone-a' }, expectScheduled: 2 });
  const zoneOf = Object.fromEntries(defaultNodes(4, 2).map((n) => [n.name, n.zone]));
  t.same(list.filter((p) => p.node).map((p) => zoneOf[p.node!]).sort(), ['zone-a', 'zone-b'], 'one per zone');
  await expectPendingWith(t, ns, list, /topology\.kubernetes\.io\/zone=zone-[ab] \(node node-[a-d]\) already holds 1 of 3 PD members of cluster e2e-zone3of2\/basic \(at most 1 per topology\.kubernetes\.io\/zone\)/, 2);
});

// The configured key stays hostname; the cluster names zone on its PD pods (what the controller writes
// for spec.pd.topologyKeys). Lured to zone-a, kube-scheduler alone puts two members there, and so would
// the hostname rule (one per node): only the cluster's own key keeps zone-a to one. (Checked: with the
// annotation under another name, both tests fail.)
const CLUSTER_ZONE_KEY = { 'tidb-steward.dev/topology-keys': ZONE };

t.test('per-cluster zone key, configured key hostname: 3 PD over 3 zones lured to zone-a, one per zone', async (t) => {
  await setNodes(defaultNodes(6, 3));
  const zoneOf = Object.fromEntries(defaultNodes(6, 3).map((n) => [n.name, n.zone]));
  const list = await placePd(t, 'e2e-ownzone3', 3, { lure: { key: ZONE, value: 'zone-a' }, annotations: CLUSTER_ZONE_KEY });
  const zones: Record<string, number> = {};
  for (const p of list) if (p.node) zones[zoneOf[p.node]!] = (zones[zoneOf[p.node]!] ?? 0) + 1;
  t.same(zones, { 'zone-a': 1, 'zone-b': 1, 'zone-c': 1 }, `one per zone: ${JSON.stringify(perNode(list))}`);
});

t.test('per-cluster zone key, configured key hostname: 2 zones of 2 nodes, the third PD stays Pending with the zone reason', async (t) => {
  await setNodes(defaultNodes(4, 2));
  const ns = 'e2e-ownzone3of2';
  const list = await placePd(t, ns, 3, { lure: { key: ZONE, value: 'zone-a' }, expectScheduled: 2, annotations: CLUSTER_ZONE_KEY });
  const zoneOf = Object.fromEntries(defaultNodes(4, 2).map((n) => [n.name, n.zone]));
  t.same(list.filter((p) => p.node).map((p) => zoneOf[p.node!]).sort(), ['zone-a', 'zone-b'], 'one per zone, though 4 nodes would take one each by hostname');
  await expectPendingWith(t, ns, list, /topology\.kubernetes\.io\/zone=zone-[ab] \(node node-[a-d]\) already holds 1 of 3 PD members of cluster e2e-ownzone3of2\/basic \(at most 1 per topology\.kubernetes\.io\/zone\)/, 2);
});
