// What the controller should do next for each component of a TidbCluster, as pure functions of the
// cluster and one observed snapshot (StatefulSets, pods, what PD says). A step names the replicas to
// apply now, the PD calls to make, whether later components must wait, and why, in words that go into
// conditions and Events. Order PD → TiKV → TiDB; suspension in the reverse order.
import type { ComponentName, TidbCluster } from '../cluster/schema.ts';
import { names, ordinalOf } from '../specs/names.ts';
import type { EvictionRecord, LeavingEntry } from './drain.ts';
import { mayRemoveMember } from './removal.ts';
import { decideLocationLabels, decideStoreLabels, locationLabelsFor } from './store-labels.ts';

export interface MemberPod {
  name: string;
  /** The pod's uid (recorded in the DisruptionLedger with what was allowed for it). */
  uid?: string;
  ordinal: number;
  phase: string;
  ready: boolean;
  deleting: boolean;
  nodeName: string | null;
  /** The pod's controller-revision-hash label (the StatefulSet revision it runs); null when absent. */
  revision?: string | null;
  /** Creation time (ms). */
  createdAt?: number;
}

export interface StsState {
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  currentRevision: string;
  updateRevision: string;
  /** spec.updateStrategy.rollingUpdate.partition (0 when unset). */
  partition?: number;
  /** status.observedGeneration has caught up with metadata.generation. */
  observed?: boolean;
  /** The tidb-steward.dev/template-hash annotation: the pod template last applied ('' when absent). */
  templateHash?: string;
}

export interface PdObserved {
  reachable: boolean;
  error?: string;
  members: Array<{ name: string; healthy: boolean }>;
  leader: string | null;
}

export interface StoreObserved {
  id: string;
  pod: string | null;
  state: string;
  leaderCount: number;
  regionCount: number;
  /** The store's labels in PD. */
  labels?: Record<string, string>;
}

export interface Observed {
  now: number;
  sts: Record<ComponentName, StsState | null>;
  pods: Record<ComponentName, MemberPod[]>;
  pd: PdObserved;
  /** null when PD could not be asked. */
  stores: StoreObserved[] | null;
  /** PD's max-replicas; null when it could not be read (nothing that depends on it proceeds). */
  maxReplicas: number | null;
  /** Store ids in PD's evict-leader scheduler; null when PD's list cannot be trusted. */
  evicting: string[] | null;
  /** The cluster's DisruptionLedger: what was allowed to go (and for what), and the evictions started. */
  ledger: { leaving: LeavingEntry[]; evictions: EvictionRecord[] };
  /** PD's replication.location-labels; null when unknown (no label is set then). */
  locationLabels?: string[] | null;
  /** Labels of the nodes the TiKV pods run on, from the node cache (a node missing is unknown). */
  nodeLabels?: Record<string, Record<string, string>>;
}

export type PdAction =
  | { type: 'transfer-pd-leader'; to: string }
  | { type: 'delete-pd-member'; name: string }
  | { type: 'delete-store'; storeId: string }
  | { type: 'cancel-store-removal'; storeId: string }
  | { type: 'evict-leaders'; storeId: string }
  | { type: 'end-evict-leaders'; storeId: string }
  | { type: 'set-store-labels'; storeId: string; labels: Record<string, string> }
  | { type: 'set-location-labels'; labels: string[] };

export interface EventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Step {
  component: ComponentName;
  /** StatefulSet replicas to apply, or null to leave the component's objects alone for now. */
  replicas: number | null;
  actions: PdAction[];
  /** Later components wait (e.g. TiKV until PD has quorum); the code doubles as a condition reason. */
  block: { code: string; message: string } | null;
  /** Something is in motion (a scale step, a store going offline). */
  progress: { code: string; message: string } | null;
  /** A scale-in refused by policy: surfaces as a condition. */
  refused: { code: string; message: string } | null;
  events: EventNote[];
  requeueAfterMs: number | null;
  /**
   * What lowering the StatefulSet's replicas (pods going) is, for the disruption authority: the act
   * layer records it in the DisruptionLedger for every member pod that goes, before it applies.
   */
  scaleDownAct?: 'scale-in' | 'suspend';
  /** The StatefulSet's rolling-update partition to apply (undefined: 0). */
  partition?: number;
  /** A member the rolling upgrade restarts with this step: asked of the authority (act 'restart') before the apply. */
  restart?: { pod: string; uid: string; deletePod: boolean };
  /** The upgrade's leader eviction: recorded (act 'restart', cause 'restart') before PD is asked. */
  upgradeEviction?: boolean;
  /** The rolling upgrade of this component, for the status. */
  upgrade?: { state: 'Done' | 'Rolling' | 'Stopped'; member?: string; message: string };
}

