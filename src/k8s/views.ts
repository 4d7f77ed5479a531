// Wire objects (typed list items or raw watch JSON: same field names) → the narrow views the caches
// keep. Anything that is not a TiDB PD/TiKV object maps to null and is not kept.
import { ANNOTATION_PD_TARGET_REPLICAS, ANNOTATION_TOPOLOGY_KEYS, parseTargetReplicas, parseTopologyKeys } from '../domain/placement.ts';
import { objectKey, skipDrainCheckOf, tidbIdentity, type ClaimView, type NodeView, type PodView, type StatefulSetView, type Taint, type VolumeView } from '../domain/model.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = any;

export interface Keyed<T> {
  key: string;
  value: T | null;
}

export function podView(obj: Wire): Keyed<PodView> {
  const meta = obj?.metadata ?? {};
  const namespace: string = meta.namespace ?? '';
  const name: string = meta.name ?? '';
  const key = objectKey(namespace, name);
  const identity = tidbIdentity(namespace, meta.labels);
  if (!identity) return { key, value: null };
  const phase = obj?.status?.phase;
  const owner = statefulSetOwner(meta.ownerReferences);
  const skip = skipDrainCheckOf(meta.annotations);
  const keys = identity.component === 'pd' ? parseTopologyKeys(meta.annotations?.[ANNOTATION_TOPOLOGY_KEYS]) : null;
  return {
    key,
    value: {
      uid: meta.uid ?? '',
      namespace,
      name,
      cluster: identity.cluster,
      component: identity.component,
      nodeName: obj?.spec?.nodeName || null,
      terminal: phase === 'Succeeded' || phase === 'Failed',
      deleting: Boolean(meta.deletionTimestamp),
      owner: owner?.name ?? null,
      ...(owner?.advanced ? { ownerAdvanced: true } : {}),
      running: phase === 'Running',
      ready: (obj?.status?.conditions ?? []).some((c: Wire) => c?.type === 'Ready' && c?.status === 'True'),
      skipDrainCheck: skip !== null,
      ...(skip === 'legacy' ? { skipDrainCheckLegacy: true } : {}),
      ...(keys ? { topologyKeys: keys } : {}),
    },
  };
}

/** The failure-domain key PingCAP's tidb-scheduler reads from a pingcap.com TidbCluster. */
export const PINGCAP_HA_TOPOLOGY_KEY = 'pingcap.com/ha-topology-key';

/** A PingCAP TidbCluster, kept only when it names its PD failure-domain key. */
export function pingcapClusterView(obj: Wire): Keyed<{ topologyKeys: string[] }> {
  const meta = obj?.metadata ?? {};
  const key = objectKey(meta.namespace ?? '', meta.name ?? '');
  const keys = parseTopologyKeys(meta.annotations?.[PINGCAP_HA_TOPOLOGY_KEY]);
  return { key, value: keys && keys.length ? { topologyKeys: [...keys] } : null };
}

/** API group of tidb-operator's Advanced StatefulSet. */
export const ADVANCED_STS_GROUP = 'apps.pingcap.com';

/** The controlling StatefulSet from ownerReferences: apps/v1 or tidb-operator's Advanced StatefulSet. */
export function statefulSetOwner(refs: unknown): { name: string; advanced: boolean } | null {
  if (!Array.isArray(refs)) return null;
  for (const o of refs as Wire[]) {
    if (o?.kind !== 'StatefulSet' || o?.controller === false || typeof o?.name !== 'string') continue;
    const group = typeof o.apiVersion === 'string' && o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
    if (group === ADVANCED_STS_GROUP) return { name: o.name, advanced: true };
    if (group === 'apps' || group === '') return { name: o.name, advanced: false };
  }
  return null;
}

function taintsOf(spec: Wire): Taint[] {
  const out: Taint[] = [];
  for (const t of Array.isArray(spec?.taints) ? spec.taints : []) {
    if ((t?.effect === 'NoSchedule' || t?.effect === 'NoExecute') && typeof t.key === 'string') {
      out.push({ key: t.key, effect: t.effect, ...(typeof t.value === 'string' ? { value: t.value } : {}) });
    }
  }
  return out;
}

