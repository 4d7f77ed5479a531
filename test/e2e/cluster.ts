// Brings the local control plane up once per test file (reusing a running one) with the given nodes.
import { defaultNodes, restartSteward, setNodes, up, type NodeSpec } from '../cluster/controlplane.ts';

export async function ensureUp(opts: { nodes?: NodeSpec[]; topologyKeys?: string } = {}): Promise<void> {
  await up({ nodes: opts.nodes ?? defaultNodes(3) });
  if (opts.nodes) await setNodes(opts.nodes);
  if (opts.topologyKeys) await restartSteward({ STEWARD_TOPOLOGY_KEYS: opts.topologyKeys });
}

export { defaultNodes, restartSteward, setNodes };
