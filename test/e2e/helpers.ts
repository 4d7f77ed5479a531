// Shared by the e2e suites: the local control plane (reused if running), TiDB-labelled StatefulSets,
// and polling helpers. Each test works in a namespace of its own.
import { ensureUp } from './cluster.ts';
import { kubectl, kubectlOk, kubectlWatch } from '../cluster/controlplane.ts';
import { sleep } from '../cluster/procs.ts';

export { kubectl, kubectlOk, kubectlWatch, sleep };

export const TIDB_LABELS = (cluster: string, component: 'pd' | 'tikv') => ({
  'app.kubernetes.io/component': component,
  'app.kubernetes.io/instance': cluster,
  'app.kubernetes.io/managed-by': 'tidb-steward',
});

/**
 * A lure for kube-scheduler's own scoring: prefer nodes whose label `key` is `value` (node affinity,
 * weight 100) and the domains (by `key`) that already hold pods of the same component (pod affinity,
 * weight 100). Left to itself the scheduler then piles the pods into one domain, so a placement test
 * with a lure passes only if the extender's rule overrides it.
 */
export interface Lure {
  key: string;
  value: string;
}

function lureAffinity(lure: Lure, selector: Record<string, string>) {
  return {
    nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: lure.key, operator: 'In', values: [lure.value] }] } }] },
    podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: lure.key, labelSelector: { matchLabels: selector } } }] },
  };
}

export function statefulSet(opts: { namespace: string; cluster: string; component: 'pd' | 'tikv'; replicas: number; parallel?: boolean; scheduler?: string; lure?: Lure; annotations?: Record<string, string> }) {
  const labels = TIDB_LABELS(opts.cluster, opts.component);
  const selector = { 'app.kubernetes.io/component': opts.component, 'app.kubernetes.io/instance': opts.cluster };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: `${opts.cluster}-${opts.component}`, namespace: opts.namespace, labels },
    spec: {
      replicas: opts.replicas,
      serviceName: `${opts.cluster}-${opts.component}-peer`,
      podManagementPolicy: opts.parallel ? 'Parallel' : 'OrderedReady',
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: {
          schedulerName: opts.scheduler ?? 'tidb-scheduler',
          terminationGracePeriodSeconds: 1,
          ...(opts.lure ? { affinity: lureAffinity(opts.lure, selector) } : {}),
          containers: [{ name: opts.component, image: `pingcap/${opts.component}:v8.5.4` }],
        },
      },
    },
  });
}

export async function namespace(name: string): Promise<() => Promise<void>> {
  // A namespace left by an interrupted run may hold pods bound to nodes that are gone, which only the
  // pod garbage collector removes (after ~40 s): force them out so that each test starts empty.
  await kubectl(['delete', 'pods', '--all', '-n', name, '--force', '--grace-period=0', '--wait=false']);
  await kubectl(['delete', 'namespace', name, '--wait=false']);
  await until(`namespace ${name} from an earlier run to be gone`, async () => (await kubectl(['get', 'namespace', name])).code !== 0, 180_000);
  await kubectlOk(['create', 'namespace', name]);
  return async () => {
    await kubectl(['delete', 'namespace', name, '--wait=false']);
  };
}

export interface PodInfo {
  name: string;
  node: string | null;
  phase: string;
}

export async function pods(ns: string, selector?: string): Promise<PodInfo[]> {
  const out = await kubectlOk(['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'json']);
  return (JSON.parse(out).items as Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase: string } }>).map((p) => ({ name: p.metadata.name, node: p.spec.nodeName ?? null, phase: p.status.phase }));
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export function perNode(list: PodInfo[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of list) if (p.node) out[p.node] = (out[p.node] ?? 0) + 1;
  return out;
}

export { ensureUp };
