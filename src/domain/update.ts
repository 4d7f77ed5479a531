// The rolling-upgrade decision of one component: given its StatefulSet (partition, revisions), its
// pods and what PD says, the one next act and why. The StatefulSet's RollingUpdate partition is
// lowered one ordinal at a time, highest first; nothing else restarts a member. At most one member of
// the component is away at any moment: a member restarted must be Ready (and healthy in PD, its store
// Up with leaders back) before the next one goes. Pure: plain data and `now` in, a value with its
// reason out. The controller asks the disruption authority (act 'restart') before it acts on it.
import type { ComponentName } from '../cluster/schema.ts';
import type { EvictionRecord, LeavingEntry } from './drain.ts';

export interface UpdatePod {
  name: string;
  ordinal: number;
  uid?: string;
  /** The pod's controller-revision-hash label; null when it has none. */
  revision: string | null;
  running: boolean;
  ready: boolean;
  deleting: boolean;
  /** Creation time (ms): a restarted pod's clock for becoming Ready and for its leaders to return. */
  createdAt: number;
}

export interface UpdateSts {
  replicas: number;
  /** spec.updateStrategy.rollingUpdate.partition: pods at this ordinal and above get the update revision. */
  partition: number;
  currentRevision: string;
  updateRevision: string;
  /** status.observedGeneration has caught up with metadata.generation: the revisions describe the spec. */
  observed: boolean;
}

export interface UpdateStore {
  id: string;
  pod: string | null;
  state: string;
  leaderCount: number;
  regionCount: number;
}

export interface UpdatePolicy {
  /** Leader eviction gives up after this long without the store's leader count going down. */
  evictTimeoutMs: number;
  /** A restarted member that is not Ready and healthy after this long stops the upgrade. */
  readyTimeoutMs: number;
  /** How long to wait for a restarted store to lead regions again before the next goes. */
  leaderReturnMs: number;
}

export interface UpdateInput {
  component: ComponentName;
  sts: UpdateSts | null;
  pods: readonly UpdatePod[];
  /** PD: members as PD reports them (reachable false: unknown). */
  pd?: { reachable: boolean; error?: string; members: ReadonlyArray<{ name: string; healthy: boolean }>; leader: string | null };
  /** TiKV: PD's stores (null: unknown). */
  stores?: readonly UpdateStore[] | null;
  /** TiKV: store ids in PD's evict-leader scheduler (null: unknown). */
  evicting?: readonly string[] | null;
  /** TiKV: when the store's leader count last went down during its eviction (see trackEviction). */
  evictProgress?: EvictProgress | null;
  ledger: { leaving: readonly LeavingEntry[]; evictions: readonly EvictionRecord[] };
  now: number;
  policy: UpdatePolicy;
}

export type UpdateAct =
  | { type: 'done'; reason: string }
  | { type: 'wait'; reason: string; pod?: string }
  | { type: 'transfer-pd-leader'; to: string; reason: string }
  | { type: 'evict-leaders'; storeId: string; pod: string; reason: string }
  /** Lower the partition to the pod's ordinal (deletePod: delete the pod as well, which the StatefulSet would not). */
  | { type: 'restart'; pod: string; ordinal: number; deletePod: boolean; reason: string; warning?: string }
  | { type: 'end-evict'; storeId: string; pod: string; reason: string }
  | { type: 'stuck'; pod: string; reason: string };

export interface UpdateDecision {
  act: UpdateAct;
  /** The partition to apply with this act. */
  partition: number;
  /** Members at the update revision (for the status). */
  updated: number;
}

export interface EvictProgress {
  storeId: string;
  leaderCount: number;
  /** When the count was first seen at this value. */
  since: number;
}

/** The eviction's progress after one more look at the store: the clock restarts whenever the count drops. */
export function trackEviction(prev: EvictProgress | null | undefined, storeId: string, leaderCount: number, now: number): EvictProgress {
  if (!prev || prev.storeId !== storeId || leaderCount < prev.leaderCount) return { storeId, leaderCount, since: now };
  // A count that grew (leaders balanced back) keeps the clock: it is not progress.
  return { storeId, leaderCount: Math.min(prev.leaderCount, leaderCount), since: prev.since };
}

