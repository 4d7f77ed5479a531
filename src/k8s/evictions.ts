// Evict-leader entries this service added to PD are recorded in a ConfigMap per TiDB cluster, so that
// their cleanup survives restarts of this service and recreation of the TiKV pods (state lives in PD
// and in the cluster, not in memory).
import { PatchStrategy, setHeaderOptions, type V1ConfigMap } from '@kubernetes/client-node';
import { z } from 'zod';
import type { EvictionRecord } from '../domain/drain.ts';
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY } from '../domain/model.ts';
import { apiStatus, type KubeClients } from './client.ts';

export interface ClusterEvictions {
  namespace: string;
  cluster: string;
  records: EvictionRecord[];
}

export interface EvictionRecordPort {
  /** The records of one TiDB cluster (none when it has no ConfigMap). */
  forCluster(namespace: string, cluster: string): Promise<EvictionRecord[]>;
  put(namespace: string, cluster: string, record: EvictionRecord, podName: string): Promise<void>;
  remove(namespace: string, cluster: string, storeId: string): Promise<void>;
  list(): Promise<ClusterEvictions[]>;
}

const COMPONENT = 'tidb-steward-evictions';
export const evictionsConfigMapName = (cluster: string) => `${cluster}-tidb-steward-evictions`;
const keyOf = (storeId: string) => `store-${storeId}`;

const Stored = z.object({
  podUid: z.string(),
  podName: z.string().optional(),
  beganAt: z.string(),
  cause: z.enum(['removal', 'cordon']),
});

export function decodeRecords(data: Record<string, string> | undefined): EvictionRecord[] {
  const out: EvictionRecord[] = [];
  for (const [key, raw] of Object.entries(data ?? {})) {
    if (!key.startsWith('store-')) continue;
    try {
      const v = Stored.parse(JSON.parse(raw));
      out.push({ storeId: key.slice('store-'.length), podUid: v.podUid, beganAt: Date.parse(v.beganAt), cause: v.cause });
    } catch {
      // A hand-edited entry we cannot read is left alone rather than acted on.
    }
  }
  return out;
}

export function kubeEvictionRecords(clients: KubeClients): EvictionRecordPort {
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const read = async (namespace: string, cluster: string): Promise<V1ConfigMap | null> => {
    try {
      return await clients.core.readNamespacedConfigMap({ namespace, name: evictionsConfigMapName(cluster) });
    } catch (err) {
      if (apiStatus(err) === 404) return null;
      throw err;
    }
  };
  return {
    async forCluster(namespace, cluster) {
      return decodeRecords((await read(namespace, cluster))?.data);
    },
    async put(namespace, cluster, record, podName) {
      const value = JSON.stringify({ podUid: record.podUid, podName, beganAt: new Date(record.beganAt).toISOString(), cause: record.cause });
      const name = evictionsConfigMapName(cluster);
      try {
        await clients.core.patchNamespacedConfigMap({ namespace, name, body: { data: { [keyOf(record.storeId)]: value } } }, merge);
        return;
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
      try {
        await clients.core.createNamespacedConfigMap({
          namespace,
          body: {
            metadata: { name, labels: { [LABEL_MANAGED_BY]: 'tidb-steward', [LABEL_INSTANCE]: cluster, [LABEL_COMPONENT]: COMPONENT } },
            data: { [keyOf(record.storeId)]: value },
          },
        });
      } catch (err) {
        // Another replica created it first: add our key to theirs.
        if (apiStatus(err) !== 409) throw err;
        await clients.core.patchNamespacedConfigMap({ namespace, name, body: { data: { [keyOf(record.storeId)]: value } } }, merge);
      }
    },
    async remove(namespace, cluster, storeId) {
      try {
        await clients.core.patchNamespacedConfigMap(
          { namespace, name: evictionsConfigMapName(cluster), body: { data: { [keyOf(storeId)]: null } } },
          merge,
        );
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
    },
    async list() {
      const list = await clients.core.listConfigMapForAllNamespaces({ labelSelector: `${LABEL_COMPONENT}=${COMPONENT},${LABEL_MANAGED_BY}=tidb-steward` });
      return list.items.map((cm) => ({
        namespace: cm.metadata?.namespace ?? '',
        cluster: cm.metadata?.labels?.[LABEL_INSTANCE] ?? '',
        records: decodeRecords(cm.data),
      }));
    },
  };
}
