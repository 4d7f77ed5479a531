// A TidbCluster's own PD topology keys, end to end: spec.pd.topologyKeys [zone] → the controller's PD
// pods carry the annotation → tidb-scheduler's extender spreads them by zone, while tidb-steward's
// configured key is hostname. The PD pods are lured to zone-a (spec.pd.affinity, weight 100), so
// kube-scheduler's own scoring and the hostname rule would both put two of the three there.
import t from 'tap';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectlOk, namespace, until } from './helpers.ts';
import { dropReleasedVolumes, ensureVolumes, installCrd, tidbCluster } from './tc-helpers.ts';

t.setTimeout(300_000);
const NS = 'e2e-tctopo';
const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';
const NODES = defaultNodes(4, 2); // node-a, node-c in zone-a; node-b, node-d in zone-b
const zoneOf = Object.fromEntries(NODES.map((n) => [n.name, n.zone]));

t.before(async () => {
  await ensureUp();
  await setNodes(NODES);
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: HOST, STEWARD_PENDING_GRACE_SECONDS: '5' });
  await installCrd();
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  await dropReleasedVolumes();
  await ensureVolumes(4, '1Gi', `e2e-tctopo-${Date.now().toString(36)}`);
});

const lure = {
  nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: ZONE, operator: 'In', values: ['zone-a'] }] } }] },
  podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: ZONE, labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'zoned' } } } }] },
};

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
}

t.test('spec.pd.topologyKeys [zone] with the configured key hostname: one PD per zone, the third Pending with the zone reason', async (t) => {
  await kubectlOk(['apply', '-f', '-'], tidbCluster(NS, 'zoned', { pd: { replicas: 3, topologyKeys: [ZONE], affinity: lure }, tikv: { replicas: 1 }, tidb: { replicas: 0 } }));
  const list = await until('3 PD pods, 2 of them scheduled', async () => {
    const items = JSON.parse(await kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/instance=zoned,app.kubernetes.io/component=pd', '-o', 'json'])).items as Pod[];
    return items.length === 3 && items.filter((p) => p.spec.nodeName).length >= 2 ? items : null;
  }, 120_000);
  t.same(list.map((p) => p.metadata.annotations?.['tidb-steward.dev/topology-keys']), [ZONE, ZONE, ZONE], 'the controller wrote the keys on every PD pod');
  const placed = list.filter((p) => p.spec.nodeName).map((p) => zoneOf[p.spec.nodeName!]).sort();
  t.same(placed, ['zone-a', 'zone-b'], `one per zone: ${JSON.stringify(list.map((p) => [p.metadata.name, p.spec.nodeName ?? null]))}`);
  const pending = list.find((p) => !p.spec.nodeName);
  if (!t.ok(pending, 'the third PD pod stays Pending') || !pending) return;
  const reason = /topology\.kubernetes\.io\/zone=zone-[ab] \(node node-[a-d]\) already holds 1 of 3 PD members of cluster e2e-tctopo\/zoned \(at most 1 per topology\.kubernetes\.io\/zone\)/;
  const events = await until(`a FailedScheduling event for ${pending.metadata.name} with the zone reason`, async () => {
    const out = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${pending.metadata.name},reason=FailedScheduling`, '-o', 'jsonpath={.items[*].message}']);
    return reason.test(out) ? out : null;
  }, 60_000);
  t.match(events, reason);
  // The controller explains the Pending member on the TidbCluster in the same words.
  const told = await until('a PodPending Event on the TidbCluster naming the PD rule', async () => {
    const out = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=zoned,reason=PodPending', '-o', 'jsonpath={.items[*].message}']);
    return /the PD placement rule keeps it off every node/.test(out) && reason.test(out) ? out : null;
  }, 60_000);
  t.match(told, /add a node in another failure domain/);
  await new Promise((r) => setTimeout(r, 3000));
  const after = JSON.parse(await kubectlOk(['get', 'pod', '-n', NS, pending.metadata.name, '-o', 'json'])) as Pod;
  t.notOk(after.spec.nodeName, 'still Pending 3 s later');
});