function step(component: ComponentName, replicas: number | null): Step {
  return { component, replicas, actions: [], block: null, progress: null, refused: null, events: [], requeueAfterMs: null };
}

const majority = (n: number) => Math.floor(n / 2) + 1;
const running = (p: MemberPod) => p.phase === 'Running' && !p.deleting;

export function pdBootstrapped(tc: TidbCluster, o: Observed): boolean {
  return (tc.status.pd?.bootstrapped ?? false) || (o.pd.reachable && o.pd.leader !== null);
}

/** PD has a leader and a healthy majority of its members. */
export function pdQuorum(o: Observed): { ok: boolean; message: string } {
  if (!o.pd.reachable) return { ok: false, message: `PD does not answer: ${o.pd.error ?? 'unreachable'}` };
  const n = o.pd.members.length;
  const healthy = o.pd.members.filter((m) => m.healthy).length;
  if (n === 0) return { ok: false, message: 'PD reports no members yet' };
  if (healthy < majority(n)) return { ok: false, message: `${healthy} of ${n} PD members are healthy, below the quorum of ${majority(n)}` };
  if (!o.pd.leader) return { ok: false, message: 'PD has no leader yet (election in progress)' };
  return { ok: true, message: `PD leader ${o.pd.leader}, ${healthy} of ${n} members healthy` };
}

export function storeOf(o: Observed, pod: string): StoreObserved | undefined {
  // The newest store of a pod wins: a replaced TiKV leaves a Tombstone behind under the same name.
  // Stryker disable next-line ArrayDeclaration: equivalent, a string in place of the store list has no pod, so no store is found either way
  const all = (o.stores ?? []).filter((s) => s.pod === pod);
  return all.find((s) => s.state !== 'Tombstone' && s.state !== 'Removed') ?? all[all.length - 1];
}

const isUp = (s: StoreObserved) => s.state === 'Up' || s.state === 'Serving';

