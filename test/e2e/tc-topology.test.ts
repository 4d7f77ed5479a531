// A TidbCluster's own PD topology keys, end to end: spec.pd.topologyKeys [zone] → the controller's PD
// pods carry the annotation → tidb-scheduler's extender spreads them by zone, while tidb-steward's
// configured key is hostname. The PD pods are lured to zone-a (spec.pd.affinity, weight 100), so
// kube-scheduler's own scoring and the hostname rule would both put two of the three there.
// Then PD 3 → 5 over 3 zones (issue 14, finding 8): the controller adds one member at a time, and the
// 4th member, whose interim count allows 1 per zone, is placed within the limit of 5 (2 per zone).
import t from 'tap';
import { KUBECONFIG } from '../cluster/controlplane.ts';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectlOk, kubectlWatch, namespace, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { dropReleasedVolumes, ensureVolumes, installCrd, isReady, patchTc, stsReplicas, tidbCluster } from './tc-helpers.ts';

t.setTimeout(600_000);
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
  // 3 PD + 1 TiKV of "zoned", 5 PD + 1 TiKV of "spread".
  await ensureVolumes(10, '1Gi', `e2e-tctopo-${Date.now().toString(36)}`);
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

t.test('PD 3 → 5 over 3 zones with topologyKeys [zone]: the 4th member is placed, and all 5 run at most 2 per zone', async (t) => {
  // 6 nodes, 2 per zone; PD members join the stand-in PD as their pods run, so the controller's
  // one-at-a-time scale-out can go on (the same stand-in as the controller's e2e).
  const nodes = defaultNodes(6, 3); // node-a, node-d: zone-a; node-b, node-e: zone-b; node-c, node-f: zone-c
  const zone = Object.fromEntries(nodes.map((n) => [n.name, n.zone]));
  await setNodes(nodes);
  const fleet = new PdFleet();
  await fleet.start();
  t.teardown(() => fleet.stop());
  await restartSteward({ STEWARD_TOPOLOGY_KEYS: HOST, STEWARD_PENDING_GRACE_SECONDS: '5', STEWARD_PD_TIMEOUT_MS: '1000', STEWARD_PD_ENDPOINTS: fleet.stewardEndpoints([[NS, 'spread']]) });
  await fleet.follow(KUBECONFIG);
  await kubectlOk(['apply', '-f', '-'], tidbCluster(NS, 'spread', { pd: { replicas: 3, topologyKeys: [ZONE] }, tikv: { replicas: 1 }, tidb: { replicas: 0 } }));
  await until('spread Ready with 3 PD members', () => isReady(NS, 'spread'), 180_000, 500);

  // Every PD pod event, from the watch: the members per zone after each one (not polled in between).
  const where = new Map<string, string>();
  const worst: Array<{ pod: string; perZone: Record<string, number> }> = [];
  const selector = 'app.kubernetes.io/instance=spread,app.kubernetes.io/component=pd';
  const watch = kubectlWatch(['get', 'pods', '-n', NS, '-l', selector, '-w', '--output-watch-events', '-o', 'jsonpath={.type}|{.object.metadata.name}|{.object.spec.nodeName}{"\\n"}'], (line) => {
    const [type, pod = '', node = ''] = line.split('|');
    if (type === 'DELETED' || !node) where.delete(pod);
    else where.set(pod, node);
    const perZone: Record<string, number> = {};
    for (const n of where.values()) perZone[zone[n]!] = (perZone[zone[n]!] ?? 0) + 1;
    worst.push({ pod, perZone });
  });
  t.teardown(() => watch.stop());
  const replicasSeen = new Set<number>();
  const started = Date.now();
  await patchTc(NS, 'spread', { spec: { pd: { replicas: 5 } } });
  const pods = await until('5 PD pods Running', async () => {
    replicasSeen.add((await stsReplicas(NS, 'spread-pd')) ?? 0);
    const items = JSON.parse(await kubectlOk(['get', 'pods', '-n', NS, '-l', selector, '-o', 'json'])).items as Array<Pod & { status: { phase: string } }>;
    return items.length === 5 && items.every((p) => p.status.phase === 'Running') ? items : null;
  }, 240_000, 500);
  await until('spread Ready with 5 PD members', () => isReady(NS, 'spread'), 120_000, 500);
  t.comment(`PD 3 → 5 over 3 zones took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.ok(replicasSeen.has(4), `the StatefulSet went through 4 replicas (seen ${[...replicasSeen].sort().join(',')})`);
  const target = await kubectlOk(['get', 'statefulset', '-n', NS, 'spread-pd', '-o', 'jsonpath={.metadata.annotations.tidb-steward\\.dev/pd-target-replicas}']);
  t.equal(target, '5', 'the controller wrote the target on the StatefulSet');
  const perZone: Record<string, number> = {};
  for (const p of pods) perZone[zone[p.spec.nodeName!]!] = (perZone[zone[p.spec.nodeName!]!] ?? 0) + 1;
  t.same(Object.values(perZone).sort(), [1, 2, 2], `5 members over 3 zones, at most 2 per zone: ${JSON.stringify(pods.map((p) => [p.metadata.name, p.spec.nodeName]))}`);
  await watch.stop();
  const most = Math.max(...worst.map((w) => Math.max(0, ...Object.values(w.perZone))));
  t.ok(worst.length >= 5, `${worst.length} pod events watched`);
  t.ok(most <= 2, `no zone ever held more than 2 PD members (at most ${most} over ${worst.length} watched events)`);
  // The extender's own word on the pod it placed within the limit of 5 (the controller's Event and
  // condition come from interimPlacementNote, wired in the controller).
  const told = await until('a PlacedForScaleOut Event on the 4th member', async () => {
    const out = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'reason=PlacedForScaleOut', '-o', 'jsonpath={.items[*].message}']);
    return out.trim() ? out : null;
  }, 30_000);
  t.match(told, /tolerates no loss of a failure domain until its next member joins/);

  // PD separates a region's replicas by zone only if it has location-labels and every store carries
  // them: the controller set both from the nodes' labels.
  const model = fleet.model(NS, 'spread');
  const tikv = JSON.parse(await kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/instance=spread,app.kubernetes.io/component=tikv', '-o', 'json'])).items as Pod[];
  const nodeOf = new Map(tikv.map((p) => [p.metadata.name, p.spec.nodeName!]));
  await until('every Up store labelled with its zone and host in PD', async () => {
    const up = model.stores.filter((s) => s.state === 'Up');
    return up.length > 0 && up.every((s) => s.labels?.zone && s.labels?.host) ? up : null;
  }, 60_000);
  t.same(model.locationLabels, ['zone', 'host'], "PD's location-labels");
  for (const s of model.stores.filter((x) => x.state === 'Up')) {
    const node = nodeOf.get(s.pod)!;
    t.same(s.labels, { zone: zone[node], host: node }, `store ${s.id} of ${s.pod} carries the labels of ${node}`);
  }
});
