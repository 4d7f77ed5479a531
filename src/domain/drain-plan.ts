// What a drain would do to one pod now, as a value: allowed or held and why, the PD changes it would
// make first (a leader hand-over, a leader eviction, ending abandoned evictions) and the other members
// already leaving. It composes the same pure decisions the webhooks take (decideDisruption through the
// authority's assessment, decidePdRemoval, decideTikvRemoval, decideEvictionRoom), so a plan and the
// webhook's answer cannot drift apart; it changes nothing. Used by `tidb-steward drain-plan` and by the
// webhooks for dry-run requests (`kubectl drain --dry-run=server`).
import {
  CONTROLLER_ACTS,
  decideDisruption,
  decideEvictionRoom,
  decidePdRemoval,
  decideTikvRemoval,
  type DisruptionDecision,
  type EvictionRecord,
  type EvictionRoomStore,
  type LeavingEntry,
} from './drain.ts';
import { disruptionMembers, type MemberView } from './members.ts';

/** The pod a drain would evict. TiDB server pods are listed too: their removal is never gated. */
export interface PlanPod {
  namespace: string;
  name: string;
  cluster: string;
  component: 'pd' | 'tikv' | 'tidb';
  uid: string;
  running: boolean;
  terminal: boolean;
  deleting: boolean;
  skipDrainCheck: boolean;
  /** It carries the deprecated spelling of the escape-hatch annotation. */
  skipDrainCheckLegacy?: boolean;
}

/** A TiKV store as PD reports it (the fields the plan reads). */
export interface PlanStore {
  store: { id: string; state_name: string };
  status: { leader_count: number; region_count: number };
}

/** The authority's assessment of the pod's removal (src/services/authority.ts), as far as the plan reads it. */
export interface PlanAssessment {
  decision: DisruptionDecision;
  unknown: string | null;
  self: MemberView | undefined;
  recorded: LeavingEntry | undefined;
  members: readonly MemberView[];
  facts: { leader: string | null; stores: readonly PlanStore[] | null; evicting: readonly string[] | null; maxReplicas: number | null };
  versioned: { ledger: { evictions: readonly EvictionRecord[]; seenEvictions: ReadonlyArray<{ storeId: string; since: number }> } };
}

/** A pod of the cluster as the eviction-room rule needs it: can its store take leaders? */
export interface PlanPodServing {
  uid: string;
  nodeName: string | null;
  /** Running, not deleting, on a node that is not being drained. */
  serves: boolean;
}

export interface PlanContext {
  /** The cluster (or the pod's StatefulSet) is being torn down: removals go unchecked. */
  teardown: string | null;
  /** Why PD's evict-leader entries are unknown (null when they are known). */
  evictingUnknown: string | null;
  podServing(podName: string): PlanPodServing | undefined;
  evictTimeoutMs: number;
  now: number;
}

export type PlannedStep =
  | { type: 'transfer-pd-leader'; from: string; to: string }
  | { type: 'evict-tikv-leaders'; storeId: string; leaders: number }
  | { type: 'end-abandoned-evictions'; storeIds: string[] };

export interface RemovalPlan {
  allowed: boolean;
  /** The webhook's reason: for a held pod, the text after "<ns>/<pod> cannot go yet: ". */
  reason: string;
  /** What the webhook would change in PD (and record in the DisruptionLedger) while answering. */
  steps: PlannedStep[];
  warnings: string[];
  /** The other members of its component that already count as leaving, and why. */
  leaving: string[];
}

/** A removal of tidb-steward's evictions that waits this long unasked gives way to another's (see DrainService). */
export const ABANDONED_AFTER_MS = 60_000;

const plan = (allowed: boolean, reason: string, rest: Partial<RemovalPlan> = {}): RemovalPlan => ({ allowed, reason, steps: [], warnings: [], leaving: [], ...rest });

