// One-shot reads for the tidb-steward CLI (drain-plan, status): the same narrow views the service's
// caches keep, read once with a deadline instead of watched. Nothing here writes.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../cluster/schema.ts';
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGERS, TIDB_SELECTOR, type NodeView, type PodView } from '../domain/model.ts';
import { apiMessage, apiStatus, type KubeClients } from './client.ts';
import { deadline } from './deadline.ts';
import { tidbClusterView, type RawTidbCluster } from './tidbclusters.ts';
import { nodeViewFor, podView } from './views.ts';

/** A TiDB server pod: never gated, listed so that a plan covers every pod of the cluster on the node. */
export interface TidbServerPod {
  namespace: string;
  name: string;
  cluster: string;
  uid: string;
  running: boolean;
  terminal: boolean;
  deleting: boolean;
}

/** A read failed: says what could not be read and why, for a person. */
export class ReadError extends Error {}

async function read<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = err as Error;
    if (e?.name === 'AbortError' || e?.name === 'TimeoutError') throw new ReadError(`cannot read ${what}: the API server did not answer in time`);
    if (apiStatus(err) === 403) throw new ReadError(`cannot read ${what}: ${apiMessage(err)}; the kubeconfig's user needs get/list on it`);
    // A transport failure (no API server there) says why only in its cause.
    const cause = apiStatus(err) === undefined ? (e as { cause?: { message?: string } })?.cause?.message : undefined;
    throw new ReadError(`cannot read ${what}: ${apiMessage(err)}${cause ? `: ${cause}` : ''}`);
  }
}

/** The node, or null when it does not exist. */
export async function readNodeView(clients: KubeClients, name: string, drainTaints: readonly string[], timeoutMs: number): Promise<NodeView | null> {
  try {
    return nodeViewFor(drainTaints)(await clients.core.readNode({ name }, deadline(timeoutMs))).value;
  } catch (err) {
    if (apiStatus(err) === 404) return null;
    return read(`node ${name}`, () => Promise.reject(err));
  }
}

export async function listNodeViews(clients: KubeClients, drainTaints: readonly string[], timeoutMs: number): Promise<NodeView[]> {
  const list = await read('nodes', () => clients.core.listNode({}, deadline(timeoutMs)));
  const view = nodeViewFor(drainTaints);
  return list.items.flatMap((n) => view(n).value ?? []);
}

/** PD and TiKV pods (as the service's pod cache sees them) and TiDB server pods, on one node or in one namespace. */
export async function listTidbPods(clients: KubeClients, where: { nodeName?: string; namespace?: string }, timeoutMs: number): Promise<{ guarded: PodView[]; servers: TidbServerPod[] }> {
  const fieldSelector = where.nodeName ? `spec.nodeName=${where.nodeName}` : undefined;
  const what = where.nodeName ? `the pods on node ${where.nodeName}` : `the pods of namespace ${where.namespace}`;
  const [guarded, servers] = await Promise.all([
    read(what, () =>
      where.namespace
        ? clients.core.listNamespacedPod({ namespace: where.namespace, labelSelector: TIDB_SELECTOR, ...(fieldSelector ? { fieldSelector } : {}) }, deadline(timeoutMs))
        : clients.core.listPodForAllNamespaces({ labelSelector: TIDB_SELECTOR, ...(fieldSelector ? { fieldSelector } : {}) }, deadline(timeoutMs)),
    ),
    read(what, () =>
      where.namespace
        ? clients.core.listNamespacedPod({ namespace: where.namespace, labelSelector: `${LABEL_COMPONENT}=tidb,${LABEL_INSTANCE}`, ...(fieldSelector ? { fieldSelector } : {}) }, deadline(timeoutMs))
        : clients.core.listPodForAllNamespaces({ labelSelector: `${LABEL_COMPONENT}=tidb,${LABEL_INSTANCE}`, ...(fieldSelector ? { fieldSelector } : {}) }, deadline(timeoutMs)),
    ),
  ]);
  return {
    guarded: guarded.items.flatMap((p) => podView(p).value ?? []),
    servers: servers.items.flatMap((p) => {
      const meta = p.metadata ?? {};
      const manager = meta.labels?.[LABEL_MANAGED_BY];
      if (!manager || !MANAGERS.has(manager)) return [];
      const phase = p.status?.phase;
      return [{ namespace: meta.namespace ?? '', name: meta.name ?? '', cluster: meta.labels?.[LABEL_INSTANCE] ?? '', uid: meta.uid ?? '', running: phase === 'Running', terminal: phase === 'Succeeded' || phase === 'Failed', deleting: Boolean(meta.deletionTimestamp) }];
    }),
  };
}

/** Every TidbCluster (tidb-steward.dev), as stored; null when the CRD is not installed. */
export async function listTidbClusters(clients: KubeClients, timeoutMs: number): Promise<RawTidbCluster[] | null> {
  const custom = clients.kc.makeApiClient(CustomObjectsApi);
  const list = (await read(`TidbClusters (${GROUP})`, () =>
    custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }, deadline(timeoutMs)).catch((err: unknown) => {
      if (apiStatus(err) === 404) return null;
      throw err;
    }),
  )) as { items?: unknown[] } | null;
  if (!list) return null;
  return (list.items ?? []).flatMap((o) => tidbClusterView(o).value ?? []).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
}