export function decidePd(tc: TidbCluster, o: Observed): Step {
  const desired = tc.spec.pd.replicas;
  const current = o.sts.pd?.replicas ?? null;
  const s = step('pd', desired);
  const quorum = pdQuorum(o);
  if (current === null || current === 0 || !pdBootstrapped(tc, o)) {
    // Creation, first bootstrap, or resuming a suspended cluster: every member starts at once (a
    // resumed member starts from its data dir).
    if (current !== desired) s.events.push({ type: 'Normal', reason: current ? 'ScalingPD' : 'StartingPD', message: `starting PD with ${desired} members` });
  } else if (current < desired) {
    s.replicas = current;
    const pods = o.pods.pd.filter((p) => p.ordinal < current);
    const readyPods = pods.filter((p) => running(p) && p.ready).length;
    const memberNames = new Set(o.pd.members.filter((m) => m.healthy).map((m) => m.name));
    const joined = Array.from({ length: current }, (_, i) => names.pod(tc.metadata.name, 'pd', i)).every((n) => memberNames.has(n));
    if (readyPods === current && joined && quorum.ok) {
      s.replicas = current + 1;
      const pod = names.pod(tc.metadata.name, 'pd', current);
      s.events.push({ type: 'Normal', reason: 'ScalingOutPD', message: `adding PD member ${pod} (${current} → ${desired}, one at a time)` });
      s.progress = { code: 'ScalingOutPD', message: `adding PD member ${pod}; ${current} of ${desired} members` };
    } else {
      s.progress = { code: 'ScalingOutPD', message: `waiting for the ${current} PD members to be ready and healthy before adding the next (${readyPods} ready)` };
    }
    s.requeueAfterMs = 2000;
  } else if (current > desired) {
    s.replicas = current;
    const victim = names.pod(tc.metadata.name, 'pd', current - 1);
    const member = o.pd.members.find((m) => m.name === victim);
    if (!o.pd.reachable) {
      s.progress = { code: 'ScalingInPD', message: `cannot remove PD member ${victim}: ${quorum.message}` };
      s.requeueAfterMs = 5000;
    } else if (member) {
      const podsByName = new Map(o.pods.pd.map((p) => [p.name, p]));
      const decision = mayRemoveMember({
        component: 'pd',
        pod: victim,
        pd: {
          leader: o.pd.leader,
          members: o.pd.members.map((m) => {
            const p = podsByName.get(m.name);
            const canLead =
              !!p &&
              running(p) &&
              // Stryker disable next-line ConditionalExpression: equivalent, the victim's ordinal (current - 1) is not below desired, and decidePdRemoval never hands over to the pod it removes
              m.name !== victim &&
              p.ordinal < desired;
            return { name: m.name, healthy: m.healthy, canLead };
          }),
        },
      });
      if (decision.kind === 'allow') {
        s.actions.push({ type: 'delete-pd-member', name: victim });
        s.events.push({ type: 'Normal', reason: 'PDMemberRemoving', message: `removing ${victim} from PD (${decision.reason})` });
        s.progress = { code: 'ScalingInPD', message: `removing PD member ${victim} (${current} → ${desired})` };
      } else {
        if (decision.action?.type === 'transfer-pd-leader') {
          s.actions.push({ type: 'transfer-pd-leader', to: decision.action.to });
          s.events.push({ type: 'Normal', reason: 'PDLeaderTransferring', message: `${decision.reason} before removing ${victim}` });
        }
        s.progress = { code: 'ScalingInPD', message: `before removing PD member ${victim}: ${decision.reason}` };
      }
      s.requeueAfterMs = 1000;
    } else {
      s.replicas = current - 1;
      s.scaleDownAct = 'scale-in';
      s.events.push({ type: 'Normal', reason: 'PDMemberRemoved', message: `${victim} is no longer a PD member; its pod goes (${current} → ${current - 1})` });
      s.progress = { code: 'ScalingInPD', message: `PD member ${victim} removed; ${current - 1} members, ${desired} wanted` };
      s.requeueAfterMs = 1000;
    }
  }
  if (current !== null && current === desired && quorum.ok && s.actions.length === 0) {
    // Members PD still lists beyond the spec (replicas lowered while suspended, a scale-in cut short):
    // removed one at a time, each through the disruption authority like any scale-in.
    const extra = o.pd.members.find((m) => m.name.startsWith(`${tc.metadata.name}-pd-`) && ordinalOf(m.name) >= desired && !o.pods.pd.some((p) => p.name === m.name));
    if (extra) {
      s.actions.push({ type: 'delete-pd-member', name: extra.name });
      s.events.push({ type: 'Normal', reason: 'PDMemberRemoving', message: `removing ${extra.name} from PD: its ordinal is beyond spec.pd.replicas ${desired} and it has no pod` });
      s.progress = { code: 'ScalingInPD', message: `removing PD member ${extra.name}, which is beyond spec.pd.replicas ${desired}` };
      s.requeueAfterMs = 1000;
    }
  }
  if (quorum.ok && s.actions.length === 0 && o.locationLabels != null) {
    // PD separates a region's replicas by these store labels; a cluster made before they were
    // rendered into PD's config (or with none) gets them through PD's API.
    const want = locationLabelsFor(tc.spec.pd.topologyKeys);
    const d = decideLocationLabels(o.locationLabels, want);
    if (d.set) {
      s.actions.push({ type: 'set-location-labels', labels: d.set });
      s.events.push({ type: 'Normal', reason: 'LocationLabelsSet', message: d.reason });
    }
  }
  if (!quorum.ok) {
    s.block = { code: o.pd.reachable ? 'WaitingForPDQuorum' : 'PDUnreachable', message: `TiKV waits: ${quorum.message}` };
    s.requeueAfterMs = 2000;
  }
  return s;
}

export interface TikvPolicy {
  evictTimeoutMs: number;
}

