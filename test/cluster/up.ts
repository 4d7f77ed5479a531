// npm run cluster:up [-- --no-steward] [--nodes 5 | --nodes n1:z1,n2:z1,n3:z2] [--topology-keys a,b] [--bind-verb bind|'']
// The local control plane on 127.0.0.1 (see controlplane.ts). Nodes also follow CLUSTER_NODES, the
// topology keys STEWARD_TOPOLOGY_KEYS. A running healthy cluster is reused.
import { parseArgs } from 'node:util';
import { KUBECONFIG, PORTS, nodesFromEnv, setNodes, up } from './controlplane.ts';
import { RECIPES } from './binaries.ts';
import { binaryPath } from './paths.ts';
import { say } from './procs.ts';

const { values } = parseArgs({
  options: {
    'no-steward': { type: 'boolean', default: false },
    nodes: { type: 'string' },
    'topology-keys': { type: 'string' },
    'bind-verb': { type: 'string' },
  },
});

try {
  const topologyKeys = values['topology-keys'] ?? process.env.STEWARD_TOPOLOGY_KEYS;
  const nodeSpec = values.nodes ?? process.env.CLUSTER_NODES;
  const nodes = nodesFromEnv(nodeSpec);
  const { reused, seconds } = await up({
    nodes,
    steward: !values['no-steward'],
    ...(topologyKeys ? { topologyKeys } : {}),
    ...(values['bind-verb'] !== undefined ? { bindVerb: values['bind-verb'] } : {}),
  });
  if (reused && nodeSpec) {
    await setNodes(nodes);
    say(`nodes set to ${nodes.map((n) => `${n.name}(${n.zone})`).join(', ')}`);
  }
  say(`${reused ? 'reused the running cluster' : 'started'} in ${seconds.toFixed(1)}s total`);
  say(`kubeconfig: ${KUBECONFIG}`);
  say(`try: ${binaryPath(RECIPES.kubectl!)} --kubeconfig ${KUBECONFIG} get nodes -L topology.kubernetes.io/zone`);
  say('  or: .cluster/kubectl get pods -A -o wide');
  say(`API server https://127.0.0.1:${PORTS.apiserver}; tidb-steward https://127.0.0.1:${PORTS.steward}${values['no-steward'] ? ' (not started: --no-steward)' : ''}; tidb-scheduler is the schedulerName using its extender`);
  say('logs: .cluster/logs/<component>.log; stop everything with: npm run cluster:down');
} catch (err) {
  process.stderr.write(`[cluster] ${(err as Error).message}\n`);
  process.exit(1);
}
