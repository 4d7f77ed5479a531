// The CLI's commands over the service's own adapters: the kubeconfig's API server through src/k8s,
// PD through src/pd (the same registry, endpoints and TLS Secret as the service), the same authority
// and the same plan as the webhooks. Reads only: the ledger given to the authority refuses writes.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Config } from '../config.ts';
import { describeStep } from '../domain/drain-plan.ts';
import { objectKey } from '../domain/model.ts';
import { clientsOf, makeClients, type KubeClients } from '../k8s/client.ts';
import { kubeLedger, type LedgerPort } from '../k8s/disruptions.ts';
import { listNodeViews, listTidbClusters, listTidbPods, readNodeView, ReadError } from '../k8s/reads.ts';
import { kubeTeardown, readPdTlsSecret } from '../k8s/teardown.ts';
import { PdAccess } from '../pd/facts.ts';
import { pdEndpointsFor } from '../pd/client.ts';
import { PdRegistry } from '../pd/registry.ts';
import { DisruptionAuthority } from '../services/authority.ts';
import { previewRemoval } from '../services/drain.ts';
import { NodeStore, PodStore } from '../state/stores.ts';
import { clusterGlance, type ClusterGlance, type NodePlan, type PodPlanRow } from './render.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL } from '../cluster/schema.ts';

/** Something the CLI cannot do, said so that a person knows what to fix. */
export class CliError extends Error {}

/** The kubeconfig to use: --kubeconfig or $KUBECONFIG (first existing entry), ~/.kube/config, or in-cluster. */
export function kubeconfigPath(given: string | undefined, env: Readonly<Record<string, string | undefined>>, home = homedir(), exists: (path: string) => boolean = existsSync): string | 'in-cluster' {
  if (given) {
    const entries = given.split(':').filter(Boolean);
    const found = entries.find((p) => exists(p));
    if (!found) throw new CliError(`kubeconfig ${entries.join(':')} does not exist: pass --kubeconfig PATH or set KUBECONFIG to a readable kubeconfig`);
    return found;
  }
  const fallback = join(home, '.kube', 'config');
  if (exists(fallback)) return fallback;
  if (env.KUBERNETES_SERVICE_HOST) return 'in-cluster';
  throw new CliError(`no kubeconfig: ${fallback} does not exist and KUBECONFIG is not set; pass --kubeconfig PATH (or run inside the cluster)`);
}

export interface Session {
  clients: KubeClients;
  server: string;
  timeoutMs: number;
  config: Config;
}

export function openSession(config: Config, env: Readonly<Record<string, string | undefined>>): Session {
  const path = kubeconfigPath(config.kubeconfig, env);
  let clients: KubeClients;
  try {
    if (path === 'in-cluster') {
      const kc = new KubeConfig();
      kc.loadFromCluster();
      clients = clientsOf(kc);
    } else clients = makeClients(path, env);
  } catch (err) {
    throw new CliError(`cannot load kubeconfig ${path}: ${(err as Error).message}`);
  }
  const server = clients.kc.getCurrentCluster()?.server;
  if (!server) throw new CliError(`kubeconfig ${path} names no cluster for its current context (${clients.kc.getCurrentContext() || 'none'})`);
  // The service's 1 s Kubernetes deadline is for the admission path; a person can wait longer.
  return { clients, server, timeoutMs: Math.max(config.kubeTimeoutMs, 10_000), config };
}

/** A ReadError with the API server named: the first read is where an unreachable cluster shows. */
async function kube<T>(s: Session, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ReadError) throw new CliError(`${err.message} (API server ${s.server}: is the cluster running, and is this the kubeconfig and context you meant?)`);
    throw err;
  }
}

/** The authority over one-shot caches and a ledger that refuses writes: it can judge, never record. */
function readOnlyAuthority(s: Session, pods: PodStore, nodes: NodeStore): { authority: DisruptionAuthority; endpoints: (ns: string, cluster: string) => readonly string[] } {
  const { config, clients } = s;
  const registry = new PdRegistry({
    overrides: config.pdEndpoints,
    timeoutMs: config.pdTimeoutMs,
    memberTimeoutMs: config.pdMemberTimeoutMs,
    tlsFor: (namespace, cluster) => readPdTlsSecret(clients, namespace, config.pdTlsSecret.replaceAll('{cluster}', cluster), s.timeoutMs),
    now: Date.now,
  });
  // One PD read per cluster serves every pod of the plan.
  const pd = new PdAccess({ client: (namespace, cluster) => registry.get(namespace, cluster), ttlMs: 60_000, now: Date.now });
  const ledger = kubeLedger(clients, s.timeoutMs);
  const readOnly: Pick<LedgerPort, 'read' | 'write'> = {
    read: (namespace, cluster) => ledger.read(namespace, cluster),
    write: () => Promise.reject(new Error('tidb-steward drain-plan never writes the DisruptionLedger')),
  };
  const authority = new DisruptionAuthority({ pods, nodes, pd, ledger: readOnly, now: Date.now, logger: pino({ level: 'silent' }) });
  return { authority, endpoints: (ns, cluster) => pdEndpointsFor(ns, cluster, config.pdEndpoints) };
}

