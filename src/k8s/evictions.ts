// The leader evictions tidb-steward started, per TiDB cluster, so that their cleanup survives restarts
// of this service and recreation of the TiKV pods. They are kept in the cluster's DisruptionLedger
// (disruptions.ts), which also holds the members whose removal was allowed.
import type { EvictionRecord } from '../domain/drain.ts';

export interface ClusterEvictions {
  namespace: string;
  cluster: string;
  records: EvictionRecord[];
}

export interface EvictionRecordPort {
  /** The records of one TiDB cluster (none when it has no ledger). */
  forCluster(namespace: string, cluster: string): Promise<EvictionRecord[]>;
  put(namespace: string, cluster: string, record: EvictionRecord, podName: string): Promise<void>;
  remove(namespace: string, cluster: string, storeId: string): Promise<void>;
  list(): Promise<ClusterEvictions[]>;
}
