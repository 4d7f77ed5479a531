// Narrow views of the Kubernetes objects the policy needs. Caches keep only these, so 150k pods
// fit in a few tens of megabytes and every decision is a pure function of plain data.

export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
/** Clusters made by this service and by PingCAP's tidb-operator are both served. */
export const MANAGERS: ReadonlySet<string> = new Set(['tidb-steward', 'tidb-operator']);

export type Component = 'pd' | 'tikv';
export const COMPONENTS: readonly Component[] = ['pd', 'tikv'];

/** The TiDB identity of a pod, or null for every pod this service does not guard. */
export interface TidbIdentity {
  namespace: string;
  cluster: string;
  component: Component;
}

export interface PodView {
  uid: string;
  namespace: string;
  name: string;
  cluster: string;
  component: Component;
  /** Node the pod is bound to, or null while Pending. */
  nodeName: string | null;
  /** Phase Succeeded or Failed: it no longer holds a member. */
  terminal: boolean;
  /** deletionTimestamp is set. */
  deleting: boolean;
  /** Name of the owning StatefulSet, if any. */
  owner: string | null;
  /** Phase Running. */
  running: boolean;
  /** Carries the emergency escape-hatch annotation: removals are allowed without checks. */
  skipDrainCheck: boolean;
}

/** Emergency escape hatch: a pod with this annotation set to "true" may be removed without checks. */
export const ANNOTATION_SKIP_DRAIN_CHECK = 'tidb-steward.pingcap.com/skip-drain-check';

export interface NodeView {
  name: string;
  /** Only the labels named by the configured topology keys are kept. */
  labels: Readonly<Record<string, string>>;
  unschedulable: boolean;
}

export interface StatefulSetView {
  namespace: string;
  name: string;
  replicas: number;
}

export type Labels = Readonly<Record<string, string>> | undefined | null;

/** Reads the TiDB identity from labels; null when the pod is not a PD or TiKV pod of a TiDB cluster. */
export function tidbIdentity(namespace: string, labels: Labels): TidbIdentity | null {
  if (!labels) return null;
  const component = labels[LABEL_COMPONENT];
  if (component !== 'pd' && component !== 'tikv') return null;
  const cluster = labels[LABEL_INSTANCE];
  if (!cluster) return null;
  const manager = labels[LABEL_MANAGED_BY];
  if (manager === undefined || !MANAGERS.has(manager)) return null;
  return { namespace, cluster, component };
}

export function clusterKey(namespace: string, cluster: string): string {
  return `${namespace}/${cluster}`;
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Label selector matching every pod or StatefulSet that tidbIdentity accepts (server-side filter). */
export const TIDB_SELECTOR =
  `${LABEL_COMPONENT} in (pd,tikv),${LABEL_MANAGED_BY} in (tidb-steward,tidb-operator),${LABEL_INSTANCE}`;
