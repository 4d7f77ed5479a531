// Narrow views of the Kubernetes objects the policy needs. Caches keep only these, so 150k pods
// fit in a few tens of megabytes and every decision is a pure function of plain data.

export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
/** Clusters made by this service and by PingCAP's tidb-operator are both served. */
export const MANAGERS: ReadonlySet<string> = new Set(['tidb-steward', 'tidb-operator']);

export type Component = 'pd' | 'tikv';

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
  /** Name of the owning StatefulSet (apps/v1 or Advanced StatefulSet), if any. */
  owner: string | null;
  /** The owner is tidb-operator's Advanced StatefulSet (apps.pingcap.com), not apps/v1. */
  ownerAdvanced?: boolean;
  /** Phase Running. */
  running: boolean;
  /** Condition Ready is True; absent when not known (treated as Ready while Running). */
  ready?: boolean;
  /** Carries the emergency escape-hatch annotation: removals are allowed without checks. */
  skipDrainCheck: boolean;
  /** The escape hatch was set with the deprecated PingCAP-domain key. */
  skipDrainCheckLegacy?: boolean;
  /** The cluster's own failure-domain keys, from the pod's tidb-steward.dev/topology-keys annotation. */
  topologyKeys?: readonly string[];
}

/** Our own names live under this domain; PingCAP's keys are only read, for compatibility. */
export const DOMAIN = 'tidb-steward.dev';
/** Emergency escape hatch: a pod with this annotation set to "true" may be removed without checks. */
export const ANNOTATION_SKIP_DRAIN_CHECK = `${DOMAIN}/skip-drain-check`;
/** The escape hatch's first name; still honoured, with a deprecation warning. */
export const LEGACY_ANNOTATION_SKIP_DRAIN_CHECK = 'tidb-steward.pingcap.com/skip-drain-check';

/** Which escape-hatch key is set to "true" on these annotations, if any. */
export function skipDrainCheckOf(annotations: Readonly<Record<string, string>> | null | undefined): 'current' | 'legacy' | null {
  if (annotations?.[ANNOTATION_SKIP_DRAIN_CHECK] === 'true') return 'current';
  if (annotations?.[LEGACY_ANNOTATION_SKIP_DRAIN_CHECK] === 'true') return 'legacy';
  return null;
}

export const DEPRECATED_SKIP_WARNING = `the annotation ${LEGACY_ANNOTATION_SKIP_DRAIN_CHECK} is deprecated; use ${ANNOTATION_SKIP_DRAIN_CHECK}=true`;

export interface Taint {
  key: string;
  value?: string | undefined;
  effect: string;
}

export interface Toleration {
  key?: string | undefined;
  operator?: string | undefined;
  value?: string | undefined;
  effect?: string | undefined;
}

/** The NoSchedule/NoExecute taints of a node the pod does not tolerate (the scheduler's own rule). */
export function untoleratedTaints(taints: readonly Taint[], tolerations: readonly Toleration[]): Taint[] {
  return taints.filter(
    (taint) =>
      (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') &&
      !tolerations.some((tol) => {
        if (tol.effect && tol.effect !== taint.effect) return false;
        // Stryker disable next-line StringLiteral: equivalent, any default other than 'Exists' reads the same
        if ((tol.operator ?? 'Equal') === 'Exists') return !tol.key || tol.key === taint.key;
        return tol.key === taint.key && (tol.value ?? '') === (taint.value ?? '');
      }),
  );
}

export interface NodeView {
  name: string;
  /** Every label of the node: a cluster may name its own failure-domain keys (spec.pd.topologyKeys). */
  labels: Readonly<Record<string, string>>;
  /** spec.unschedulable (cordoned). */
  unschedulable: boolean;
  /**
   * Being drained: cordoned or carrying one of the configured drain taints (Karpenter's
   * karpenter.sh/disrupted, cluster-autoscaler's ToBeDeletedByClusterAutoscaler, ...). Absent: the
   * same as unschedulable.
   */
  draining?: boolean;
  /** NoSchedule/NoExecute taints, for bind's toleration check. */
  taints?: readonly Taint[];
}

export interface StatefulSetView {
  namespace: string;
  name: string;
  replicas: number;
  /** PD: the member count the controller is scaling to (its tidb-steward.dev/pd-target-replicas annotation). */
  targetReplicas?: number;
}

/** A bound PersistentVolumeClaim: the volume it is bound to. */
export interface ClaimView {
  namespace: string;
  name: string;
  volumeName: string;
}

/** A PersistentVolume whose node affinity pins it to named nodes (local volumes). */
export interface VolumeView {
  name: string;
  /** Hostnames (kubernetes.io/hostname values or node names) the volume can be used on. */
  nodes: readonly string[];
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
  // Stryker disable next-line ConditionalExpression: equivalent, MANAGERS.has(undefined) is false too (the check is for the type)
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