/** Taints that say a node is being drained, as autoscalers and node-pool upgrades set them. */
export const DEFAULT_DRAIN_TAINTS: readonly string[] = ['karpenter.sh/disrupted', 'ToBeDeletedByClusterAutoscaler', 'node.kubernetes.io/unschedulable'];

/**
 * Every label is kept, not only the configured topology keys: a TidbCluster may spread its PD members
 * over keys of its own (spec.pd.topologyKeys), and the node cache must answer for those too.
 */
export function nodeViewFor(drainTaints: readonly string[] = DEFAULT_DRAIN_TAINTS) {
  const drainSet = new Set(drainTaints);
  return (obj: Wire): Keyed<NodeView> => {
    const meta = obj?.metadata ?? {};
    const all = meta.labels ?? {};
    const labels: Record<string, string> = {};
    if (all && typeof all === 'object') for (const k of Object.keys(all)) if (typeof all[k] === 'string') labels[k] = all[k];
    const taints = taintsOf(obj?.spec);
    const draining = Boolean(obj?.spec?.unschedulable) || (Array.isArray(obj?.spec?.taints) ? obj.spec.taints : []).some((t: Wire) => drainSet.has(t?.key));
    return { key: meta.name ?? '', value: { name: meta.name ?? '', labels, unschedulable: Boolean(obj?.spec?.unschedulable), draining, ...(taints.length ? { taints } : {}) } };
  };
}

/**
 * StatefulSets (apps/v1 or Advanced) whose pods are TiDB PD/TiKV pods: recognised by the labels of the
 * pod template, whatever labels the StatefulSet itself carries (or by its own, for older objects).
 */
export function statefulSetView(obj: Wire): Keyed<StatefulSetView> {
  const meta = obj?.metadata ?? {};
  const namespace: string = meta.namespace ?? '';
  const key = objectKey(namespace, meta.name ?? '');
  if (!tidbIdentity(namespace, obj?.spec?.template?.metadata?.labels) && !tidbIdentity(namespace, meta.labels)) return { key, value: null };
  const replicas = obj?.spec?.replicas;
  const target = parseTargetReplicas(meta.annotations?.[ANNOTATION_PD_TARGET_REPLICAS]);
  // The API defaults replicas to 1; a missing field in a partial object still means 1.
  return { key, value: { namespace, name: meta.name, replicas: typeof replicas === 'number' ? replicas : 1, ...(target !== null ? { targetReplicas: target } : {}) } };
}

/** Bound claims only: an unbound claim pins nothing yet. */
export function claimView(obj: Wire): Keyed<ClaimView> {
  const meta = obj?.metadata ?? {};
  const namespace: string = meta.namespace ?? '';
  const key = objectKey(namespace, meta.name ?? '');
  const volumeName = obj?.spec?.volumeName;
  if (typeof volumeName !== 'string' || volumeName === '') return { key, value: null };
  return { key, value: { namespace, name: meta.name, volumeName } };
}

const HOSTNAME = 'kubernetes.io/hostname';

/**
 * Volumes whose required node affinity names the nodes they live on (local PersistentVolumes): every
 * term must restrict kubernetes.io/hostname (or metadata.name) with In; anything else pins nothing.
 */
export function volumeView(obj: Wire): Keyed<VolumeView> {
  const name: string = obj?.metadata?.name ?? '';
  const terms = obj?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return { key: name, value: null };
  const nodes = new Set<string>();
  for (const term of terms as Wire[]) {
    const exprs = [...(Array.isArray(term?.matchExpressions) ? term.matchExpressions : []), ...(Array.isArray(term?.matchFields) ? term.matchFields : [])];
    const pin = exprs.find((e: Wire) => (e?.key === HOSTNAME || e?.key === 'metadata.name') && e?.operator === 'In' && Array.isArray(e?.values));
    if (!pin) return { key: name, value: null };
    for (const v of pin.values) if (typeof v === 'string') nodes.add(v);
  }
  return { key: name, value: { name, nodes: [...nodes] } };
}
