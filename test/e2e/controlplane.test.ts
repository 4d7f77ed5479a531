// The local control plane itself: kwok's nodes are Ready with capacity, the default scheduler and the
// controllers run a Deployment, tidb-scheduler places a StatefulSet pod only while its extender
// (tidb-steward) answers, and `up` on a running cluster reuses it.
import t from 'tap';
import { defaultNodes, ensureCluster, up, type Cluster } from '../cluster/controlplane.ts';
import { namespace, pods } from './helpers.ts';

t.setTimeout(300_000);

interface NodeJson {
  metadata: { name: string; labels: Record<string, string> };
  status: { conditions: Array<{ type: string; status: string }>; allocatable?: Record<string, string> };
}

let c: Cluster;
t.before(async () => {
  c = await ensureCluster({ nodes: defaultNodes(3) });
});

t.test('kwok nodes are Ready, labelled, with allocatable cpu, memory and pods', async (t) => {
  const nodes = JSON.parse(await c.kubectlOk(['get', 'nodes', '-o', 'json'])).items as NodeJson[];
  t.same(nodes.map((n) => n.metadata.name).sort(), ['node-a', 'node-b', 'node-c']);
  for (const n of nodes) {
    t.equal(n.status.conditions.find((x) => x.type === 'Ready')?.status, 'True', `${n.metadata.name} Ready`);
    t.equal(n.metadata.labels['kubernetes.io/hostname'], n.metadata.name);
    t.equal(n.metadata.labels['topology.kubernetes.io/zone'], `zone-${n.metadata.name.slice(-1)}`);
    for (const r of ['cpu', 'memory', 'pods']) t.ok(n.status.allocatable?.[r], `${n.metadata.name} allocatable ${r}`);
  }
});

t.test('a Deployment runs with the default scheduler', async (t) => {
  const ns = 'e2e-smoke-deploy';
  t.teardown(await namespace(ns));
  await c.kubectlOk(['create', 'deployment', 'web', '-n', ns, '--image=nginx', '--replicas=2']);
  const running = await c.waitFor('2 web pods Running', async () => {
    const list = await pods(ns);
    return list.filter((p) => p.phase === 'Running' && p.node).length === 2 ? list : null;
  });
  t.equal(running.length, 2);
});

t.test('tidb-scheduler places a StatefulSet pod once tidb-steward answers its extender calls', async (t) => {
  const ns = 'e2e-smoke-sts';
  t.teardown(await namespace(ns));
  // Leave tidb-steward running for the next test file whatever happens here.
  t.teardown(() => c.restartSteward());
  await c.stopSteward();
  await c.apply(
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'smoke', namespace: ns },
      spec: {
        replicas: 1,
        serviceName: 'smoke',
        selector: { matchLabels: { app: 'smoke' } },
        template: { metadata: { labels: { app: 'smoke' } }, spec: { schedulerName: 'tidb-scheduler', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox' }] } },
      },
    }),
  );
  // The extender is not ignorable: without tidb-steward the pod must stay unscheduled.
  await c.waitFor('pod smoke-0 created', async () => (await pods(ns)).length === 1);
  await new Promise((r) => setTimeout(r, 3000));
  t.same((await pods(ns)).map((p) => p.node), [null], 'Pending while the extender is down');

  await c.restartSteward();
  const placed = await c.waitFor(
    'smoke-0 scheduled and Running',
    async () => {
      const list = await pods(ns);
      return list.length === 1 && list[0]!.node && list[0]!.phase === 'Running' ? list[0]! : null;
    },
    60_000,
  );
  t.match(placed.node, /^node-[abc]$/);
  const events = JSON.parse(await c.kubectlOk(['get', 'events', '-n', ns, '--field-selector', 'reason=Scheduled', '-o', 'json'])).items as Array<{ reportingComponent?: string; source?: { component?: string } }>;
  t.ok(
    events.some((e) => (e.reportingComponent || e.source?.component) === 'tidb-scheduler'),
    'the Scheduled event comes from tidb-scheduler',
  );
});

t.test('up() on a running cluster reuses it', async (t) => {
  const again = await up();
  t.equal(again.reused, true);
  t.ok(again.seconds < 5, `reused in ${again.seconds.toFixed(1)}s`);
});
