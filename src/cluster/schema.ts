// The TidbCluster custom resource: the zod schemas the controller validates with, and from which the
// CRD's structural schema is generated (scripts/manifests.ts). Field names follow PingCAP's
// pingcap.com/v1alpha1 TidbCluster where the meaning is the same, so its users feel at home.
import { z } from 'zod';
import { LABEL_KEY } from '../domain/placement.ts';

export const GROUP = 'tidb-steward.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'TidbCluster';
export const PLURAL = 'tidbclusters';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const DEFAULT_VERSION = 'v8.5.4';

// Kubernetes resource.Quantity syntax (apimachinery/pkg/api/resource).
const QUANTITY = /^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
export const Quantity = z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as 500m, 2, 4Gi');

const preserve = { 'x-kubernetes-preserve-unknown-fields': true } as const;

export const Resources = z.strictObject({
  cpu: Quantity.optional(),
  memory: Quantity.optional(),
});
export type Resources = z.infer<typeof Resources>;

/** Requests may also size the data volume, as in PingCAP's operator (`requests.storage`). */
const Requests = Resources.extend({
  storage: Quantity.optional().meta({ description: 'Size of the data volume, as PingCAP\'s operator reads it (same as storageSize).' }),
});

const LabelMap = z.record(z.string(), z.string());
/** A Kubernetes object or list item passed through as written (probes, containers, volumes, ...). */
const Any = z.record(z.string(), z.unknown()).meta(preserve);
const ImagePullPolicy = z.enum(['Always', 'IfNotPresent', 'Never']);
const TiDBVersion = z.string().regex(/^v?\d+\.\d+\.\d+([-+].*)?$/, 'must be a TiDB version such as v8.5.4');

export const ServiceSpec = z.strictObject({
  type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']).default('ClusterIP'),
  annotations: LabelMap.optional().meta({ description: 'Annotations of the client Service (cloud load balancer settings, ...).' }),
  labels: LabelMap.optional(),
  externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
  loadBalancerIP: z.string().optional(),
  loadBalancerSourceRanges: z.array(z.string()).optional(),
  clusterIP: z.string().optional(),
  /** TiDB only: whether the client Service also exposes the status port (PingCAP's default: yes). */
  exposeStatus: z.boolean().optional().meta({ description: 'TiDB: also expose the status port (10080) on the client Service; default true.' }),
});

/** PingCAP's per-component topology spread: one constraint per key over the component's own pods. */
const TopologySpread = z.strictObject({
  topologyKey: z.string().regex(LABEL_KEY, 'must be a node label key such as topology.kubernetes.io/zone'),
  maxSkew: z.number().int().min(1).optional(),
  minDomains: z.number().int().min(1).optional(),
  nodeAffinityPolicy: z.enum(['Honor', 'Ignore']).optional(),
  nodeTaintsPolicy: z.enum(['Honor', 'Ignore']).optional(),
  matchLabelKeys: z.array(z.string()).optional(),
});

const ReadinessProbe = z.strictObject({
  type: z.enum(['tcp', 'command']).optional().meta({ description: 'tcp: a TCP check on the main port; command: the component\'s own health check (default).' }),
  initialDelaySeconds: z.number().int().min(0).optional(),
  periodSeconds: z.number().int().min(1).optional(),
  timeoutSeconds: z.number().int().min(1).optional(),
  failureThreshold: z.number().int().min(1).optional(),
  successThreshold: z.number().int().min(1).optional(),
});

/** An extra volume claimed for each member (PingCAP's storageVolumes). */
const StorageVolume = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label'),
  storageClassName: z.string().min(1).optional(),
  storageSize: Quantity,
  mountPath: z.string().startsWith('/', 'must be an absolute path').optional(),
});

/** Pod settings a cluster may set for every component; a component's own value wins. */
const podDefaults = {
  imagePullPolicy: ImagePullPolicy.optional(),
  annotations: LabelMap.optional().meta({ description: 'Pod annotations.' }),
  labels: LabelMap.optional().meta({ description: 'Pod labels (tidb-steward\'s own labels win on conflict).' }),
  nodeSelector: LabelMap.optional(),
  tolerations: z.array(Any).optional(),
  podSecurityContext: Any.optional(),
  priorityClassName: z.string().optional(),
  topologySpreadConstraints: z.array(TopologySpread).optional(),
};