/** The stores of a cluster as the eviction-room rule sees them: who can take leaders, who evicts and why. */
export function evictionRoomStores(a: Pick<PlanAssessment, 'members' | 'versioned'>, evicting: readonly string[], ctx: Pick<PlanContext, 'podServing' | 'now'>): EvictionRoomStore[] {
  const { ledger } = a.versioned;
  return disruptionMembers([...a.members]).map((m) => {
    const record = ledger.evictions.find((r) => r.storeId === m.name);
    const p = m.pod ? ctx.podServing(m.pod) : undefined;
    const serves = Boolean(p?.serves);
    const idle = record ? ctx.now - (record.askedAt ?? record.beganAt) : 0;
    const abandoned = Boolean(record && record.cause === 'removal' && p && p.uid === record.podUid && serves && idle >= ABANDONED_AFTER_MS);
    const why = record
      ? record.cause === 'removal'
        ? `evicting for the removal of ${m.pod ?? 'its pod'}${abandoned ? `, which nobody asked for in ${Math.round(idle / 1000)}s` : ''}`
        : record.cause === 'cordon'
          ? `evicting because node ${p?.nodeName ?? '?'} is being drained`
          : record.cause === 'restart'
            ? `evicting for the rolling upgrade's restart of ${m.pod ?? 'its pod'}`
            : 'evicting for the suspend'
      : ledger.seenEvictions.some((s) => s.storeId === m.name)
        ? 'evicting, started by someone else'
        : undefined;
    // A record is written before PD is asked: its eviction is under way even if PD does not list it yet.
    return { id: m.name, up: m.storeState === 'Up', evicting: evicting.includes(m.name) || record !== undefined, ...(why ? { why } : {}), ...(abandoned ? { abandoned } : {}) };
  });
}

/** The other members already leaving, in words: "PD member basic-pd-1 (pod is not Ready)". */
function leavingOthers(a: PlanAssessment): string[] {
  return a.members
    .filter((m) => m !== a.self && m.leaving !== null && m.state !== 'gone' && m.state !== 'joining')
    .map((m) => `${m.component === 'pd' ? 'PD member' : 'TiKV store'} ${m.name}${m.pod && m.pod !== m.name ? ` of ${m.pod}` : ''} (${m.leaving})`);
}

/**
 * What the webhook would answer for this pod's eviction now, and what it would change first. `a` is
 * the authority's assessment for a PD or TiKV pod (null for TiDB pods and pods it need not assess).
 */
export function planRemoval(pod: PlanPod, a: PlanAssessment | null, ctx: PlanContext): RemovalPlan {
  if (pod.component === 'tidb') return plan(true, decideDisruption({ component: 'tidb', member: pod.name, members: [] }, ctx.now).reason);
  if (pod.deleting) return plan(true, 'the pod is already terminating');
  if (pod.skipDrainCheck) {
    const annotation = pod.skipDrainCheckLegacy ? 'the deprecated skip-drain-check annotation' : 'the skip-drain-check annotation';
    return plan(true, 'escape hatch annotation set', { warnings: [`${pod.namespace}/${pod.name} is removed without drain checks: it carries ${annotation}`] });
  }
  if (ctx.teardown) return plan(true, ctx.teardown);
  if (!a) return plan(false, 'its removal was not assessed');
  const leaving = leavingOthers(a);
  const e = a.recorded;
  if (e?.act && CONTROLLER_ACTS.has(e.act)) {
    return plan(true, `tidb-steward's controller removes it (${e.act}, recorded in the DisruptionLedger ${Math.round((ctx.now - e.since) / 1000)}s ago)`, { leaving });
  }
  const unknown = a.unknown ?? (pod.component === 'tikv' && a.self && a.self.state !== 'gone' && a.decision.allowed ? ctx.evictingUnknown : null);
  if (unknown) {
    // A pod that does not run holds no member worth protecting: recovery must not wedge on PD.
    if (!pod.running || pod.terminal) return plan(true, 'the pod is not Running and PD cannot be reached', { warnings: [`PD of cluster ${pod.namespace}/${pod.cluster} cannot be asked (${unknown})`], leaving });
    return plan(false, `cannot check it with PD of cluster ${pod.namespace}/${pod.cluster}: ${unknown}; will retry`, { leaving });
  }
  if (!a.self || (pod.component === 'tikv' && a.self.state === 'gone')) return plan(true, a.decision.reason, { leaving });
  if (!a.decision.allowed) return plan(false, a.decision.reason, { leaving });
  return pod.component === 'pd' ? planPd(a, a.self, leaving) : planTikv(pod, a, a.self, ctx, leaving);
}

