// Drain policy as pure functions: may this PD or TiKV pod go now, and if not, what must happen first?
// Each decision carries the sentence a person reads in `kubectl drain` output and in Events.
//
// The disruption decision, for every caller that removes a member (webhooks, the controller's
// scale-in, rolling upgrade and failover):
//
//   decideDisruption(input: DisruptionInput, now: number): { allowed: boolean; reason: string }
//
// `input.members` are the states of every member of one component of one TiDB cluster (PD members or
// TiKV stores), each `healthy` as PD reports it and `leaving` when its removal was already allowed (the
// per-cluster DisruptionLedger), its pod is deleting, not Ready or gone, or its node is being drained.
// PD: allowed only if the healthy members that are not leaving, without this one, still hold a
// majority. TiKV: allowed only if no region can lose its majority (at most floor((R-1)/2) stores of
// max-replicas R away at once, counting the stores already leaving or not Up plus the most
// down, offline or missing peers PD reports in any one region). A PD member that is not healthy, or a
// store that is not Up, may always go: it is away already. TiDB is never gated. A caller that acts on
// `allowed` must first record the member as leaving in the ledger with a resourceVersion
// precondition, so that concurrent replicas serialise.

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
  /**
   * When the eviction began (ms): when this service started it for the pod now being removed, or
   * when it first saw an eviction someone else started; null when neither.
   */
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
  // Disconnected (about 20 s without a heartbeat) may still lead regions: it waits like Up.
  if (s === 'Down') {
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
  /**
   * 'removal': the pod is being deleted or evicted; 'cordon': its node was cordoned ahead of a drain;
   * 'suspend': the controller stops the store (spec.suspend); 'restart': a rolling upgrade restarts it.
   */
  cause: 'removal' | 'cordon' | 'suspend' | 'restart';
  /** Removal: when the pod's removal was last asked for; an eviction nobody asks about any more gives way. */
  askedAt?: number;
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

// ---- disruption accounting ---------------------------------------------------------------------

export interface MemberDisruptionState {
  /** PD member name or TiKV store id. */
  name: string;
  /** PD: the member answers its health check. TiKV: the store is Up. */
  healthy: boolean;
  /** Why the member is away or about to be (null when it is not): allowed removal, pod deleting, ... */
  leaving: string | null;
  /**
   * The only reason is that its node is being drained (cordon, autoscaler taint): the pod still
   * serves. Such members yield to each other by name so that two nodes drained together never
   * deadlock: one goes first, the other waits for it.
   */
  leavingSoft?: boolean;
  /** When it started leaving (ms), for the reason text. */
  leavingSince?: number | null;
}

/**
 * What takes the member out of service. The webhooks' acts (a pod eviction or delete, a node drain) and
 * the controller's (scale-in, suspend, and the restarts and replacements of upgrades and failover)
 * are all judged here and recorded in the DisruptionLedger before they happen.
 */
export type DisruptionAct = 'eviction' | 'delete' | 'drain' | 'scale-in' | 'suspend' | 'restart' | 'failover';

/** Acts the controller carries out itself: their pods' deletions are allowed once recorded. */
export const CONTROLLER_ACTS: ReadonlySet<DisruptionAct> = new Set(['scale-in', 'suspend', 'restart', 'failover']);

export interface DisruptionInput {
  component: 'pd' | 'tikv' | 'tidb';
  /** What is asked for; default a pod removal. A suspend stops the whole cluster knowingly. */
  act?: DisruptionAct;
  /** The member whose removal is asked for (PD member name, TiKV store id). */
  member: string;
  members: readonly MemberDisruptionState[];
  /** TiKV: PD's replication.max-replicas (default 3). */
  maxReplicas?: number;
  /**
   * TiKV: the most peers any one region lacks, from PD's region checks (missing peers, and peers that
   * are down or on offline stores); 0 when PD reports none.
   */
  regionFaults?: number;
  /** TiKV: how many regions PD reports with such faults, for the reason text. */
  faultyRegions?: number;
}

export interface DisruptionDecision {
  allowed: boolean;
  reason: string;
}

/** The other members that count as away: leaving (hard), or soft-leaving and ahead by name. */
function away(others: readonly MemberDisruptionState[], self: MemberDisruptionState | undefined, selfName: string): MemberDisruptionState[] {
  return others.filter((m) => {
    if (m.leaving === null) return false;
    if (!m.leavingSoft) return true;
    // Two members leaving only because their nodes drain: the one with the smaller name goes first.
    // Stryker disable next-line EqualityOperator: equivalent, no other member has this member's name
    return !(self?.leavingSoft && selfName < m.name);
  });
}

function describe(m: MemberDisruptionState, now: number): string {
  const since = m.leavingSince != null ? ` for ${seconds(Math.max(0, now - m.leavingSince))}` : '';
  return `${m.name} (${m.leaving}${since})`;
}

/** May this member be removed now, given every member of its component? Pure; see the file header. */
export function decideDisruption(input: DisruptionInput, now: number): DisruptionDecision {
  if (input.component === 'tidb') return { allowed: true, reason: 'TiDB servers hold no quorum or data; their removal is not gated' };
  if (input.act === 'suspend') {
    return { allowed: true, reason: `the cluster is being suspended (spec.suspend): its ${input.component === 'pd' ? 'PD members' : 'TiKV stores'} stop one after another and keep their data` };
  }
  const self = input.members.find((m) => m.name === input.member);
  return input.component === 'pd' ? decidePdDisruption(input, self, now) : decideTikvDisruption(input, self, now);
}

function decidePdDisruption(input: DisruptionInput, self: MemberDisruptionState | undefined, now: number): DisruptionDecision {
  const n = input.members.length;
  const majority = Math.floor(n / 2) + 1;
  const others = input.members.filter((m) => m.name !== input.member);
  const gone = away(others, self, input.member);
  const goneNames = new Set(gone.map((m) => m.name));
  const staying = others.filter((m) => m.healthy && !goneNames.has(m.name));
  if (!self) return { allowed: true, reason: `${input.member} is not a member of this PD cluster` };
  if (!self.healthy) {
    return { allowed: true, reason: `PD member ${input.member} is not healthy, so removing it does not lower the ${staying.length} of ${n} healthy members that stay` };
  }
  if (staying.length >= majority) {
    return { allowed: true, reason: `${staying.length} of ${n} PD members stay healthy without ${input.member} (quorum ${majority})` };
  }
  const sick = others.filter((m) => !m.healthy && !goneNames.has(m.name)).map((m) => `${m.name} (unhealthy)`);
  const blockers = [...gone.map((m) => describe(m, now)), ...sick];
  return {
    allowed: false,
    reason: `removing PD member ${input.member} would leave ${staying.length} of ${n} members healthy, below the quorum of ${majority}; waiting for ${blockers.join(', ') || 'the other members'}`,
  };
}

function decideTikvDisruption(input: DisruptionInput, self: MemberDisruptionState | undefined, now: number): DisruptionDecision {
  if (!self) return { allowed: true, reason: `store ${input.member} is not a store of this cluster` };
  const replicas = Math.max(1, input.maxReplicas ?? 3);
  const tolerated = Math.floor((replicas - 1) / 2);
  const others = input.members.filter((m) => m.name !== input.member);
  const gone = away(others, self, input.member);
  const goneNames = new Set(gone.map((m) => m.name));
  const down = others.filter((m) => !m.healthy && !goneNames.has(m.name));
  const faults = Math.max(0, input.regionFaults ?? 0);
  if (!self.healthy) {
    // Its peers are away already (PD's down-peer check counts them too): its pod going changes nothing
    // for any region, also when it is leaving already (a crashed pod is not Ready).
    return { allowed: true, reason: `store ${input.member} is not Up: its regions already count it away` };
  }
  // Worst case: the stores away and the faults PD reports all hit the same region.
  const awayCount = gone.length + down.length + faults + 1;
  if (awayCount <= tolerated) {
    return { allowed: true, reason: `with store ${input.member} away, at most ${awayCount} peers of any region are away, within the ${tolerated} that ${replicas} replicas tolerate` };
  }
  const blockers = [
    ...gone.map((m) => `store ${describe(m, now)}`),
    ...down.map((m) => `store ${m.name} (not Up)`),
    ...(faults ? [`${input.faultyRegions ?? 'some'} regions PD reports with down, offline or missing peers (up to ${faults} in one region)`] : []),
  ];
  return {
    allowed: false,
    reason: `removing store ${input.member} would let regions lose their majority (${replicas} replicas tolerate ${tolerated} away); waiting for ${blockers.join(', ')}`,
  };
}

/** A removal tidb-steward allowed, kept in the cluster's DisruptionLedger until the member is back. */
export interface LeavingEntry {
  component: 'pd' | 'tikv';
  /** PD member name or TiKV store id. */
  member: string;
  pod: string;
  podUid: string;
  since: number;
  /** What was allowed (entries written before acts were recorded read as a pod removal). */
  act?: DisruptionAct;
}

export interface LeavingPodNow {
  uid: string;
  running: boolean;
  ready: boolean;
  deleting: boolean;
}

/**
 * May a leaving entry be dropped? Once the member's replacement runs, is Ready and PD counts the member
 * healthy again; once the member is gone from PD with no pod left (scale-in); or once a removal that
 * was allowed was never carried out (the same pod still serves well after the allowance).
 */
export function decideLeavingCleanup(
  entry: LeavingEntry,
  pod: LeavingPodNow | null,
  member: { healthy: boolean } | null,
  policy: { now: number; abandonAfterMs: number },
): { remove: boolean; reason: string } {
  const what = `${entry.component === 'pd' ? 'PD member' : 'store'} ${entry.member}`;
  if (!member && !pod) return { remove: true, reason: `${what} and its pod ${entry.pod} are gone` };
  if (!pod) return { remove: false, reason: `${what} has no pod yet` };
  if (pod.running && pod.ready && !pod.deleting) {
    if (pod.uid !== entry.podUid) {
      if (!member) return { remove: true, reason: `${entry.pod} is back and ${what} is no longer part of the cluster` };
      if (member.healthy) return { remove: true, reason: `${entry.pod} is back and ${what} is healthy` };
      return { remove: false, reason: `${entry.pod} is back but ${what} is not healthy yet` };
    }
    if (policy.now - entry.since >= policy.abandonAfterMs && (member?.healthy ?? false)) {
      return { remove: true, reason: `the allowed removal of ${entry.pod} was not carried out; it still serves` };
    }
  }
  return { remove: false, reason: `${what} is still leaving` };
}

// ---- room for evicted leaders ------------------------------------------------------------------

export interface EvictionRoomStore {
  id: string;
  /** The store is Up: it can take leaders. */
  up: boolean;
  /** In PD's evict-leader scheduler: it gives its leaders away and takes none. */
  evicting: boolean;
  /** Why it evicts (the ledger's record, or "started by someone else"), for the reason text. */
  why?: string;
  /**
   * Its eviction was started for a pod removal that nobody asks for any more while the pod still
   * serves: it may be ended to make room.
   */
  abandoned?: boolean;
}

export type EvictionRoom = { allowed: true; reason: string } | { allowed: false; reason: string; giveWay: string[] };

/**
 * May leaders be evicted from this store now? A region's leader can only move to one of its other
 * peers on a store that is Up and not evicting itself. With R replicas (or fewer stores) a region has
 * R-1 other peers; in the worst case they sit on the stores that cannot take leaders, so at most R-2
 * other stores may be unable to. When more are, abandoned evictions give way first (`giveWay`); otherwise the eviction
 * waits and says for what, instead of leaving leaders with nowhere to go.
 */
export function decideEvictionRoom(storeId: string, stores: readonly EvictionRoomStore[], maxReplicas: number): EvictionRoom {
  // A region has max-replicas peers, or fewer when there are fewer stores.
  const peers = Math.min(maxReplicas, stores.length);
  if (peers < 2) return { allowed: true, reason: `with max-replicas ${maxReplicas} and ${stores.length} stores a region has no other peer: nothing can take its leaders, and nothing is lost by asking` };
  const others = stores.filter((s) => s.id !== storeId);
  const cannot = others.filter((s) => !s.up || s.evicting);
  const limit = peers - 2;
  if (cannot.length <= limit) {
    return { allowed: true, reason: `every region keeps a peer on a store that can take its leader (${cannot.length} of the other stores cannot, ${limit} may)` };
  }
  const abandoned = cannot.filter((s) => s.up && s.evicting && s.abandoned);
  const giveWay = abandoned.slice(0, cannot.length - limit).map((s) => s.id);
  const describeStore = (s: EvictionRoomStore) => `store ${s.id} (${!s.up ? 'not Up' : s.why ?? 'evicting leaders'})`;
  return {
    allowed: false,
    giveWay: giveWay.length === cannot.length - limit ? giveWay : [],
    reason: `evicting leaders from store ${storeId} now could leave regions with nowhere to put their leaders: ${cannot.map(describeStore).join(', ')} cannot take leaders and ${peers} peers per region leave room for ${limit}; waiting for ${cannot.length - limit === 1 ? 'one of them' : `${cannot.length - limit} of them`} to end`,
  };
}
