// Drain policy as pure functions: may this PD or TiKV pod go now, and if not, what must happen first?
// Each decision carries the sentence a person reads in `kubectl drain` output and in Events.

export type DrainAction = { type: 'transfer-pd-leader'; from: string; to: string } | { type: 'evict-tikv-leaders'; storeId: string };

export type DrainDecision =
  | { kind: 'allow'; reason: string; warning?: string; action?: DrainAction }
  | { kind: 'wait'; reason: string; retryAfterSeconds: number; action?: DrainAction };

export interface PdMemberState {
  name: string;
  healthy: boolean;
  /** Its pod is running on a schedulable node and is not being deleted: it may take leadership. */
  canLead: boolean;
}

export interface PdState {
  members: readonly PdMemberState[];
  /** Name of the PD leader, or null during an election. */
  leader: string | null;
}

/**
 * Sent as retryAfterSeconds: the API server turns it into a Retry-After header, and client-go retries
 * such 429s itself (up to 10 times) before kubectl drain sees them and retries every 5 s. A short
 * value keeps a drain moving within a second of the pod becoming safe to remove.
 */
export const RETRY_SECONDS = 1;

/** PD pods go only when PD keeps quorum without them and they no longer lead. */
export function decidePdRemoval(podName: string, pd: PdState): DrainDecision {
  const self = pd.members.find((m) => m.name === podName);
  if (!self) return { kind: 'allow', reason: `${podName} is not a member of this PD cluster` };
  const n = pd.members.length;
  const majority = Math.floor(n / 2) + 1;
  const healthyOthers = pd.members.filter((m) => m.name !== podName && m.healthy);
  if (!self.healthy) {
    return { kind: 'allow', reason: `PD member ${podName} is not healthy, so removing its pod does not lower the ${healthyOthers.length} of ${n} healthy members` };
  }
  if (healthyOthers.length < majority) {
    const sick = pd.members.filter((m) => !m.healthy).map((m) => m.name);
    return {
      kind: 'wait',
      retryAfterSeconds: RETRY_SECONDS,
      reason: `removing PD member ${podName} would leave ${healthyOthers.length} of ${n} members healthy, below the quorum of ${majority}; waiting for ${sick.join(', ') || 'the other members'} to become healthy`,
    };
  }
  if (pd.leader === null) return { kind: 'wait', retryAfterSeconds: RETRY_SECONDS, reason: 'PD has no leader right now (an election is in progress); waiting for one' };
  if (pd.leader !== podName) {
    return { kind: 'allow', reason: `${podName} is not the PD leader (${pd.leader} is) and ${healthyOthers.length} of ${n} members stay healthy` };
  }
  const successor = healthyOthers.filter((m) => m.canLead).map((m) => m.name).sort()[0];
  if (!successor) {
    return { kind: 'wait', retryAfterSeconds: RETRY_SECONDS, reason: `PD leader ${podName} has no healthy successor on a schedulable node to hand leadership to; waiting` };
  }
  return {
    kind: 'wait',
    retryAfterSeconds: RETRY_SECONDS,
    reason: `transferring PD leader from ${podName} to ${successor}`,
    action: { type: 'transfer-pd-leader', from: podName, to: successor },
  };
}

export interface TikvStoreState {
  id: string;
  /** PD's state_name: Up, Offline, Tombstone, Disconnected, Down, Preparing, Serving, Removing, Removed. */
  stateName: string;
  leaderCount: number;
  regionCount: number;
}

export interface TikvState {
  /** The pod's store in PD, or null if none matches it. */
  store: TikvStoreState | null;
  /** The store is in PD's evict-leader scheduler. */
  evicting: boolean;
  /** When this service began evicting leaders for the pod now being removed (ms), if it did. */
  evictionBeganAt: number | null;
}

