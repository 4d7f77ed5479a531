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
import { ANNOTATION_TEMPLATE_HASH, FIELD_MANAGER, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY, ordinalOf } from '../specs/names.ts';
import type { KubeObject } from '../specs/objects.ts';
import { StatusConflictError } from '../controller/fence.ts';
import { apiStatus, type KubeClients } from './client.ts';
import { deadline, WRITE_TIMEOUT_MS } from './deadline.ts';
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
      uid: m.uid ?? '',
      cluster,
      component,
      ordinal: ordinalOf(m.name),
      phase: obj?.status?.phase ?? 'Pending',
      revision: m.labels?.['controller-revision-hash'] ?? null,
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
      partition: typeof obj?.spec?.updateStrategy?.rollingUpdate?.partition === 'number' ? obj.spec.updateStrategy.rollingUpdate.partition : 0,
      observed: (st.observedGeneration ?? 0) >= (m.generation ?? 0),
      templateHash: m.annotations?.[ANNOTATION_TEMPLATE_HASH] ?? '',
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
  const ssa = deadline(WRITE_TIMEOUT_MS, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
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
    deadline(WRITE_TIMEOUT_MS, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
  );
}

export interface ClusterFacts {
  nodes: NodeCapacity[];
  storage: StorageFacts;
}

export type DiagnosisFacts = ClusterFacts & { claims: Map<string, PendingPod['claims'][number]> };

/**
 * How much the pending-pod diagnosis may read: every list is paged (`pageSize` items a call, summed
 * page by page, never held whole) and stops with a clear error past its cap, so a large cluster costs
 * a bounded number of calls and one page of memory, never a whole-cluster LIST.
 */
export interface DiagnosisLimits {
  pageSize: number;
  /** Schedulable nodes. */
  maxNodes: number;
  /** Pods bound to nodes and not finished (their requests say what each node has left). */
  maxPods: number;
  /** PersistentVolumes scanned for an unbound claim that names none. */
  maxVolumes: number;
  maxStorageClasses: number;
}

export const DIAGNOSIS_LIMITS: DiagnosisLimits = { pageSize: 500, maxNodes: 5000, maxPods: 20_000, maxVolumes: 10_000, maxStorageClasses: 500 };

/** A list the diagnosis would have to read past its cap: it is not diagnosed, and says so. */
export class DiagnosisLimitError extends Error {}

type Page<T> = { items: T[]; metadata?: { _continue?: string } };

/** Pages of a list, each asked with `limit` and the previous page's continue token, at most `max` items. */
async function* paged<T>(what: string, max: number, pageSize: number, list: (opts: { limit: number; _continue?: string }) => Promise<Page<T>>): AsyncGenerator<T[]> {
  let seen = 0;
  let token: string | undefined;
  do {
    // One more than the cap tells "exactly max" from "more than max".
    const page = await list({ limit: Math.min(pageSize, max + 1 - seen), ...(token ? { _continue: token } : {}) });
    seen += page.items.length;
    if (seen > max) {
      throw new DiagnosisLimitError(
        `more than ${max} ${what}: the pending-pod diagnosis reads at most ${max} (it keeps tidb-steward's memory and the API server's load bounded), so it is skipped; the scheduler's message on the pod says why it waits`,
      );
    }
    yield page.items;
    token = page.metadata?._continue || undefined;
  } while (token);
}

const NOT_FINISHED = 'status.phase!=Succeeded,status.phase!=Failed';

/**
 * What the pending-pod diagnosis needs, read only as far as it needs it: the volume claims the pending
 * pods name (one GET each); StorageClasses and PersistentVolumes only when one of those claims is not
 * bound (a PV the claim names is read by name; only a claim naming none scans Available volumes of its
 * class); schedulable nodes and what the pods bound to them request. Node and storage facts are shared
 * by every cluster for `maxAgeMs` (many clusters waiting at once read them once).
 */
