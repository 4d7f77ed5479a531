// Kubernetes I/O of the TidbCluster controller: list/watch of TidbClusters and of the objects they own,
// server-side apply with one field manager, status writes, finalizers, the Lease, and the facts the
// pending-pod diagnosis needs. Wire objects become the narrow views the controller decides on.
import {
  CoordinationV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  StorageV1Api,
  setHeaderOptions,
  type V1Lease,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type TidbClusterStatus } from '../cluster/schema.ts';
import { parseQuantity } from '../cluster/quantity.ts';
import type { LeaseLock, LeaseRecord } from '../controller/leader.ts';
import type { MemberPod, StsState } from '../domain/steps.ts';
import type { RunningVolume } from '../domain/tidbcluster-admission.ts';
import type { NodeCapacity, PendingPod, StorageFacts } from '../domain/pending.ts';
import { FIELD_MANAGER, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY, ordinalOf } from '../specs/names.ts';
import type { KubeObject } from '../specs/objects.ts';
import { StatusConflictError } from '../controller/fence.ts';
import { apiStatus, type KubeClients } from './client.ts';
import { deadline } from './deadline.ts';
import type { ListWatchSource } from './reflector.ts';
import type { Keyed } from './views.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = any;

/** Pods and StatefulSets made by the controller (not those of PingCAP's operator, nor bare ones). */
export const CONTROLLER_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_NAME}=tidb-cluster`;

export interface ControllerClients {
  custom: CustomObjectsApi;
  policy: PolicyV1Api;
  coordination: CoordinationV1Api;
  storage: StorageV1Api;
}

export function controllerClients(clients: KubeClients): ControllerClients {
  return {
    custom: clients.kc.makeApiClient(CustomObjectsApi),
    policy: clients.kc.makeApiClient(PolicyV1Api),
    coordination: clients.kc.makeApiClient(CoordinationV1Api),
    storage: clients.kc.makeApiClient(StorageV1Api),
  };
}

export function tidbClusterSource(clients: KubeClients, cc: ControllerClients): ListWatchSource {
  return {
    async list({ limit, continueToken }) {
      const res = await cc.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit, ...(continueToken ? { _continue: continueToken } : {}) });
      return { items: res.items ?? [], resourceVersion: res.metadata?.resourceVersion ?? '', continueToken: res.metadata?.continue };
    },
    async watch(resourceVersion, onEvent, onDone) {
      const controller = await clients.watch.watch(`/apis/${GROUP}/${VERSION}/${PLURAL}`, { resourceVersion, allowWatchBookmarks: true }, onEvent, onDone);
      return { abort: () => controller.abort() };
    },
  };
}

/** A TidbCluster as stored (spec not yet validated). */
export interface RawTidbCluster {
  metadata: { name: string; namespace: string; uid: string; generation: number; resourceVersion: string; deletionTimestamp?: string; finalizers?: string[] };
  spec: unknown;
  status: TidbClusterStatus;
}

export function tidbClusterView(obj: Wire): Keyed<RawTidbCluster> {
  const m = obj?.metadata ?? {};
  const key = `${m.namespace ?? ''}/${m.name ?? ''}`;
  if (!m.name) return { key, value: null };
  return {
    key,
    value: {
      metadata: {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid ?? '',
        generation: m.generation ?? 0,
        resourceVersion: m.resourceVersion ?? '',
        ...(m.deletionTimestamp ? { deletionTimestamp: String(m.deletionTimestamp) } : {}),
        ...(m.finalizers ? { finalizers: m.finalizers } : {}),
      },
      spec: obj.spec ?? {},
      status: obj.status ?? {},
    },
  };
}

export interface ControllerPod extends MemberPod {
  namespace: string;
  cluster: string;
  component: 'pd' | 'tikv' | 'tidb';
  createdAt: number;
  /** PodScheduled=False message, when the scheduler gave one. */
  schedulerMessage: string | null;
  requests: { cpu: number; memory: number };
  nodeSelector: Record<string, string>;
  tolerations: PendingPod['tolerations'];
  claims: string[];
}

/** An object's key and the TidbCluster component its labels name (null when it belongs to none). */
function componentObject(obj: Wire): { m: Wire; key: string; cluster: string | undefined; component: 'pd' | 'tikv' | 'tidb' | null } {
  const m = obj?.metadata ?? {};
  const component = m.labels?.[LABEL_COMPONENT];
  return { m, key: `${m.namespace ?? ''}/${m.name ?? ''}`, cluster: m.labels?.[LABEL_INSTANCE], component: ['pd', 'tikv', 'tidb'].includes(component) ? component : null };
}

export function controllerPodView(obj: Wire): Keyed<ControllerPod> {
  const { m, key, cluster, component } = componentObject(obj);
  if (!cluster || !component) return { key, value: null };
  const conds: Wire[] = obj?.status?.conditions ?? [];
  const scheduled = conds.find((c) => c.type === 'PodScheduled');
  const requests = { cpu: 0, memory: 0 };
  for (const c of obj?.spec?.containers ?? []) {
    requests.cpu += parseQuantity(c?.resources?.requests?.cpu) || 0;
    requests.memory += parseQuantity(c?.resources?.requests?.memory) || 0;
  }
  return {
    key,
    value: {
      namespace: m.namespace,
      name: m.name,
      cluster,
      component,
      ordinal: ordinalOf(m.name),
      phase: obj?.status?.phase ?? 'Pending',
      ready: conds.some((c) => c.type === 'Ready' && c.status === 'True'),
      deleting: Boolean(m.deletionTimestamp),
      nodeName: obj?.spec?.nodeName || null,
      createdAt: Date.parse(m.creationTimestamp ?? '') || Date.now(),
      schedulerMessage: scheduled && scheduled.status === 'False' ? String(scheduled.message ?? scheduled.reason ?? '') : null,
      requests,
      nodeSelector: obj?.spec?.nodeSelector ?? {},
      tolerations: obj?.spec?.tolerations ?? [],
      claims: (obj?.spec?.volumes ?? []).map((v: Wire) => v?.persistentVolumeClaim?.claimName).filter(Boolean),
    },
  };
}

export interface ControllerSts extends StsState {
  namespace: string;
  name: string;
  cluster: string;
  component: 'pd' | 'tikv' | 'tidb';
  /** The data volume's claim template (PD, TiKV): immutable, so what the spec said at creation. */
  volume?: RunningVolume;
}

export function controllerStsView(obj: Wire): Keyed<ControllerSts> {
  const { m, key, cluster, component } = componentObject(obj);
  if (!cluster || !component) return { key, value: null };
  const st = obj?.status ?? {};
  return {
    key,
    value: {
      namespace: m.namespace,
      name: m.name,
      cluster,
      component,
      replicas: typeof obj?.spec?.replicas === 'number' ? obj.spec.replicas : 1,
      readyReplicas: st.readyReplicas ?? 0,
      updatedReplicas: st.updatedReplicas ?? 0,
      currentRevision: st.currentRevision ?? '',
      updateRevision: st.updateRevision ?? '',
      ...volumeOf(obj),
    },
  };
}

function volumeOf(obj: Wire): { volume?: RunningVolume } {
  const claim = obj?.spec?.volumeClaimTemplates?.[0]?.spec;
  const size = claim?.resources?.requests?.storage;
  if (typeof size !== 'string') return {};
  return { volume: { storageSize: size, ...(typeof claim.storageClassName === 'string' ? { storageClassName: claim.storageClassName } : {}) } };
}

/**
 * Server-side apply of a desired object with the controller's field manager (taking over fields). One
 * typed call per kind, so the RBAC each needs is plain to see (apply creates: patch and create).
 */
export async function apply(clients: KubeClients, cc: ControllerClients, obj: KubeObject): Promise<void> {
  const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const req = { name: obj.metadata.name, namespace: obj.metadata.namespace, body: obj as never, fieldManager: FIELD_MANAGER, force: true };
  switch (obj.kind) {
    case 'Service':
      await clients.core.patchNamespacedService(req, ssa);
      return;
    case 'ConfigMap':
      await clients.core.patchNamespacedConfigMap(req, ssa);
      return;
    case 'StatefulSet':
      await clients.apps.patchNamespacedStatefulSet(req, ssa);
      return;
    case 'PodDisruptionBudget':
      await cc.policy.patchNamespacedPodDisruptionBudget(req, ssa);
      return;
    default:
      throw new Error(`the controller does not apply ${obj.kind} objects`);
  }
}

/**
 * Writes the status with optimistic concurrency: a replacement of the status subresource carrying the
 * resourceVersion the reconcile read, so a replica that read before someone else wrote (another
 * leader, a stale one) gets 409 instead of overwriting. Resolves to the new resourceVersion.
 */
export async function writeStatus(cc: ControllerClients, namespace: string, name: string, status: TidbClusterStatus, resourceVersion: string, timeoutMs = 10_000): Promise<string> {
  try {
    const res = await cc.custom.replaceNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, fieldManager: FIELD_MANAGER, body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'TidbCluster', metadata: { name, namespace, resourceVersion }, status } },
      deadline(timeoutMs),
    );
    return String(res?.metadata?.resourceVersion ?? '');
  } catch (err) {
    if (apiStatus(err) === 409) throw new StatusConflictError(namespace, name, resourceVersion);
    throw err;
  }
}

/** Sets the finalizer list (merge patch guarded by resourceVersion: a concurrent change makes it fail and retry). */
export async function setFinalizers(cc: ControllerClients, namespace: string, name: string, finalizers: string[], resourceVersion: string): Promise<void> {
  await cc.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body: { metadata: { finalizers, resourceVersion } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export interface ClusterFacts {
  nodes: NodeCapacity[];
  storage: StorageFacts;
}

/**
 * What nodes offer and what storage exists, for the pending-pod diagnosis. Read only when a pod has
 * been Pending past the grace period, and shared by every cluster for a few seconds (many clusters
 * waiting at once must not each list every pod and volume).
 */
export function clusterFactsReader(clients: KubeClients, cc: ControllerClients, maxAgeMs = 10_000, now: () => number = Date.now): () => Promise<ClusterFacts> {
  let cached: { at: number; facts: Promise<ClusterFacts> } | null = null;
  return () => {
    if (cached && now() - cached.at < maxAgeMs) return cached.facts;
    const facts = readClusterFacts(clients, cc);
    cached = { at: now(), facts };
    facts.catch(() => (cached = null));
    return facts;
  };
}

async function readClusterFacts(clients: KubeClients, cc: ControllerClients): Promise<ClusterFacts> {
  const [nodeList, podList, classList, pvList] = await Promise.all([
    clients.core.listNode(),
    clients.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
    cc.storage.listStorageClass(),
    clients.core.listPersistentVolume(),
  ]);
  const requested = new Map<string, { cpu: number; memory: number }>();
  for (const p of podList.items) {
    const node = p.spec?.nodeName;
    if (!node) continue;
    const r = requested.get(node) ?? { cpu: 0, memory: 0 };
    for (const c of p.spec?.containers ?? []) {
      r.cpu += parseQuantity(c.resources?.requests?.cpu as string | undefined) || 0;
      r.memory += parseQuantity(c.resources?.requests?.memory as string | undefined) || 0;
    }
    requested.set(node, r);
  }
  const nodes: NodeCapacity[] = nodeList.items.map((n) => ({
    name: n.metadata?.name ?? '',
    allocatable: { cpu: parseQuantity(n.status?.allocatable?.cpu) || 0, memory: parseQuantity(n.status?.allocatable?.memory) || 0 },
    requested: requested.get(n.metadata?.name ?? '') ?? { cpu: 0, memory: 0 },
    taints: (n.spec?.taints ?? []).map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect })),
    labels: n.metadata?.labels ?? {},
    unschedulable: Boolean(n.spec?.unschedulable),
  }));
  const classes = classList.items.map((c) => c.metadata?.name ?? '');
  const defaultClass = classList.items.find((c) => c.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true')?.metadata?.name ?? null;
  const freeVolumes = pvList.items
    .filter((v) => v.status?.phase === 'Available')
    .map((v) => ({ storageClassName: v.spec?.storageClassName ?? '', capacity: parseQuantity(v.spec?.capacity?.storage as string | undefined) || 0 }));
  return { nodes, storage: { classes, defaultClass, freeVolumes } };
}

/** The volume claims of Pending pods, by name. */
export async function claimFacts(clients: KubeClients, namespace: string, claimNames: string[]): Promise<Map<string, PendingPod['claims'][number]>> {
  const claims = new Map<string, PendingPod['claims'][number]>();
  for (const name of claimNames) {
    try {
      const c = await clients.core.readNamespacedPersistentVolumeClaim({ namespace, name });
      claims.set(name, { name, storageClassName: c.spec?.storageClassName ?? null, phase: c.status?.phase ?? 'Pending', size: parseQuantity(c.spec?.resources?.requests?.storage as string | undefined) || 0 });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
  }
  return claims;
}

/** RFC 3339 with microseconds, as metav1.MicroTime is parsed. */
export function microTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The controller's Lease; every call ends after `timeoutMs` (a hung connection must not outlive a renew deadline). */
export function kubeLeaseLock(cc: ControllerClients, namespace: string, name: string, timeoutMs: number): LeaseLock {
  const toRecord = (l: V1Lease): LeaseRecord => ({
    holder: l.spec?.holderIdentity ?? null,
    leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? 15,
    acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime as unknown as string).toISOString() : null,
    renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime as unknown as string).toISOString() : null,
    transitions: l.spec?.leaseTransitions ?? 0,
    ...(l.metadata?.resourceVersion ? { resourceVersion: l.metadata.resourceVersion } : {}),
  });
  const body = (r: LeaseRecord): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}) },
    spec: {
      ...(r.holder ? { holderIdentity: r.holder } : {}),
      leaseDurationSeconds: r.leaseDurationSeconds,
      // MicroTime: the API server wants exactly six fractional digits.
      ...(r.acquireTime ? { acquireTime: microTime(r.acquireTime) as never } : {}),
      ...(r.renewTime ? { renewTime: microTime(r.renewTime) as never } : {}),
      leaseTransitions: r.transitions,
    },
  });
  return {
    describe: () => `${namespace}/${name}`,
    async get() {
      try {
        return toRecord(await cc.coordination.readNamespacedLease({ namespace, name }, deadline(timeoutMs)));
      } catch (err) {
        if (apiStatus(err) === 404) return null;
        throw err;
      }
    },
    async create(r) {
      await cc.coordination.createNamespacedLease({ namespace, body: body(r) }, deadline(timeoutMs));
    },
    async update(r) {
      await cc.coordination.replaceNamespacedLease({ namespace, name, body: body(r) }, deadline(timeoutMs));
    },
  };
}