const majority = (n: number) => Math.floor(n / 2) + 1;
const isUp = (state: string) => state === 'Up' || state === 'Serving';
const secs = (ms: number) => `${Math.round(ms / 1000)}s`;
const LABEL: Record<ComponentName, string> = { pd: 'PD', tikv: 'TiKV', tidb: 'TiDB' };

function storeOfPod(stores: readonly UpdateStore[], pod: string): UpdateStore | undefined {
  const all = stores.filter((s) => s.pod === pod);
  return all.find((s) => s.state !== 'Tombstone' && s.state !== 'Removed') ?? all[all.length - 1];
}

export function decideUpdate(input: UpdateInput): UpdateDecision {
  const { component, sts, now, policy } = input;
  const C = LABEL[component];
  if (!sts) return { act: { type: 'done', reason: `${C} has no StatefulSet yet: nothing to upgrade` }, partition: 0, updated: 0 };
  const replicas = sts.replicas;
  const partition = Math.max(0, Math.min(sts.partition, replicas));
  const byOrdinal = new Map(input.pods.map((p) => [p.ordinal, p]));
  const members = Array.from({ length: replicas }, (_, i) => byOrdinal.get(i));
  const isUpdated = (p: UpdatePod | undefined) => !!p && p.revision === sts.updateRevision;
  const updated = members.filter(isUpdated).length;
  const out = (act: UpdateAct, p = partition): UpdateDecision => ({ act, partition: p, updated });
  if (!sts.observed || !sts.updateRevision) return out({ type: 'wait', reason: `the StatefulSet controller has not yet taken in ${C}'s latest pod template; waiting for its revisions` });
  if (replicas === 0) return out({ type: 'done', reason: `${C} has no members` }, 0);
  // No roll under way: one revision, every pod at it, no restart of ours still settling (a member
  // that is not Ready then is a creation or a failure, not the upgrade's business).
  const settling = input.ledger.leaving.some((e) => e.component === component && e.act === 'restart') || input.ledger.evictions.some((r) => r.cause === 'restart' && component === 'tikv');
  if (sts.currentRevision === sts.updateRevision && !settling && members.every((p) => !p || isUpdated(p))) {
    return out({ type: 'done', reason: `no rolling upgrade under way: ${C} runs revision ${sts.updateRevision}` }, 0);
  }

  // What PD must say before anything of PD or TiKV is judged: unknown facts wait.
  if (component === 'pd' && !input.pd?.reachable) return out({ type: 'wait', reason: `cannot tell PD members' health: ${input.pd?.error ?? 'PD does not answer'}; waiting` });
  if (component === 'tikv' && !input.stores) return out({ type: 'wait', reason: 'cannot read TiKV stores from PD; waiting' });
  const stores = input.stores ?? [];
  const pdMembers = input.pd?.members ?? [];

  /** null when the member serves; else what it lacks. */
  const away = (i: number): string | null => {
    const p = members[i];
    if (!p) return `the pod of ordinal ${i} does not exist`;
    if (p.deleting) return `pod ${p.name} is terminating`;
    if (!p.running || !p.ready) return `pod ${p.name} is not Ready`;
    if (component === 'pd') {
      const m = pdMembers.find((x) => x.name === p.name);
      if (!m) return `${p.name} is not a PD member yet`;
      if (!m.healthy) return `PD member ${p.name} is not healthy`;
    }
    if (component === 'tikv') {
      const st = storeOfPod(stores, p.name);
      if (!st) return `${p.name} has no TiKV store yet`;
      if (!isUp(st.state)) return `store ${st.id} of ${p.name} is ${st.state}`;
    }
    return null;
  };
  const stuckReason = (p: UpdatePod, why: string) =>
    `${p.name} was restarted at revision ${sts.updateRevision} ${secs(now - p.createdAt)} ago and ${why}; the upgrade of ${C} stops here. Look at the pod (image, config, logs); a fixed spec (version, image or config) resumes it`;

  // 1. The members already at or above the partition must be updated and serving.
  for (let i = replicas - 1; i >= partition; i--) {
    const p = members[i];
    if (!p || p.deleting || !isUpdated(p)) {
      const what = !p ? 'to be created again' : p.deleting ? 'to terminate' : 'to be replaced';
      return out({ type: 'wait', pod: p?.name ?? `#${i}`, reason: `waiting for ${p?.name ?? `the pod of ordinal ${i}`} ${what} at revision ${sts.updateRevision} (StatefulSet controller)` });
    }
    const why = away(i);
    if (why) {
      if (now - p.createdAt >= policy.readyTimeoutMs) return out({ type: 'stuck', pod: p.name, reason: stuckReason(p, why) });
      return out({ type: 'wait', pod: p.name, reason: `waiting for ${p.name} after its restart: ${why}` });
    }
    if (component === 'tikv' && i === partition) {
      const st = storeOfPod(stores, p.name)!;
      if (input.evicting === null || input.evicting === undefined) return out({ type: 'wait', pod: p.name, reason: `cannot tell whether PD still evicts leaders from store ${st.id}; waiting` });
      if (input.evicting.includes(st.id)) return out({ type: 'end-evict', storeId: st.id, pod: p.name, reason: `${p.name} serves again at revision ${sts.updateRevision} (store ${st.id} Up): its leaders may return` });
      if (st.leaderCount === 0 && st.regionCount > 0) {
        const waited = now - p.createdAt;
        if (waited < policy.leaderReturnMs) return out({ type: 'wait', pod: p.name, reason: `waiting for store ${st.id} of ${p.name} to lead regions again (${secs(waited)} of at most ${secs(policy.leaderReturnMs)})` });
      }
    }
  }

  // 2. Every member below the partition serves, or one is away and gets restarted first.
  const awayBelow = Array.from({ length: partition }, (_, i) => i).map((i) => ({ i, why: away(i) })).filter((x) => x.why !== null);
  const target = partition - 1;
  if (partition === 0 || members.slice(0, partition).every(isUpdated)) {
    if (awayBelow.length) return out({ type: 'wait', pod: members[awayBelow[0]!.i]?.name ?? '', reason: `every ${C} member is at revision ${sts.updateRevision}; waiting for ${awayBelow.map((x) => x.why).join(', ')}` });
    return out({ type: 'done', reason: `all ${replicas} ${C} members are at revision ${sts.updateRevision} and serving` }, 0);
  }
  // Members below the partition already at the update revision need no restart: the partition skips them.
  let next = target;
  while (next >= 0 && isUpdated(members[next])) next--;
  const others = awayBelow.filter((x) => x.i !== next);
  if (others.length) {
    // A pod stuck at a revision that is neither the current nor the update one (a bad spec since
    // fixed) and not Ready: the StatefulSet does not replace it below the partition, so it is deleted.
    const bad = others.find((x) => {
      const p = members[x.i];
      // A PD member PD still counts healthy is never deleted this way: quorum rules apply to it.
      const inPd = component === 'pd' && pdMembers.some((m) => m.name === p?.name && m.healthy);
      return p && !inPd && !p.deleting && !p.ready && p.revision !== sts.currentRevision && !isUpdated(p) && now - p.createdAt >= policy.readyTimeoutMs;
    });
    if (bad && others.length === 1 && !awayBelow.some((x) => x.i === next)) {
      const p = members[bad.i]!;
      return out({ type: 'restart', pod: p.name, ordinal: p.ordinal, deletePod: true, reason: `${p.name} is stuck at revision ${p.revision ?? '(none)'} (neither the current nor the update one) and not Ready: it is deleted so the StatefulSet makes it again` });
    }
    return out({ type: 'wait', pod: members[others[0]!.i]?.name ?? '', reason: `one ${C} member at a time: waiting for ${others.map((x) => x.why).join(', ')}` });
  }
  const p = members[next];
  if (!p) return out({ type: 'wait', reason: `waiting for the pod of ordinal ${next} to exist` });
  const targetAway = awayBelow.some((x) => x.i === next);
  // The partition only moves past members at the update revision and the target.
  const restart = (reason: string, warning?: string): UpdateDecision =>
    out({ type: 'restart', pod: p.name, ordinal: p.ordinal, deletePod: false, reason, ...(warning ? { warning } : {}) }, next);
  // The target's own records (its eviction, or an earlier restart that left it stuck) are no other member away.
  const pendingLedger = input.ledger.leaving.filter((e) => e.component === component && e.pod !== p.name);
  if (pendingLedger.length) {
    return out({ type: 'wait', pod: p.name, reason: `before restarting ${p.name}: ${pendingLedger.map((e) => `${e.pod} still counts as leaving (${e.act ?? 'removal'})`).join(', ')} in the DisruptionLedger; one member at a time` });
  }
  // A PD member PD still counts healthy is judged like a serving one (quorum, leadership).
  const countsInPd = component === 'pd' && pdMembers.some((m) => m.name === p.name && m.healthy);
  if (targetAway && !countsInPd) return restart(`${p.name} is away already (${away(next)}): restarting it at revision ${sts.updateRevision} costs nothing more`);

  if (component === 'pd') {
    const pd = input.pd!;
    const healthy = pdMembers.filter((m) => m.healthy);
    const healthyOthers = healthy.filter((m) => m.name !== p.name).length;
    const n = pdMembers.length;
    if (healthyOthers < majority(n)) {
      const advice = n <= 2 ? `; with ${n} member${n === 1 ? '' : 's'} PD cannot restart one without losing its quorum: raise spec.pd.replicas to 3 first` : '; waiting';
      return out({ type: 'wait', pod: p.name, reason: `restarting ${p.name} would leave ${healthyOthers} of ${n} PD members healthy, below the quorum of ${majority(n)}${advice}` });
    }
    if (!pd.leader) return out({ type: 'wait', pod: p.name, reason: 'PD has no leader right now (an election is in progress); waiting' });
    const serving = (name: string) => {
      const q = members.find((m) => m?.name === name);
      return !!q && away(q.ordinal) === null;
    };
    const first = partition === replicas && updated === 0;
    const zero = members[0];
    if (first && zero && pd.leader !== zero.name && serving(zero.name)) {
      return out({ type: 'transfer-pd-leader', to: zero.name, reason: `moving PD leadership from ${pd.leader} to ${zero.name} before the upgrade, so that the leader's restart (ordinal 0, restarted last) is the last` });
    }
    if (pd.leader === p.name) {
      const candidates = healthy.filter((m) => m.name !== p.name && serving(m.name));
      const to = candidates.find((m) => isUpdated(members.find((q) => q?.name === m.name))) ?? candidates[0];
      if (!to) return out({ type: 'wait', pod: p.name, reason: `PD leader ${p.name} has no healthy successor to hand leadership to; waiting` });
      return out({ type: 'transfer-pd-leader', to: to.name, reason: `transferring PD leadership from ${p.name} to ${to.name} before ${p.name} restarts` });
    }
    return restart(`restarting ${p.name} at revision ${sts.updateRevision}: it is not the PD leader (${pd.leader} is) and ${healthyOthers} of ${n} members stay healthy`);
  }

  if (component === 'tikv') {
    const st = storeOfPod(stores, p.name);
    if (!st || !isUp(st.state) || st.leaderCount === 0) {
      return restart(`restarting ${p.name} at revision ${sts.updateRevision}: ${st ? `store ${st.id} leads no region` : 'it has no store'}`);
    }
    if (input.evicting === null || input.evicting === undefined) return out({ type: 'wait', pod: p.name, reason: `cannot tell whether PD evicts leaders from store ${st.id}; waiting` });
    if (!input.evicting.includes(st.id)) {
      return out({ type: 'evict-leaders', storeId: st.id, pod: p.name, reason: `evicting the ${st.leaderCount} region leaders of store ${st.id} before ${p.name} restarts` });
    }
    const prog = input.evictProgress && input.evictProgress.storeId === st.id ? input.evictProgress : null;
    const record = input.ledger.evictions.find((r) => r.storeId === st.id);
    const since = prog?.since ?? record?.beganAt ?? now;
    if (now - since >= policy.evictTimeoutMs) {
      const warning = `store ${st.id} of ${p.name} still leads ${st.leaderCount} regions and its count has not gone down for ${secs(now - since)} (timeout ${secs(policy.evictTimeoutMs)}); restarting it anyway: those regions elect new leaders`;
      return restart(`restarting ${p.name} at revision ${sts.updateRevision} after the leader eviction timed out`, warning);
    }
    return out({ type: 'wait', pod: p.name, reason: `waiting for store ${st.id} of ${p.name} to lead no region (${st.leaderCount} left; ${secs(now - since)} since the count last went down, timeout ${secs(policy.evictTimeoutMs)})` });
  }
  return restart(`restarting ${p.name} at revision ${sts.updateRevision}: the other TiDB members serve`);
}