export function diagnosisFactsReader(
  clients: KubeClients,
  cc: Pick<ControllerClients, 'storage'>,
  opts: { maxAgeMs?: number; now?: () => number; limits?: DiagnosisLimits } = {},
): (namespace: string, claimNames: string[]) => Promise<DiagnosisFacts> {
  const maxAgeMs = opts.maxAgeMs ?? 30_000;
  const now = opts.now ?? Date.now;
  const limits = opts.limits ?? DIAGNOSIS_LIMITS;
  const shared = <T>(read: () => Promise<T>) => {
    let cached: { at: number; value: Promise<T> } | null = null;
    return () => {
      if (cached && now() - cached.at < maxAgeMs) return cached.value;
      const value = read();
      cached = { at: now(), value };
      value.catch(() => (cached = null));
      return value;
    };
  };
  const nodes = shared(() => readNodeCapacity(clients, limits));
  const classes = shared(() => readStorageClasses(cc, limits));
  const scans = new Map<string, () => Promise<StorageFacts['freeVolumes']>>();
  const freeOfClass = (cls: string) => {
    let scan = scans.get(cls);
    if (!scan) scans.set(cls, (scan = shared(() => scanFreeVolumes(clients, cls, limits))));
    if (scans.size > 100) scans.clear();
    return scan();
  };
  return async (namespace, claimNames) => {
    const [capacity, claims] = await Promise.all([nodes(), readClaims(clients, namespace, claimNames)]);
    const unbound = [...claims.values()].filter((c) => c.phase !== 'Bound');
    if (unbound.length === 0) return { nodes: capacity, storage: { classes: [], defaultClass: null, freeVolumes: [] }, claims: new Map([...claims].map(([k, c]) => [k, c.fact])) };
    const { classes: names, defaultClass } = await classes();
    const freeVolumes: StorageFacts['freeVolumes'] = [];
    const scanned = new Set<string>();
    for (const c of unbound) {
      if (c.volumeName) {
        const v = await readVolume(clients, c.volumeName);
        if (v) freeVolumes.push(v);
        continue;
      }
      const cls = c.fact.storageClassName ?? defaultClass;
      if (cls === null || scanned.has(cls) || !names.includes(cls)) continue;
      scanned.add(cls);
      freeVolumes.push(...(await freeOfClass(cls)));
    }
    return { nodes: capacity, storage: { classes: names, defaultClass, freeVolumes }, claims: new Map([...claims].map(([k, c]) => [k, c.fact])) };
  };
}

const requestsOf = (containers: Array<{ resources?: { requests?: Record<string, unknown> } }> | undefined) => {
  const r = { cpu: 0, memory: 0 };
  for (const c of containers ?? []) {
    r.cpu += parseQuantity(c.resources?.requests?.cpu as string | undefined) || 0;
    r.memory += parseQuantity(c.resources?.requests?.memory as string | undefined) || 0;
  }
  return r;
};

async function readNodeCapacity(clients: KubeClients, limits: DiagnosisLimits): Promise<NodeCapacity[]> {
  const nodes = new Map<string, NodeCapacity>();
  // Cordoned nodes take no pod: the diagnosis never looks at them.
  for await (const page of paged('schedulable nodes', limits.maxNodes, limits.pageSize, (o) => clients.core.listNode({ ...o, fieldSelector: 'spec.unschedulable=false' }))) {
    for (const n of page) {
      const name = n.metadata?.name ?? '';
      nodes.set(name, {
        name,
        allocatable: { cpu: parseQuantity(n.status?.allocatable?.cpu) || 0, memory: parseQuantity(n.status?.allocatable?.memory) || 0 },
        requested: { cpu: 0, memory: 0 },
        taints: (n.spec?.taints ?? []).map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect })),
        labels: n.metadata?.labels ?? {},
        unschedulable: Boolean(n.spec?.unschedulable),
      });
    }
  }
  if (nodes.size === 0) return [];
  // Only pods bound to a node and not finished take its resources; summed page by page.
  const fieldSelector = `spec.nodeName!=,${NOT_FINISHED}`;
  for await (const page of paged('pods bound to nodes', limits.maxPods, limits.pageSize, (o) => clients.core.listPodForAllNamespaces({ ...o, fieldSelector }))) {
    for (const p of page) {
      const node = nodes.get(p.spec?.nodeName ?? '');
      if (!node) continue;
      const r = requestsOf(p.spec?.containers);
      node.requested.cpu += r.cpu;
      node.requested.memory += r.memory;
    }
  }
  return [...nodes.values()];
}

