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

export const ServiceSpec = z.strictObject({
  type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']).default('ClusterIP'),
});

const LabelMap = z.record(z.string(), z.string());

const componentFields = {
  replicas: z.number().int().min(0).max(100).meta({ description: 'Number of members.' }),
  image: z.string().min(1).optional().meta({ description: 'Container image; default pingcap/<component>:<spec.version>.' }),
  requests: Resources.optional(),
  limits: Resources.optional(),
  config: z.string().default('').meta({ description: 'The component configuration file, TOML. A change rolls the pods.' }),
  nodeSelector: LabelMap.optional(),
  tolerations: z.array(z.record(z.string(), z.unknown()).meta(preserve)).optional(),
  affinity: z.record(z.string(), z.unknown()).meta(preserve).optional(),
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
  storageSize: Quantity.meta({ description: 'Size of the data volume (PVC request).' }),
};

export const PdSpec = z.strictObject({
  ...componentFields,
  replicas: z.number().int().min(1, 'must be at least 1: a TiDB cluster needs PD (use spec.suspend to stop the cluster)').max(100).default(3).meta({ description: 'Number of PD members.' }),
  ...storageFields,
  storageSize: storageFields.storageSize.default('10Gi'),
  service: ServiceSpec.default({ type: 'ClusterIP' }),
  topologyKeys: z
    .array(z.string().regex(LABEL_KEY, 'must be a node label key such as topology.kubernetes.io/zone'))
    .optional()
    .meta({ description: 'Node label keys PD members are spread over (failure domains), instead of the extender\'s configured keys; written on the PD pods for the scheduler extender.' }),
}).meta({ 'x-kubernetes-validations': requestsWithinLimits() });

export const TikvSpec = z.strictObject({
  ...componentFields,
  replicas: z.number().int().min(1, 'must be at least 1: TiDB needs TiKV stores (use spec.suspend to stop the cluster)').max(100).default(3).meta({ description: 'Number of TiKV stores.' }),
  ...storageFields,
  storageSize: storageFields.storageSize.default('100Gi'),
}).meta({ 'x-kubernetes-validations': requestsWithinLimits() });

export const TidbSpec = z.strictObject({
  ...componentFields,
  replicas: componentFields.replicas.default(2),
  service: ServiceSpec.default({ type: 'ClusterIP' }),
}).meta({ 'x-kubernetes-validations': requestsWithinLimits() });

export const TidbClusterSpec = z.strictObject({
  version: z.string().regex(/^v?\d+\.\d+\.\d+([-+].*)?$/, 'must be a TiDB version such as v8.5.4').default(DEFAULT_VERSION),
  paused: z.boolean().default(false).meta({ description: 'Stops every change to the cluster objects; status keeps being updated.' }),
  suspend: z.boolean().default(false).meta({ description: 'Stops the cluster (TiDB, then TiKV, then PD, to zero pods) and keeps its volumes.' }),
  pvReclaimPolicy: z.enum(['Retain', 'Delete']).default('Retain').meta({ description: 'What happens to the volume claims of members removed by a scale-in or of a deleted cluster.' }),
  schedulerName: z.string().min(1).default('tidb-scheduler').meta({ description: 'Scheduler of the PD and TiKV pods (the one with tidb-steward as extender).' }),
  pd: PdSpec.prefault({}),
  tikv: TikvSpec.prefault({}),
  tidb: TidbSpec.prefault({}),
});
export type TidbClusterSpec = z.output<typeof TidbClusterSpec>;
export type TidbClusterSpecInput = z.input<typeof TidbClusterSpec>;

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

const Phase = z.enum(['Creating', 'Normal', 'Scaling', 'Suspending', 'Suspended', 'Paused', 'Waiting', 'Failed']);
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