function planPd(a: PlanAssessment, self: MemberView, leaving: string[]): RemovalPlan {
  const handOver = decidePdRemoval(self.name, {
    members: disruptionMembers([...a.members]).map((m) => ({ name: m.name, healthy: m.healthy, canLead: m.canLead })),
    leader: a.facts.leader,
  });
  if (handOver.kind === 'wait') {
    const steps: PlannedStep[] = handOver.action?.type === 'transfer-pd-leader' ? [{ type: 'transfer-pd-leader', from: handOver.action.from, to: handOver.action.to }] : [];
    return plan(false, handOver.reason, { steps, leaving });
  }
  return plan(true, `${a.decision.reason}; ${handOver.reason}`, { leaving });
}

function planTikv(pod: PlanPod, a: PlanAssessment, self: MemberView, ctx: PlanContext, leaving: string[]): RemovalPlan {
  const storeId = self.name;
  const store = a.facts.stores?.find((s) => s.store.id === storeId);
  const evicting = a.facts.evicting ?? [];
  if (!store) return plan(false, `cannot check it with PD of cluster ${pod.namespace}/${pod.cluster}: store ${storeId} is not in PD's store list; will retry`, { leaving });
  const { ledger } = a.versioned;
  const record = ledger.evictions.find((r) => r.storeId === storeId);
  const ours = record && record.podUid === pod.uid && record.cause === 'removal' ? record : undefined;
  const isEvicting = evicting.includes(storeId);
  const seen = !record && isEvicting ? ledger.seenEvictions.find((s) => s.storeId === storeId) : undefined;
  const decision = decideTikvRemoval(
    pod.name,
    { store: { id: storeId, stateName: store.store.state_name, leaderCount: store.status.leader_count, regionCount: store.status.region_count }, evicting: isEvicting, evictionBeganAt: ours?.beganAt ?? seen?.since ?? null },
    { evictTimeoutMs: ctx.evictTimeoutMs, now: ctx.now },
  );
  const evict: PlannedStep[] = decision.action?.type === 'evict-tikv-leaders' ? [{ type: 'evict-tikv-leaders', storeId, leaders: store.status.leader_count }] : [];
  if (decision.kind === 'wait') {
    const room = decideEvictionRoom(storeId, evictionRoomStores(a, evicting, ctx), a.facts.maxReplicas ?? 3);
    if (!room.allowed && evict.length) {
      if (room.giveWay.length) return plan(false, decision.reason, { steps: [{ type: 'end-abandoned-evictions', storeIds: room.giveWay }, ...evict], leaving });
      return plan(false, room.reason, { leaving });
    }
    return plan(false, room.allowed ? decision.reason : `${decision.reason}; the leaders may have nowhere to go: ${room.reason}`, { steps: evict, leaving });
  }
  return plan(true, decision.reason, { steps: evict, warnings: decision.warning ? [decision.warning] : [], leaving });
}

/** One line per step, for people. */
export function describeStep(s: PlannedStep): string {
  switch (s.type) {
    case 'transfer-pd-leader':
      return `move PD leadership from ${s.from} to ${s.to}`;
    case 'evict-tikv-leaders':
      return `evict ${s.leaders} region leaders from TiKV store ${s.storeId}`;
    case 'end-abandoned-evictions':
      return `end the abandoned leader evictions of store${s.storeIds.length > 1 ? 's' : ''} ${s.storeIds.join(', ')} to make room`;
  }
}
