// Is a TiDB cluster being torn down? Read live (with a deadline) on the admission path: deleting a
// namespace or a cluster must complete, not wedge once PD has lost quorum half-way through.
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { LivePodReader, TeardownLookups } from '../services/drain.ts';
import { apiMessage, apiStatus, type KubeClients } from './client.ts';
import { deadline } from './deadline.ts';
import { ADVANCED_STS_GROUP, podView } from './views.ts';

export function kubeTeardown(clients: KubeClients, timeoutMs: number): TeardownLookups {
  const custom = clients.kc.makeApiClient(CustomObjectsApi);
  return {
    async namespaceDeleting(namespace) {
      try {
        const ns = await clients.core.readNamespace({ name: namespace }, deadline(timeoutMs));
        return Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating';
      } catch (err) {
        if (apiStatus(err) === 404) return true;
        throw err;
      }
    },
    async ownerDeleting(namespace, name, kind) {
      const advanced = kind === 'apps.pingcap.com/v1';
      let sts: { metadata?: { deletionTimestamp?: unknown; ownerReferences?: Array<{ kind: string; apiVersion: string; name: string }> } };
      try {
        sts = advanced
          ? await custom.getNamespacedCustomObject({ group: ADVANCED_STS_GROUP, version: 'v1', namespace, plural: 'statefulsets', name }, deadline(timeoutMs))
          : await clients.apps.readNamespacedStatefulSet({ namespace, name }, deadline(timeoutMs));
      } catch (err) {
        // Gone: the garbage collector is removing its pods (background cascading deletion). Only a
        // NotFound naming this object says so: a 404 without it means the API itself is not served
        // (the Advanced StatefulSet CRD missing), which says nothing about teardown.
        if (apiStatus(err) === 404) return notFoundNames(err, advanced ? ADVANCED_STS_GROUP : 'apps', name);
        if (apiStatus(err) !== undefined) throw new Error(`cannot read ${kind} StatefulSet ${namespace}/${name}: ${apiMessage(err)}`);
        throw err;
      }
      if (sts.metadata?.deletionTimestamp) return true;
      const tc = sts.metadata?.ownerReferences?.find((o) => o.kind === 'TidbCluster');
      if (!tc) return false;
      const [group, version] = tc.apiVersion.includes('/') ? tc.apiVersion.split('/') : ['', tc.apiVersion];
      try {
        const owner = await custom.getNamespacedCustomObject({ group: group!, version: version!, namespace, plural: 'tidbclusters', name: tc.name }, deadline(timeoutMs));
        return Boolean(owner?.metadata?.deletionTimestamp);
      } catch (err) {
        // Gone, as above; a TidbCluster API that is not served says nothing.
        if (apiStatus(err) === 404) return notFoundNames(err, group!, tc.name);
        // No permission: judge by the StatefulSet alone.
        if (apiStatus(err) === 403) return false;
        throw err;
      }
    },
  };
}

/** A pod read live on the admission path, for an eviction of a pod the cache does not hold (yet). */
export function kubeLivePods(clients: Pick<KubeClients, 'core'>): LivePodReader {
  return {
    async read(namespace, name, timeoutMs) {
      try {
        return podView(await clients.core.readNamespacedPod({ namespace, name }, deadline(timeoutMs))).value;
      } catch (err) {
        if (apiStatus(err) === 404) return 'gone';
        const e = err as Error;
        if (e?.name === 'AbortError' || e?.name === 'TimeoutError') throw new Error(`no answer within ${timeoutMs} ms`);
        throw new Error(apiMessage(err));
      }
    },
  };
}

/** Does this 404 say that object `name` of API group `group` does not exist (a Status naming it)? */
export function notFoundNames(err: unknown, group: string, name: string): boolean {
  const body = (err as { body?: unknown }).body;
  let status: { reason?: unknown; details?: { name?: unknown; group?: unknown } } | undefined;
  try {
    status = typeof body === 'string' ? JSON.parse(body) : (body as typeof status);
  } catch {
    return false;
  }
  return status?.reason === 'NotFound' && status.details?.name === name && (status.details.group ?? '') === group;
}

/** PD client certificate, key and CA of one TiDB cluster, from its Secret; null when there is none. */
export async function readPdTlsSecret(clients: KubeClients, namespace: string, name: string, timeoutMs: number): Promise<{ ca: string; cert: string; key: string } | null> {
  try {
    const secret = await clients.core.readNamespacedSecret({ namespace, name }, deadline(timeoutMs));
    const d = secret.data ?? {};
    const text = (k: string) => (d[k] ? Buffer.from(d[k], 'base64').toString('utf8') : '');
    const material = { ca: text('ca.crt'), cert: text('tls.crt'), key: text('tls.key') };
    if (!material.ca || !material.cert || !material.key) throw new Error(`Secret ${namespace}/${name} lacks ca.crt, tls.crt or tls.key`);
    return material;
  } catch (err) {
    if (apiStatus(err) === 404) return null;
    // A namespace without the per-namespace RoleBinding (manifests/rbac.yaml): say what to create.
    if (apiStatus(err) === 403) {
      throw new Error(
        `tidb-steward may not read Secret ${namespace}/${name} (the PD client certificate; HTTP 403): bind the ClusterRole tidb-steward-ledger to tidb-steward's service account in namespace ${namespace}, e.g. kubectl -n ${namespace} create rolebinding tidb-steward-ledger --clusterrole=tidb-steward-ledger --serviceaccount=tidb-steward:tidb-steward`,
      );
    }
    if (apiStatus(err) !== undefined) throw new Error(`cannot read Secret ${namespace}/${name}: ${apiMessage(err)}`);
    throw err;
  }
}