/** What draining `node` would do now, pod by pod. */
export async function nodePlan(s: Session, node: string): Promise<NodePlan> {
  const { clients, config, timeoutMs } = s;
  const view = await kube(s, () => readNodeView(clients, node, config.drainTaints, timeoutMs));
  if (!view) throw new CliError(`node ${node} does not exist in the cluster at ${s.server} (kubectl get nodes lists them)`);
  const onNode = await kube(s, () => listTidbPods(clients, { nodeName: node }, timeoutMs));
  const clusters = new Map<string, { namespace: string; cluster: string }>();
  for (const p of onNode.guarded) clusters.set(objectKey(p.namespace, p.cluster), { namespace: p.namespace, cluster: p.cluster });
  const pods = new PodStore();
  const nodes = new NodeStore(config.topologyKeys);
  if (clusters.size) {
    const namespaces = [...new Set([...clusters.values()].map((c) => c.namespace))];
    const [all, lists] = await Promise.all([kube(s, () => listNodeViews(clients, config.drainTaints, timeoutMs)), Promise.all(namespaces.map((namespace) => kube(s, () => listTidbPods(clients, { namespace }, timeoutMs))))]);
    // kubectl drain cordons the node before it evicts: judge the pods as the webhook will see them then.
    for (const n of all) nodes.upsert(n.name, n.name === node ? { ...n, unschedulable: true, draining: true } : n);
    for (const list of lists) for (const p of list.guarded) pods.upsert(objectKey(p.namespace, p.name), p);
  }
  const { authority, endpoints } = readOnlyAuthority(s, pods, nodes);
  const teardown = kubeTeardown(clients, timeoutMs);
  const rows: PodPlanRow[] = [];
  const unreachable = new Set<string>();
  for (const p of [...onNode.guarded].sort(byName)) {
    if (p.terminal) continue;
    const row = { namespace: p.namespace, pod: p.name, cluster: p.cluster, component: p.component };
    try {
      const plan = await previewRemoval({ authority, pods, nodes, teardown, evictTimeoutMs: config.evictLeaderTimeoutSeconds * 1000, now: Date.now }, p, 'eviction');
      if (/^cannot check it with PD/.test(plan.reason)) unreachable.add(objectKey(p.namespace, p.cluster));
      rows.push({ ...row, allowed: plan.allowed, reason: plan.reason, steps: plan.steps.map(describeStep), warnings: plan.warnings, leaving: plan.leaving });
    } catch (err) {
      rows.push({ ...row, allowed: false, reason: `cannot check it: ${(err as Error).message}`, steps: [], warnings: [], leaving: [] });
    }
  }
  for (const p of [...onNode.servers].sort(byName)) {
    if (p.terminal) continue;
    rows.push({ namespace: p.namespace, pod: p.name, cluster: p.cluster, component: 'tidb', allowed: true, reason: 'TiDB servers hold no quorum or data; their removal is not gated', steps: [], warnings: [], leaving: [] });
  }
  const hints = [...unreachable].map((key) => {
    const [ns, cluster] = key.split('/') as [string, string];
    return `PD of ${key} was asked at ${endpoints(ns, cluster).join(', ')} and each member at its client URL; from outside the cluster, run this inside the tidb-steward pod (kubectl -n tidb-steward exec deploy/tidb-steward -- node src/cli/main.ts drain-plan ${node}) or pass --pd-endpoints '{"${key}":["http://..."]}' where PD and its members can be reached`;
  });
  return { node, draining: view.draining ?? view.unschedulable, pods: rows, hints };
}

const byName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) => objectKey(a.namespace, a.name).localeCompare(objectKey(b.namespace, b.name));

/** Every TidbCluster at a glance, PD read now where it can be. */
export async function status(s: Session): Promise<ClusterGlance[]> {
  const { clients, timeoutMs } = s;
  const clusters = await kube(s, () => listTidbClusters(clients, timeoutMs));
  if (!clusters) throw new CliError(`the TidbCluster CRD (${PLURAL}.${GROUP}) is not installed in the cluster at ${s.server}: there is no TidbCluster to show (kubectl apply -k manifests/ installs it)`);
  const { authority } = readOnlyAuthority(s, new PodStore(), new NodeStore(s.config.topologyKeys));
  const ledger = kubeLedger(clients, timeoutMs);
  return Promise.all(
    clusters.map(async (tc) => {
      const { namespace, name } = tc.metadata;
      const [facts, leaving] = await Promise.all([
        authority.pd.facts(namespace, name).catch((err: Error) => ({ members: null, leader: null, stores: null, unknown: { members: err.message } })),
        ledger.read(namespace, name).then((v) => v.ledger.leaving, () => []),
      ]);
      const pdUnknown = facts.members ? null : (facts.unknown.members ?? 'no answer');
      return clusterGlance(
        tc,
        {
          members: facts.members?.map((m) => ({ name: m.name, healthy: m.healthy })) ?? null,
          leader: facts.leader,
          stores: facts.stores?.map((st) => ({ state: st.store.state_name })) ?? null,
          unknown: pdUnknown,
        },
        leaving,
      );
    }),
  );
}