const componentFields = {
  ...podDefaults,
  replicas: z.number().int().min(0).max(100).meta({ description: 'Number of members.' }),
  image: z.string().min(1).optional().meta({ description: 'Container image; default <baseImage>:<version>.' }),
  baseImage: z.string().min(1).optional().meta({ description: 'Image repository; the tag is the component\'s version (PingCAP\'s way); default pingcap/<component>.' }),
  version: TiDBVersion.optional().meta({ description: 'This component\'s version, instead of spec.version.' }),
  requests: Requests.optional(),
  limits: Resources.optional(),
  config: z
    .union([z.string(), Any])
    .default('')
    .meta({ ...preserve, description: 'The component configuration: a TOML string, or a map rendered to TOML. A change rolls the pods (configUpdateStrategy RollingUpdate).' }),
  affinity: Any.optional(),
  env: z.array(Any).optional(),
  readinessProbe: ReadinessProbe.optional(),
  additionalContainers: z.array(Any).optional().meta({ description: 'Containers added to each pod.' }),
  initContainers: z.array(Any).optional(),
  additionalVolumes: z.array(Any).optional(),
  additionalVolumeMounts: z.array(Any).optional().meta({ description: 'Mounts added to the main container.' }),
  serviceAccount: z.string().optional(),
  terminationGracePeriodSeconds: z.number().int().min(0).optional(),
  maxFailoverCount: z.number().int().min(0).optional().meta({ description: 'Most replacement members failover may add (PingCAP\'s default 3).' }),
  mountClusterClientSecret: z.boolean().optional(),
};

/** CEL rules of the CRD, so the API server refuses (with field paths) what the reconciler would. */
function requestsWithinLimits(): Array<{ rule: string; message: string; fieldPath: string }> {
  return (['cpu', 'memory'] as const).map((r) => ({
    rule: `!has(self.requests) || !has(self.limits) || !has(self.requests.${r}) || !has(self.limits.${r}) || quantity(self.requests.${r}).compareTo(quantity(self.limits.${r})) <= 0`,
    message: `requests.${r} must not exceed limits.${r}`,
    fieldPath: `.requests.${r}`,
  }));
}

const storageFields = {
  storageClassName: z.string().min(1).optional().meta({ description: 'StorageClass of the data volume; the cluster default when unset.' }),
  storageSize: Quantity.optional().meta({ description: 'Size of the data volume (PVC request); requests.storage means the same.' }),
  storageVolumes: z.array(StorageVolume).optional().meta({ description: 'More volumes per member, each claimed with its own size and class and mounted at mountPath.' }),
};

export const PdSpec = z.strictObject({
  ...componentFields,
  replicas: z.number().int().min(1, 'must be at least 1: a TiDB cluster needs PD (use spec.suspend to stop the cluster)').max(100).default(3).meta({ description: 'Number of PD members.' }),
  ...storageFields,
  service: ServiceSpec.default({ type: 'ClusterIP' }),
  topologyKeys: z
    .array(z.string().regex(LABEL_KEY, 'must be a node label key such as topology.kubernetes.io/zone'))
    .optional()
    .meta({ description: 'Node label keys PD members are spread over (failure domains), instead of the extender\'s configured keys; written on the PD pods for the scheduler extender.' }),
  mode: z.string().optional().meta({ description: 'PingCAP\'s PD microservice mode: not supported ("ms" is refused).' }),
}).meta({ 'x-kubernetes-validations': requestsWithinLimits() });

export const TikvSpec = z.strictObject({
  ...componentFields,
  replicas: z.number().int().min(1, 'must be at least 1: TiDB needs TiKV stores (use spec.suspend to stop the cluster)').max(100).default(3).meta({ description: 'Number of TiKV stores.' }),
  ...storageFields,
  evictLeaderTimeout: z
    .string()
    .regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, 'must be a duration such as 10m or 1h30m')
    .optional()
    .meta({ description: 'How long a restart or scale-in waits for a store\'s leaders to move before it goes on (PingCAP\'s field).' }),
  separateRaftLog: z.boolean().optional(),
  raftLogVolumeName: z.string().optional(),
  separateRocksDBLog: z.boolean().optional(),
  rocksDBLogVolumeName: z.string().optional(),
}).meta({ 'x-kubernetes-validations': requestsWithinLimits() });

