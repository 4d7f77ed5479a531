// Brings the local control plane up once per test file (reusing a running one) with the given nodes.
import { defaultNodes, restartSteward, setNodes, up, type NodeSpec } from '../cluster/controlplane.ts';

export async function ensureUp(opts: { nodes?: NodeSpec[]; topologyKeys?: string } = {}): Promise<void> {
  // bindVerb 'bind' also restarts tidb-scheduler if its config differs (TIDB_SCHEDULER_DROP_VERBS).
  await up({ nodes: opts.nodes ?? defaultNodes(3), bindVerb: 'bind' });
  if (opts.nodes) await setNodes(opts.nodes);
  if (opts.topologyKeys) await restartSteward({ STEWARD_TOPOLOGY_KEYS: opts.topologyKeys });
}

export { defaultNodes, restartSteward, setNodes };
