// Cluster-wide serialisation of binds: one coordination.k8s.io Lease per TiDB cluster and component,
// in tidb-steward's own namespace (a namespaced Role, not write access to every Lease). A replica
// binds a PD/TiKV pod only while it holds the Lease, taken and given back with resourceVersion
// preconditions, so two replicas (a rollout, an endpoint change, two schedulers) never judge the same
// cluster's placement from the same stale view.
import { randomUUID } from 'node:crypto';
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Component } from '../domain/model.ts';
import { apiMessage, apiStatus, type KubeClients } from './client.ts';

export interface BindLock {
  /** Runs fn while holding the lock of one cluster's component; throws LockBusy if it cannot be had in time. */
  run<T>(namespace: string, cluster: string, component: Component, fn: () => Promise<T>): Promise<T>;
}

export class LockBusy extends Error {}

/** Serialises nothing across processes (one replica, or the per-process chain alone). */
export const localOnly: BindLock = { run: (_ns, _c, _comp, fn) => fn() };

/** The primitive operations on Lease objects, so the algorithm is tested without an API server. */
export interface LeaseStore {
  get(name: string): Promise<V1Lease | null>;
  /** Throws with apiStatus 409 when it exists already. */
  create(lease: V1Lease): Promise<V1Lease>;
  /** Throws with apiStatus 409 when metadata.resourceVersion is stale. */
  replace(lease: V1Lease): Promise<V1Lease>;
  /** Our bind Leases (by label). */
  list?(): Promise<V1Lease[]>;
  /** Deletes only if the Lease still has this resourceVersion. */
  delete?(name: string, resourceVersion: string): Promise<void>;
}

const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
const LABEL_CLUSTER = 'app.kubernetes.io/instance';
const LABEL_COMPONENT = 'app.kubernetes.io/component';
const LABEL_NAMESPACE = 'tidb-steward.dev/namespace';
const BIND_LEASES = `${LABEL_MANAGED_BY}=tidb-steward,${LABEL_NAMESPACE}`;

export function kubeLeaseStore(clients: KubeClients, namespace: string): LeaseStore {
  return {
    async get(name) {
      try {
        return await clients.coordination.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (apiStatus(err) === 404) return null;
        throw err;
      }
    },
    create: (body) => clients.coordination.createNamespacedLease({ namespace, body }),
    replace: (body) => clients.coordination.replaceNamespacedLease({ namespace, name: body.metadata?.name ?? '', body }),
    list: async () => (await clients.coordination.listNamespacedLease({ namespace, labelSelector: BIND_LEASES })).items,
    async delete(name, resourceVersion) {
      await clients.coordination.deleteNamespacedLease({ namespace, name, body: { preconditions: { resourceVersion } } });
    },
  };
}

/** Lease name of one cluster's component: a DNS subdomain, readable in `kubectl get lease`. */
export function bindLeaseName(namespace: string, cluster: string, component: Component): string {
  return `bind.${component}.${cluster}.${namespace}`.slice(0, 253);
}

function leaseLabels(namespace: string, cluster: string, component: Component): Record<string, string> {
  return { [LABEL_MANAGED_BY]: 'tidb-steward', [LABEL_NAMESPACE]: namespace, [LABEL_CLUSTER]: cluster, [LABEL_COMPONENT]: component };
}

/**
 * Deletes the bind Leases of clusters that are gone: free (or expired), idle for `idleMs`, and with no
 * pod of their cluster and component left in the cache. Returns how many were deleted.
 */
export async function sweepBindLeases(
  store: LeaseStore,
  opts: { idleMs: number; now?: () => number; hasMembers(namespace: string, cluster: string, component: Component): boolean },
): Promise<number> {
  if (!store.list || !store.delete) return 0;
  const now = (opts.now ?? Date.now)();
  let deleted = 0;
  for (const lease of await store.list()) {
    const labels = lease.metadata?.labels ?? {};
    const namespace = labels[LABEL_NAMESPACE];
    const cluster = labels[LABEL_CLUSTER];
    const component = labels[LABEL_COMPONENT];
    if (!namespace || !cluster || (component !== 'pd' && component !== 'tikv')) continue;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    if (now - renewed < opts.idleMs || opts.hasMembers(namespace, cluster, component)) continue;
    try {
      await store.delete(lease.metadata?.name ?? '', lease.metadata?.resourceVersion ?? '');
      deleted++;
    } catch (err) {
      if (apiStatus(err) !== 404 && apiStatus(err) !== 409) throw err; // gone, or just taken again
    }
  }
  return deleted;
}

export interface LeaseLockOptions {
  store: LeaseStore;
  /** A holder that died is taken over after this long. */
  leaseSeconds: number;
  /** How long a bind may wait for another replica's bind of the same cluster. */
  waitMs: number;
  identity?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function leaseLock(opts: LeaseLockOptions): BindLock {
  const identity = opts.identity ?? `tidb-steward-${randomUUID()}`;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const heldByOther = (lease: V1Lease) => {
    const holder = lease.spec?.holderIdentity;
    if (!holder || holder === identity) return false;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    return renewed + (lease.spec?.leaseDurationSeconds ?? opts.leaseSeconds) * 1000 > now();
  };
  const spec = () => {
    const t = new V1MicroTime(now());
    return { holderIdentity: identity, leaseDurationSeconds: opts.leaseSeconds, acquireTime: t, renewTime: t };
  };

  async function acquire(namespace: string, cluster: string, component: Component): Promise<V1Lease> {
    const name = bindLeaseName(namespace, cluster, component);
    const deadline = now() + opts.waitMs;
    let holder = '';
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        if (now() >= deadline) {
          throw new LockBusy(`another tidb-steward replica (${holder || 'unknown'}) is binding a pod of the same cluster; the scheduler will retry`);
        }
        await sleep(20 + Math.floor(Math.random() * 30));
      }
      try {
        const lease = await opts.store.get(name);
        if (!lease) return await opts.store.create({ metadata: { name, labels: leaseLabels(namespace, cluster, component) }, spec: spec() });
        if (heldByOther(lease)) {
          holder = lease.spec?.holderIdentity ?? '';
          continue;
        }
        return await opts.store.replace({ ...lease, spec: { ...lease.spec, ...spec() } });
      } catch (err) {
        if (apiStatus(err) === 409) continue; // another replica got there first
        if (apiStatus(err) === 404) throw new Error(`cannot take the bind Lease ${name}: its namespace does not exist (${apiMessage(err)}); create it or set --lease-namespace`);
        throw err;
      }
    }
  }

  async function release(lease: V1Lease): Promise<void> {
    try {
      await opts.store.replace({ ...lease, spec: { ...lease.spec, holderIdentity: '' } });
    } catch {
      // Taken over after expiry, or the API is unreachable: the Lease expires on its own.
    }
  }

  return {
    async run(namespace, cluster, component, fn) {
      const lease = await acquire(namespace, cluster, component);
      try {
        return await fn();
      } finally {
        await release(lease);
      }
    },
  };
}
