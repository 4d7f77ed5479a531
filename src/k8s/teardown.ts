// Is a TiDB cluster being torn down? Read live (with a deadline) on the admission path: deleting a
// namespace or a cluster must complete, not wedge once PD has lost quorum half-way through.
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { TeardownLookups } from '../services/drain.ts';
import { apiStatus, type KubeClients } from './client.ts';
import { deadline } from './deadline.ts';

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
    async ownerDeleting(namespace, name) {
      let sts;
      try {
        sts = await clients.apps.readNamespacedStatefulSet({ namespace, name }, deadline(timeoutMs));
      } catch (err) {
        // Gone: the garbage collector is removing its pods (background cascading deletion).
        if (apiStatus(err) === 404) return true;
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
        if (apiStatus(err) === 404) return true;
        // No permission or no such API: judge by the StatefulSet alone.
        if (apiStatus(err) === 403) return false;
        throw err;
      }
    },
  };
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
    throw err;
  }
}
