// The local control plane itself: nodes from kwok are Ready, the default scheduler and the
// controllers work, and `up` on a running cluster reuses it.
import t from 'tap';
import { defaultNodes, ensureUp, setNodes } from './cluster.ts';
import { kubectlOk, namespace, pods, until } from './helpers.ts';
import { up } from '../cluster/controlplane.ts';

t.setTimeout(300_000);

t.test('nodes Ready, a Deployment runs with the default scheduler, up() twice is safe', async (t) => {
  await ensureUp();
  await setNodes(defaultNodes(3));
  const nodes = JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])).items as Array<{ metadata: { name: string; labels: Record<string, string> }; status: { conditions: Array<{ type: string; status: string }> } }>;
  t.same(nodes.map((n) => n.metadata.name).sort(), ['node-a', 'node-b', 'node-c']);
  for (const n of nodes) {
    t.equal(n.status.conditions.find((c) => c.type === 'Ready')?.status, 'True', `${n.metadata.name} Ready`);
    t.match(n.metadata.labels['topology.kubernetes.io/zone'], /^zone-[abc]$/);
  }
  const cleanup = await namespace('e2e-smoke');
  t.teardown(cleanup);
  await kubectlOk(['create', 'deployment', 'web', '-n', 'e2e-smoke', '--image=nginx', '--replicas=2']);
  const running = await until('2 web pods Running', async () => {
    const list = await pods('e2e-smoke');
    return list.filter((p) => p.phase === 'Running' && p.node).length === 2 ? list : null;
  });
  t.equal(running.length, 2);
  const again = await up();
  t.equal(again.reused, true, 'a second up() reuses the running cluster');
  t.ok(again.seconds < 5, `reused in ${again.seconds.toFixed(1)}s`);
});