export interface TikvPolicy {
  /** After this long, the pod may go even with leaders left (with a warning). */
  evictTimeoutMs: number;
  now: number;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/** TiKV pods go once their store leads no regions, so clients never lose a leader without warning. */
export function decideTikvRemoval(podName: string, tikv: TikvState, policy: TikvPolicy): DrainDecision {
  const { store } = tikv;
  if (!store) return { kind: 'allow', reason: `no TiKV store in PD belongs to ${podName}` };
  const s = store.stateName;
  if (s === 'Tombstone' || s === 'Removed') return { kind: 'allow', reason: `store ${store.id} of ${podName} is ${s}` };
  if (s === 'Offline' || s === 'Removing') {
    return {
      kind: 'wait',
      retryAfterSeconds: RETRY_SECONDS * 2,
      reason: `store ${store.id} of ${podName} is going offline and still holds ${store.regionCount} regions; removing its pod now would cut that data move short`,
    };
  }
  if (s === 'Down' || s === 'Disconnected') {
    return { kind: 'allow', reason: `store ${store.id} of ${podName} is ${s}: it serves no leaders, so its pod may go` };
  }
  const action: DrainAction | undefined = tikv.evicting ? undefined : { type: 'evict-tikv-leaders', storeId: store.id };
  if (store.leaderCount === 0) {
    return { kind: 'allow', reason: `store ${store.id} of ${podName} leads no regions`, ...(action ? { action } : {}) };
  }
  const began = tikv.evictionBeganAt;
  if (began !== null && tikv.evicting && policy.now - began >= policy.evictTimeoutMs) {
    return {
      kind: 'allow',
      reason: `evicting leaders from store ${store.id} of ${podName} did not finish within ${seconds(policy.evictTimeoutMs)}`,
      warning: `${podName} goes with ${store.leaderCount} region leaders still on store ${store.id}: clients of those regions see errors until new leaders are elected`,
    };
  }
  const since = began !== null ? ` (for ${seconds(policy.now - began)})` : '';
  return {
    kind: 'wait',
    retryAfterSeconds: RETRY_SECONDS,
    reason: `evicting ${store.leaderCount} region leaders from TiKV store ${store.id} of ${podName}${since}`,
    ...(action ? { action } : {}),
  };
}

export interface EvictionRecord {
  storeId: string;
  /** The pod the eviction was started for. */
  podUid: string;
  beganAt: number;
  /** 'removal': the pod is being deleted or evicted; 'cordon': its node was cordoned ahead of a drain. */
  cause: 'removal' | 'cordon';
}

export interface StorePodNow {
  uid: string;
  running: boolean;
  deleting: boolean;
  nodeSchedulable: boolean;
}

/**
 * Should an evict-leader entry this service added be removed now? Yes once the store is gone, or once
 * a new pod serves it again on a schedulable node with the store Up; also when the removal it was
 * started for was given up (the same pod still runs on a schedulable node well after the timeout).
 */
export function decideEvictionCleanup(
  record: EvictionRecord,
  store: { stateName: string } | null,
  pod: StorePodNow | null,
  policy: TikvPolicy & { abandonAfterMs: number },
): { remove: boolean; reason: string } {
  if (!store || store.stateName === 'Tombstone' || store.stateName === 'Removed') {
    return { remove: true, reason: `store ${record.storeId} no longer exists` };
  }
  if (!pod) return { remove: false, reason: `store ${record.storeId} has no pod yet` };
  const serving = pod.running && !pod.deleting && pod.nodeSchedulable && store.stateName === 'Up';
  if (serving && pod.uid !== record.podUid) return { remove: true, reason: `the pod of store ${record.storeId} is back and the store is Up` };
  if (serving && record.cause === 'cordon') return { remove: true, reason: `the node of store ${record.storeId} was uncordoned` };
  if (serving && policy.now - record.beganAt >= policy.evictTimeoutMs + policy.abandonAfterMs) {
    return { remove: true, reason: `the removal of the pod of store ${record.storeId} was not carried out; its leaders may return` };
  }
  return { remove: false, reason: `store ${record.storeId} is still being drained` };
}