export function decideTikv(tc: TidbCluster, o: Observed, policy: TikvPolicy): Step {
  const desired = tc.spec.tikv.replicas;
  const current = o.sts.tikv?.replicas ?? null;
  const s = step('tikv', desired);
  if (o.stores === null) {
    s.replicas = current ?? desired;
    s.block = { code: 'PDUnreachable', message: `cannot read TiKV stores from PD: ${o.pd.error ?? 'unreachable'}` };
    s.requeueAfterMs = 5000;
    return s;
  }
  const ourScaleIn = (storeId: string) => o.ledger.leaving.some((e) => e.component === 'tikv' && e.member === storeId && e.act === 'scale-in');
  if (
    // Stryker disable next-line ConditionalExpression: equivalent, null <= desired holds too (null compares as 0); the check is for the type
    current === null ||
    current <= desired
  ) {
    if (current !== null && current < desired) s.events.push({ type: 'Normal', reason: 'ScalingOutTiKV', message: `TiKV ${current} → ${desired}` });
    // Raising replicas cancels a scale-in whose store is not Tombstone yet: only one this controller
    // started (an operator's pd-ctl store delete is theirs to undo).
    for (let i = 0; i < desired; i++) {
      const pod = names.pod(tc.metadata.name, 'tikv', i);
      const st = storeOf(o, pod);
      if (st && (st.state === 'Offline' || st.state === 'Removing') && ourScaleIn(st.id)) {
        s.actions.push({ type: 'cancel-store-removal', storeId: st.id });
        s.events.push({ type: 'Normal', reason: 'ScaleInCancelled', message: `replicas raised to ${desired}: store ${st.id} of ${pod} goes back Up` });
      }
    }
  } else {
    s.replicas = current;
    const victim = names.pod(tc.metadata.name, 'tikv', current - 1);
    const st = storeOf(o, victim);
    if (!st || st.state === 'Tombstone' || st.state === 'Removed') {
      const decision = mayRemoveMember({
        // Stryker disable next-line StringLiteral: equivalent, mayRemoveMember treats every component but 'pd' as TiKV
        component: 'tikv',
        pod: victim,
        // Stryker disable next-line BooleanLiteral: equivalent, a missing, Tombstone or Removed store is allowed before eviction is looked at
        tikv: { store: st ? { id: st.id, stateName: st.state, leaderCount: st.leaderCount, regionCount: st.regionCount } : null, evicting: false, evictionBeganAt: null },
        evictTimeoutMs: policy.evictTimeoutMs,
        now: o.now,
      });
      // Stryker disable next-line ConditionalExpression,BlockStatement: unreachable, a missing, Tombstone or Removed store is always allowed (the wait is kept should the policy change)
      if (decision.kind !== 'allow') {
        // Stryker disable next-line all: unreachable, as above
        s.progress = { code: 'ScalingInTiKV', message: decision.reason };
      } else {
        s.replicas = current - 1;
        s.scaleDownAct = 'scale-in';
        s.events.push({ type: 'Normal', reason: st ? 'StoreTombstoned' : 'TiKVMemberRemoved', message: `${decision.reason}; ${victim} goes (${current} → ${current - 1})` });
        s.progress = { code: 'ScalingInTiKV', message: `${victim} removed; ${current - 1} stores, ${desired} wanted` };
      }
      s.requeueAfterMs = 1000;
    } else if (st.state === 'Offline' || st.state === 'Removing') {
      s.progress = { code: 'ScalingInTiKV', message: `store ${st.id} of ${victim} is going offline: ${st.regionCount} regions still to move; waiting for Tombstone` };
      s.requeueAfterMs = 2000;
    } else {
      // Stryker disable next-line ArrayDeclaration: equivalent, o.stores is not null here (decideTikv returned early), so ?? [] is never taken
      const upOthers = (o.stores ?? []).filter((x) => isUp(x) && x.id !== st.id).length;
      if (o.maxReplicas === null) {
        s.progress = { code: 'ScalingInTiKV', message: `cannot judge removing store ${st.id} of ${victim}: PD's max-replicas cannot be read; waiting` };
        s.requeueAfterMs = 5000;
      } else if (upOthers < o.maxReplicas) {
        s.refused = {
          code: 'ScaleInBlocked',
          message: `TiKV scale-in to ${desired} refused: removing ${victim} (store ${st.id}) would leave ${upOthers} Up stores, fewer than PD's max-replicas ${o.maxReplicas}; regions would lose copies. Keep spec.tikv.replicas at ${current} or lower max-replicas first`,
        };
        s.events.push({ type: 'Warning', reason: 'ScaleInBlocked', message: s.refused.message });
        s.requeueAfterMs = 15_000;
      } else {
        s.actions.push({ type: 'delete-store', storeId: st.id });
        s.events.push({ type: 'Normal', reason: 'StoreDeleting', message: `deleting store ${st.id} of ${victim} in PD; its regions move to the other stores (${current} → ${desired})` });
        s.progress = { code: 'ScalingInTiKV', message: `store ${st.id} of ${victim} deleted in PD; waiting for Tombstone` };
        s.requeueAfterMs = 1000;
      }
    }
  }
  if (current !== null && current <= desired && s.actions.length === 0) {
    // Stores PD still counts beyond the spec, with no pod (replicas lowered while suspended): deleted
    // one at a time through the disruption authority; PD moves their regions and tombstones them.
    const extra = (o.stores ?? []).find(
      (x) => x.pod?.startsWith(`${tc.metadata.name}-tikv-`) && ordinalOf(x.pod) >= desired && !['Tombstone', 'Removed', 'Offline', 'Removing'].includes(x.state) && !o.pods.tikv.some((p) => p.name === x.pod),
    );
    if (extra) {
      s.actions.push({ type: 'delete-store', storeId: extra.id });
      s.events.push({ type: 'Normal', reason: 'StoreDeleting', message: `deleting store ${extra.id} of ${extra.pod} in PD: its ordinal is beyond spec.tikv.replicas ${desired} and it has no pod` });
      s.progress = { code: 'ScalingInTiKV', message: `deleting store ${extra.id} of ${extra.pod}, which is beyond spec.tikv.replicas ${desired}` };
      s.requeueAfterMs = 2000;
    }
  }
  if (o.locationLabels != null && o.locationLabels.length > 0) {
    // Each store carries its node's location labels in PD, so PD keeps a region's replicas apart.
    for (const st of (o.stores ?? []).filter(isUp)) {
      const pod = o.pods.tikv.find((p) => p.name === st.pod && running(p));
      if (!pod) continue;
      const d = decideStoreLabels({
        storeId: st.id,
        pod: pod.name,
        nodeName: pod.nodeName,
        nodeLabels: pod.nodeName ? o.nodeLabels?.[pod.nodeName] : undefined,
        locationLabels: o.locationLabels,
        current: st.labels ?? {},
      });
      if (d.kind !== 'set') continue;
      s.actions.push({ type: 'set-store-labels', storeId: st.id, labels: d.labels });
      s.events.push({ type: 'Normal', reason: 'StoreLabelled', message: d.reason });
    }
  }
  // Stryker disable next-line ArrayDeclaration: equivalent, o.stores is not null here (decideTikv returned early), so ?? [] is never taken
  const up = (o.stores ?? []).filter(isUp).length;
  // Unknown max-replicas: wait for all the stores asked for (the stricter count).
  const needed = Math.max(1, Math.min(desired, o.maxReplicas ?? desired));
  if (up < needed) {
    s.block = { code: 'WaitingForTiKV', message: `TiDB waits: ${up} TiKV stores Up, ${needed} needed` };
    s.requeueAfterMs ??= 2000;
  }
  return s;
}