async function readStorageClasses(cc: Pick<ControllerClients, 'storage'>, limits: DiagnosisLimits): Promise<{ classes: string[]; defaultClass: string | null }> {
  const classes: string[] = [];
  let defaultClass: string | null = null;
  for await (const page of paged('StorageClasses', limits.maxStorageClasses, limits.pageSize, (o) => cc.storage.listStorageClass(o))) {
    for (const c of page) {
      const name = c.metadata?.name ?? '';
      classes.push(name);
      if (defaultClass === null && c.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true') defaultClass = name;
    }
  }
  return { classes, defaultClass };
}

/** Available PersistentVolumes of one class (PVs have no field selector for class or phase: filtered here, page by page). */
async function scanFreeVolumes(clients: KubeClients, cls: string, limits: DiagnosisLimits): Promise<StorageFacts['freeVolumes']> {
  const free: StorageFacts['freeVolumes'] = [];
  for await (const page of paged('PersistentVolumes', limits.maxVolumes, limits.pageSize, (o) => clients.core.listPersistentVolume(o))) {
    for (const v of page) {
      if (v.status?.phase !== 'Available' || (v.spec?.storageClassName ?? '') !== cls) continue;
      free.push({ storageClassName: cls, capacity: parseQuantity(v.spec?.capacity?.storage as string | undefined) || 0 });
    }
  }
  return free;
}

/** The PersistentVolume a claim names, when it is still Available to it; null otherwise. */
async function readVolume(clients: KubeClients, name: string): Promise<StorageFacts['freeVolumes'][number] | null> {
  try {
    const v = await clients.core.readPersistentVolume({ name });
    if (v.status?.phase !== 'Available') return null;
    return { storageClassName: v.spec?.storageClassName ?? '', capacity: parseQuantity(v.spec?.capacity?.storage as string | undefined) || 0 };
  } catch (err) {
    if (apiStatus(err) === 404) return null;
    throw err;
  }
}

/** The volume claims of Pending pods, by name (with the volume a claim names, if any). */
async function readClaims(clients: KubeClients, namespace: string, claimNames: string[]): Promise<Map<string, { fact: PendingPod['claims'][number]; phase: string; volumeName: string | null }>> {
  const claims = new Map<string, { fact: PendingPod['claims'][number]; phase: string; volumeName: string | null }>();
  for (const name of new Set(claimNames)) {
    try {
      const c = await clients.core.readNamespacedPersistentVolumeClaim({ namespace, name });
      const phase = c.status?.phase ?? 'Pending';
      claims.set(name, {
        fact: { name, storageClassName: c.spec?.storageClassName ?? null, phase, size: parseQuantity(c.spec?.resources?.requests?.storage as string | undefined) || 0 },
        phase,
        volumeName: c.spec?.volumeName || null,
      });
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

/** Deletes a member pod, only if it is still the one decided on (uid precondition); a pod already gone is fine. */
export async function deleteMemberPod(clients: KubeClients, namespace: string, name: string, uid: string): Promise<void> {
  try {
    await clients.core.deleteNamespacedPod({ namespace, name, body: { preconditions: uid ? { uid } : {} } as never });
  } catch (err) {
    if (apiStatus(err) !== 404 && apiStatus(err) !== 409) throw err;
  }
}

/** Claim annotation: the member of this claim was removed by a scale-in (value: when and what). */
export const ANNOTATION_RETIRED_CLAIM = 'tidb-steward.dev/retired-member';

/** Marks claims of removed members; a claim that does not exist is skipped. */
export async function retireClaims(clients: KubeClients, namespace: string, claims: string[], note: string): Promise<void> {
  const merge = deadline(WRITE_TIMEOUT_MS, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  for (const name of claims) {
    try {
      await clients.core.patchNamespacedPersistentVolumeClaim({ namespace, name, body: { metadata: { annotations: { [ANNOTATION_RETIRED_CLAIM]: `${new Date().toISOString()} ${note}` } } } }, merge);
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
  }
}

/**
 * Deletes the claims among `claims` that carry the retired mark (read one by one, by name: no list).
 * The bound volume keeps the old data or not as its reclaim policy says.
 */
export async function renewRetiredClaims(clients: KubeClients, namespace: string, claims: string[]): Promise<Array<{ claim: string; volume: string | null }>> {
  const out: Array<{ claim: string; volume: string | null }> = [];
  for (const name of claims) {
    let claim;
    try {
      claim = await clients.core.readNamespacedPersistentVolumeClaim({ namespace, name });
    } catch (err) {
      if (apiStatus(err) === 404) continue;
      throw err;
    }
    if (!claim.metadata?.annotations?.[ANNOTATION_RETIRED_CLAIM] || claim.metadata.deletionTimestamp) continue;
    await clients.core.deleteNamespacedPersistentVolumeClaim({ namespace, name, body: { preconditions: { uid: claim.metadata.uid! } } }, deadline(WRITE_TIMEOUT_MS));
    out.push({ claim: name, volume: claim.spec?.volumeName ?? null });
  }
  return out;
}
