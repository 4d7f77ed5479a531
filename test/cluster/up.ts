// npm run cluster:up — the local control plane on 127.0.0.1 (see controlplane.ts).
import { KUBECONFIG, up } from './controlplane.ts';
import { RECIPES } from './binaries.ts';
import { binaryPath } from './paths.ts';
import { say } from './procs.ts';

try {
  const { reused, seconds } = await up({ ...(process.env.STEWARD_TOPOLOGY_KEYS ? { topologyKeys: process.env.STEWARD_TOPOLOGY_KEYS } : {}) });
  say(`${reused ? 'reused' : 'started'} in ${seconds.toFixed(1)}s`);
  say(`kubeconfig: ${KUBECONFIG}`);
  say(`try: ${binaryPath(RECIPES.kubectl!)} --kubeconfig ${KUBECONFIG} get nodes -L topology.kubernetes.io/zone`);
  say('  or: .cluster/kubectl get pods -A -o wide');
  say('logs: .cluster/logs/; stop everything with: npm run cluster:down');
} catch (err) {
  process.stderr.write(`[cluster] ${(err as Error).message}\n[cluster] stopping what was started; logs stay in .cluster/logs/\n`);
  const { down } = await import('./controlplane.ts');
  await down({ quiet: true, keepLogs: true }).catch(() => undefined);
  process.exit(1);
}