const SlowLogTailer = z.strictObject({
  image: z.string().min(1).optional(),
  imagePullPolicy: ImagePullPolicy.optional(),
  requests: Resources.optional(),
  limits: Resources.optional(),
});

export const TidbSpec = z.strictObject({
  ...componentFields,
  replicas: componentFields.replicas.default(2),
  service: ServiceSpec.default({ type: 'ClusterIP' }),
  gracefulShutdownSeconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(15)
    .meta({ description: 'On a restart (rolling upgrade) or removal, a TiDB pod leaves the Service first and keeps serving its open connections this long before TiDB is stopped.' }),
  separateSlowLog: z.boolean().optional().meta({ description: 'Write the slow query log to a file a sidecar prints (kubectl logs -c slowlog); default true, as in PingCAP\'s operator.' }),
  slowLogTailer: SlowLogTailer.optional(),
  storageClassName: z.string().optional().meta({ description: 'Accepted for PingCAP manifests; TiDB keeps no data, so it has no effect.' }),
  tlsClient: Any.optional().meta({ description: 'MySQL client TLS: not supported yet (enabled: true is refused).' }),
  initializer: Any.optional().meta({ description: 'PingCAP\'s initializer: not supported (refused).' }),
}).meta({ 'x-kubernetes-validations': requestsWithinLimits() });

/** Components and settings of PingCAP's TidbCluster that tidb-steward does not run: named in the refusal. */
const unsupported = Object.fromEntries(
  ['tiflash', 'ticdc', 'pump', 'tiproxy', 'pdms', 'tidbNGMonitoring', 'tlsCluster', 'cluster', 'clusterDomain', 'acrossK8s', 'services', 'suspendAction', 'startScriptVersion', 'startScriptV2FeatureFlags', 'hostNetwork'].map((k) => [k, z.union([Any, z.string(), z.boolean(), z.number()]).optional().meta({ ...preserve, description: 'A PingCAP field tidb-steward does not run: refused with the reason.' })]),
);

export const TidbClusterSpec = z.strictObject({
  ...podDefaults,
  version: TiDBVersion.default(DEFAULT_VERSION),
  paused: z.boolean().default(false).meta({ description: 'Stops every change to the cluster objects; status keeps being updated.' }),
  suspend: z.boolean().default(false).meta({ description: 'Stops the cluster (TiDB, then TiKV, then PD, to zero pods) and keeps its volumes.' }),
  pvReclaimPolicy: z.enum(['Retain', 'Delete']).default('Retain').meta({ description: 'What happens to the volume claims of members removed by a scale-in or of a deleted cluster.' }),
  enablePVReclaim: z.boolean().optional().meta({ description: 'Delete the claims of members removed by a scale-in, whatever pvReclaimPolicy says (PingCAP\'s field).' }),
  schedulerName: z.string().min(1).default('tidb-scheduler').meta({ description: 'Scheduler of the PD and TiKV pods (the one with tidb-steward as extender).' }),
  timezone: z.string().min(1).optional().meta({ description: 'TZ of every container (PingCAP\'s field; UTC when unset).' }),
  configUpdateStrategy: z.enum(['RollingUpdate', 'InPlace']).optional().meta({ description: 'RollingUpdate (default): a config change rolls the pods; InPlace: the ConfigMap changes and pods read it at their next restart.' }),
  enableDynamicConfiguration: z.boolean().optional().meta({ description: 'Accepted for PingCAP manifests: TiKV always advertises its status address here.' }),
  discovery: Any.optional().meta({ description: 'Accepted for PingCAP manifests, no effect: tidb-steward needs no discovery service.' }),
  helper: Any.optional().meta({ description: 'Accepted for PingCAP manifests, no effect: tidb-steward runs no helper image.' }),
  ...unsupported,
  pd: PdSpec.prefault({}),
  tikv: TikvSpec.prefault({}),
  tidb: TidbSpec.prefault({}),
});
/** The spec as written (PingCAP's fields included); validateTidbCluster turns it into a TidbClusterSpec. */
export type TidbClusterSpecWritten = z.output<typeof TidbClusterSpec>;
export type TidbClusterSpecInput = z.input<typeof TidbClusterSpec>;