export function decideTidb(tc: TidbCluster, o: Observed): Step {
  const s = step('tidb', tc.spec.tidb.replicas);
  const current = o.sts.tidb?.replicas ?? null;
  if (current !== null && current !== tc.spec.tidb.replicas) s.events.push({ type: 'Normal', reason: 'ScalingTiDB', message: `TiDB ${current} → ${tc.spec.tidb.replicas}` });
  return s;
}

/**
 * Suspension, in the reverse order: TiDB to zero; then TiKV one pod at a time from the highest ordinal,
 * each after its leaders moved to the stores still running (the last store keeps them: there is
 * nowhere to go); then PD. Volumes stay.
 */
export function decideSuspend(tc: TidbCluster, o: Observed, policy: TikvPolicy): Step[] {
  const tidb = step('tidb', 0);
  const tikv = step('tikv', o.sts.tikv?.replicas ?? null);
  const pd = step('pd', o.sts.pd?.replicas ?? null);
  const livePods = (c: ComponentName) => o.pods[c].length;
  if (o.sts.tidb === null) tidb.replicas = null;
  if (livePods('tidb') > 0) {
    tidb.block = { code: 'Suspending', message: `stopping TiDB: ${livePods('tidb')} pods left` };
    tidb.requeueAfterMs = 1000;
    return [pd, tikv, tidb];
  }
  const current = o.sts.tikv?.replicas ?? 0;
  if (current > 0) {
    const victim = names.pod(tc.metadata.name, 'tikv', current - 1);
    const st = storeOf(o, victim);
    // Stryker disable next-line ArrayDeclaration: equivalent, a string in place of the store list is never Up
    const othersServing = (o.stores ?? []).filter(
      (x) =>
        isUp(x) &&
        // Stryker disable next-line ConditionalExpression: equivalent, the pod check below already excludes the victim (its ordinal is current - 1) and a store without a pod
        x.pod !== victim && x.pod !== null &&
        o.pods.tikv.some(
          (p) =>
            p.name === x.pod &&
            running(p) &&
            // Stryker disable next-line EqualityOperator: equivalent, ordinal current - 1 is the victim's own pod, excluded above
            p.ordinal < current - 1,
        ),
    ).length;
    const since = o.ledger.evictions.find((e) => e.storeId === st?.id)?.beganAt;
    let allow = true;
    if (st && isUp(st) && othersServing > 0 && o.evicting === null) {
      allow = false;
      tikv.block = { code: 'Suspending', message: `suspending TiKV: cannot tell whether PD evicts leaders from store ${st.id} (its evict-leader list cannot be trusted now); waiting` };
    } else if (st && isUp(st) && othersServing > 0) {
      const decision = mayRemoveMember({
        // Stryker disable next-line StringLiteral: equivalent, mayRemoveMember treats every component but 'pd' as TiKV
        component: 'tikv',
        pod: victim,
        tikv: { store: { id: st.id, stateName: st.state, leaderCount: st.leaderCount, regionCount: st.regionCount }, evicting: o.evicting!.includes(st.id), evictionBeganAt: since ?? null },
        evictTimeoutMs: policy.evictTimeoutMs,
        now: o.now,
      });
      if (decision.action?.type === 'evict-tikv-leaders') tikv.actions.push({ type: 'evict-leaders', storeId: st.id });
      if (decision.kind === 'wait') {
        allow = false;
        tikv.block = { code: 'Suspending', message: `suspending TiKV: ${decision.reason}` };
      } else if (decision.warning) tikv.events.push({ type: 'Warning', reason: 'LeaderEvictionTimeout', message: decision.warning });
    }
    tikv.replicas = allow ? current - 1 : current;
    tikv.scaleDownAct = 'suspend';
    if (allow) tikv.events.push({ type: 'Normal', reason: 'SuspendingTiKV', message: `stopping ${victim}${st ? ` (store ${st.id}, ${st.leaderCount} leaders)` : ''}` });
    tikv.block ??= { code: 'Suspending', message: `stopping TiKV: ${current} pods left` };
    tikv.requeueAfterMs = 1000;
    return [pd, tikv, tidb];
  }
  tikv.replicas = o.sts.tikv ? 0 : null;
  tikv.scaleDownAct = 'suspend';
  pd.scaleDownAct = 'suspend';
  if (livePods('tikv') > 0) {
    tikv.block = { code: 'Suspending', message: `stopping TiKV: ${livePods('tikv')} pods left` };
    tikv.requeueAfterMs = 1000;
    return [pd, tikv, tidb];
  }
  pd.replicas = o.sts.pd ? 0 : null;
  if (livePods('pd') > 0) {
    pd.block = { code: 'Suspending', message: `stopping PD: ${livePods('pd')} pods left` };
    pd.requeueAfterMs = 1000;
  }
  return [pd, tikv, tidb];
}
