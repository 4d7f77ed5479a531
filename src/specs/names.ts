// Names and labels of everything a TidbCluster owns. PingCAP's naming (basic-pd, basic-pd-peer,
// basic-tikv-0) so that tools and habits carry over; our own keys under tidb-steward.dev.
import { API_VERSION, KIND, type ComponentName, type TidbCluster } from '../cluster/schema.ts';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';
export const MANAGED_BY = 'tidb-steward';
/** Pod template annotation: hash of the component's config file and start script (a change rolls pods). */
export const ANNOTATION_CONFIG_HASH = 'tidb-steward.dev/config-hash';
/** Pod annotation: the node label keys PD members of this cluster spread over. */
export { ANNOTATION_TOPOLOGY_KEYS } from '../domain/placement.ts';
/** PD StatefulSet annotation: the member count the controller is scaling PD to (spec.pd.replicas). */
export { ANNOTATION_PD_TARGET_REPLICAS } from '../domain/placement.ts';
/** StatefulSet annotation: hash of the pod template last applied (a change starts a rolling upgrade). */
export const ANNOTATION_TEMPLATE_HASH = 'tidb-steward.dev/template-hash';
export const FIELD_MANAGER = 'tidb-steward';
export const FINALIZER = 'tidb-steward.dev/cleanup';

export const PORTS = { pdClient: 2379, pdPeer: 2380, tikv: 20160, tikvStatus: 20180, tidb: 4000, tidbStatus: 10080 } as const;

export const names = {
  statefulSet: (tc: string, c: ComponentName) => `${tc}-${c}`,
  peerService: (tc: string, c: ComponentName) => `${tc}-${c}-peer`,
  clientService: (tc: string, c: 'pd' | 'tidb') => `${tc}-${c}`,
  configMap: (tc: string, c: ComponentName) => `${tc}-${c}`,
  pdb: (tc: string, c: ComponentName) => `${tc}-${c}`,
  pod: (tc: string, c: ComponentName, ordinal: number) => `${tc}-${c}-${ordinal}`,
  /** Volume claim template name; claims are <template>-<pod>. */
  volume: (c: 'pd' | 'tikv') => c,
  pvc: (tc: string, c: 'pd' | 'tikv', ordinal: number) => `${c}-${tc}-${c}-${ordinal}`,
};

/** The stable DNS name of a member pod, through its StatefulSet's headless Service. */
export function podFqdn(tc: string, namespace: string, c: ComponentName, pod: string): string {
  return `${pod}.${names.peerService(tc, c)}.${namespace}.svc`;
}

/** PD's client URL inside the cluster (what TiKV and TiDB are given). */
export function pdClientUrl(tc: string, namespace: string): string {
  return `http://${names.clientService(tc, 'pd')}.${namespace}.svc:${PORTS.pdClient}`;
}

export function selectorLabels(tc: string, c: ComponentName): Record<string, string> {
  return { [LABEL_NAME]: 'tidb-cluster', [LABEL_COMPONENT]: c, [LABEL_INSTANCE]: tc, [LABEL_MANAGED_BY]: MANAGED_BY };
}

export function labels(tc: string, c: ComponentName): Record<string, string> {
  return { ...selectorLabels(tc, c), [LABEL_PART_OF]: 'tidb' };
}

/**
 * Without blockOwnerDeletion: setting it needs update on tidbclusters/finalizers where the
 * OwnerReferencesPermissionEnforcement admission plugin runs, and the controller deletes in the
 * background anyway (its finalizer does the clean-up PD needs).
 */
export function ownerReference(tc: TidbCluster) {
  return { apiVersion: API_VERSION, kind: KIND, name: tc.metadata.name, uid: tc.metadata.uid, controller: true };
}

export function meta(tc: TidbCluster, c: ComponentName, name: string, extra: { annotations?: Record<string, string> } = {}) {
  return { name, namespace: tc.metadata.namespace, labels: labels(tc.metadata.name, c), ownerReferences: [ownerReference(tc)], ...extra };
}

/** Ordinal of a StatefulSet pod name, or -1. */
export function ordinalOf(pod: string): number {
  const m = /-(\d+)$/.exec(pod);
  return m ? Number(m[1]) : -1;
}