type Written<C extends 'pd' | 'tikv' | 'tidb'> = TidbClusterSpecWritten[C];
/** A component as the controller uses it: one config string, one volume size, one image, pod defaults merged. */
type Normalized<T, Extra> = Omit<T, 'config' | 'storageSize' | 'baseImage' | 'requests'> & { config: string; requests?: Resources | undefined } & Extra;
export type PdComponent = Normalized<Written<'pd'>, { storageSize: string }>;
export type TikvComponent = Normalized<Written<'tikv'>, { storageSize: string; evictLeaderTimeoutMs?: number | undefined }>;
export type TidbComponent = Normalized<Written<'tidb'>, { separateSlowLog: boolean }>;
/** A validated spec: PingCAP's aliases resolved (requests.storage, baseImage, map config, cluster-wide pod settings). */
export type TidbClusterSpec = Omit<TidbClusterSpecWritten, 'pd' | 'tikv' | 'tidb'> & { pd: PdComponent; tikv: TikvComponent; tidb: TidbComponent };

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);
export const Condition = z.object({
  type: z.string(),
  status: ConditionStatus,
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

const Phase = z.enum(['Creating', 'Normal', 'Scaling', 'Upgrading', 'Suspending', 'Suspended', 'Paused', 'Waiting', 'Failed']);
export type Phase = z.infer<typeof Phase>;

export const PdMemberStatus = z.object({ name: z.string(), health: z.boolean(), leader: z.boolean() });
export const StoreStatus = z.object({ id: z.string(), pod: z.string(), state: z.string(), leaderCount: z.number().int(), regionCount: z.number().int() });
export const TidbMemberStatus = z.object({ name: z.string(), ready: z.boolean() });
/** One PD member or TiKV store as the member model sees it (src/domain/members.ts). */
export const MemberStatus = z.object({
  component: z.enum(['pd', 'tikv']),
  /** PD member name or TiKV store id (a joining pod: its pod name). */
  name: z.string(),
  pod: z.string().optional(),
  state: z.enum(['joining', 'serving', 'leaving', 'away', 'failed', 'gone']),
  reason: z.string(),
});

const componentStatus = {
  phase: Phase.optional(),
  replicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  /** "ready/desired", for the printer columns. */
  ready: z.string().optional(),
  /** The StatefulSet's revisions: they differ while a rolling upgrade is under way. */
  currentRevision: z.string().optional(),
  updateRevision: z.string().optional(),
  /** Members at the update revision. */
  updatedReplicas: z.number().int().optional(),
  /** The version (image) every member runs, recorded once a rolling upgrade is done. */
  version: z.string().optional(),
  /** The rolling upgrade: Rolling (which member waits for what), Stopped (why), Done. */
  upgrade: z.object({ state: z.enum(['Done', 'Rolling', 'Stopped']), member: z.string().optional(), message: z.string() }).optional(),
};

export const TidbClusterStatus = z.object({
  observedGeneration: z.number().int().optional(),
  phase: Phase.optional(),
  pd: z.object({ ...componentStatus, leader: z.string().optional(), members: z.array(PdMemberStatus).optional(), bootstrapped: z.boolean().optional() }).optional(),
  tikv: z
    .object({
      ...componentStatus,
      stores: z.array(StoreStatus).optional(),
      /** No longer written (leader evictions are recorded in the DisruptionLedger); read from objects that still carry it. */
      evictLeader: z.array(z.object({ storeId: z.string(), since: z.string() })).optional(),
    })
    .optional(),
  tidb: z.object({ ...componentStatus, members: z.array(TidbMemberStatus).optional() }).optional(),
  /** Every PD member and TiKV store with its state, the same view the drain decisions and the controller's steps read. */
  members: z.array(MemberStatus).optional(),
  conditions: z.array(Condition).optional(),
});
export type TidbClusterStatus = z.infer<typeof TidbClusterStatus>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A TidbCluster as the controller sees it: the spec already defaulted and validated. */
export interface TidbCluster {
  metadata: ObjectMeta;
  spec: TidbClusterSpec;
  status: TidbClusterStatus;
}

export type ComponentName = 'pd' | 'tikv' | 'tidb';
export const COMPONENT_ORDER: readonly ComponentName[] = ['pd', 'tikv', 'tidb'];
