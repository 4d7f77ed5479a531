// The one member model: per PD member or TiKV store of a TiDB cluster, its pod and its state, derived
// from PD's facts, the pod and node caches and the DisruptionLedger. The drain decision, the
// controller's steps and the status all read members through this, so they cannot disagree on which
// member is away. Pure: plain data in, plain data out.
import type { MemberDisruptionState, LeavingEntry } from './drain.ts';

export type MemberState =
  /** A pod that PD does not list yet (a new member or store). */
  | 'joining'
  /** Healthy in PD, its pod Running and Ready, nothing under way. */
  | 'serving'
  /** Its removal was allowed (ledger), its pod is terminating, or its node is being drained. */
  | 'leaving'
  /** No pod, or its pod is not Running and Ready. */
  | 'away'
  /** Its pod runs and is Ready but PD says it is not healthy (not Up). */
  | 'failed'
  /** Tombstone or Removed in PD: no longer part of the cluster. */
  | 'gone';

export interface MemberPodFacts {
  name: string;
  uid: string;
  running: boolean;
  /** Ready condition; undefined when not known (taken as Ready while Running). */
  ready?: boolean | undefined;
  deleting: boolean;
  nodeName: string | null;
}

export interface MemberNodeFacts {
  /** Cordoned or carrying a drain taint. */
  draining: boolean;
}

/** A PD member or store as PD reports it, already matched to its pod's name (if any). */
export interface ReportedMember {
  /** PD member name or TiKV store id. */
  name: string;
  pod: string | undefined;
  /** PD: answers its own health check. TiKV: the store is Up. */
  healthy: boolean;
  /** TiKV: PD's state name (Up, Offline, Down, Disconnected, Tombstone, ...). */
  storeState?: string;
  /** TiKV: regions with a peer on the store, as PD counts them. */
  regionCount?: number;
  leaderCount?: number;
}

export interface MemberFacts {
  component: 'pd' | 'tikv';
  members: readonly ReportedMember[];
  /** Pods of this component of this cluster, by name. */
  pods: ReadonlyMap<string, MemberPodFacts>;
  node(name: string): MemberNodeFacts | undefined;
  leaving: readonly LeavingEntry[];
}

export interface MemberView extends MemberDisruptionState {
  component: 'pd' | 'tikv';
  pod: string | null;
  state: MemberState;
  /** Why it is in that state, for people. */
  why: string;
  /** The ledger entry that counts it as leaving, if any. */
  entry?: LeavingEntry;
  /** PD: may take over leadership (healthy, not leaving, its pod running on a node not being drained). */
  canLead: boolean;
  /** TiKV: the store is not Up and PD counts no region on it, so its absence costs no region a peer. */
  holdsNoData?: boolean;
  storeState?: string;
  leaderCount?: number;
  regionCount?: number;
}

const GONE = new Set(['Tombstone', 'Removed']);

/** Every member PD reports, in PD's order, plus the pods PD does not list yet (joining). */
export function deriveMembers(f: MemberFacts): MemberView[] {
  const out: MemberView[] = [];
  const matched = new Set<string>();
  for (const m of f.members) {
    if (m.pod) matched.add(m.pod);
    const entry = f.leaving.find((e) => e.component === f.component && e.member === m.name);
    const pod = m.pod ? f.pods.get(m.pod) : undefined;
    const node = pod?.nodeName ? f.node(pod.nodeName) : undefined;
    const base = {
      component: f.component,
      name: m.name,
      pod: m.pod ?? null,
      healthy: m.healthy,
      ...(m.storeState !== undefined ? { storeState: m.storeState } : {}),
      ...(m.regionCount !== undefined ? { regionCount: m.regionCount } : {}),
      ...(m.leaderCount !== undefined ? { leaderCount: m.leaderCount } : {}),
    };
    const podServes = Boolean(pod && pod.running && pod.ready !== false && !pod.deleting);
    const canLead = f.component === 'pd' && m.healthy && !entry && podServes && node !== undefined && !node.draining;
    if (m.storeState !== undefined && GONE.has(m.storeState)) {
      out.push({ ...base, state: 'gone', why: `store ${m.name} is ${m.storeState}`, leaving: null, canLead: false });
      continue;
    }
    const noData = f.component === 'tikv' && !m.healthy && m.regionCount === 0 ? { holdsNoData: true } : {};
    if (entry) {
      out.push({ ...base, ...noData, state: 'leaving', why: `its ${entry.act ?? 'removal'} was allowed`, leaving: `${entry.act ?? 'removal'} allowed`, leavingSince: entry.since, entry, canLead });
    } else if (!pod) {
      out.push({ ...base, ...noData, state: 'away', why: 'it has no pod', leaving: 'has no pod', canLead });
    } else if (pod.deleting) {
      out.push({ ...base, ...noData, state: 'leaving', why: `pod ${pod.name} is terminating`, leaving: 'pod is terminating', canLead });
    } else if (!pod.running || pod.ready === false) {
      out.push({ ...base, ...noData, state: 'away', why: `pod ${pod.name} is not Ready`, leaving: 'pod is not Ready', canLead });
    } else if (node?.draining) {
      out.push({ ...base, ...noData, state: 'leaving', why: `node ${pod.nodeName} is being drained`, leaving: `node ${pod.nodeName} is being drained`, leavingSoft: true, canLead });
    } else if (!m.healthy) {
      out.push({ ...base, ...noData, state: 'failed', why: f.component === 'pd' ? `PD member ${m.name} does not answer its health check` : `store ${m.name} is ${m.storeState ?? 'not Up'}`, leaving: null, canLead });
    } else {
      out.push({ ...base, state: 'serving', why: 'serving', leaving: null, canLead });
    }
  }
  for (const pod of [...f.pods.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (matched.has(pod.name) || pod.deleting) continue;
    out.push({ component: f.component, name: pod.name, pod: pod.name, healthy: false, state: 'joining', why: `pod ${pod.name} is not a member in PD yet`, leaving: null, canLead: false });
  }
  return out;
}

/**
 * The members that count for a disruption decision: those PD reports, without the gone ones and the
 * joining pods, and without dead stores that hold no data (their absence costs no region a peer).
 */
export function disruptionMembers(views: readonly MemberView[]): MemberView[] {
  return views.filter((v) => v.state !== 'gone' && v.state !== 'joining' && !v.holdsNoData);
}

/** Which is the member of this pod: by exact name, by `<pod>.` prefix, or by a host in its URLs. */
export function memberNameMatchesPod(name: string, urls: readonly string[], podName: string): boolean {
  if (name === podName || name.startsWith(`${podName}.`)) return true;
  return urls.some((u) => {
    let h = '';
    try {
      h = new URL(u).hostname;
    } catch {
      return false;
    }
    return h === podName || h.startsWith(`${podName}.`);
  });
}

/** The pod of a TiKV store: its `pod` label (the simulator's), else the first label of its address host. */
export function podOfStoreAddress(address: string, labels: ReadonlyArray<{ key: string; value: string }>): string | undefined {
  const byLabel = labels.find((l) => l.key === 'pod')?.value;
  if (byLabel) return byLabel;
  const host = address.split(':')[0] ?? '';
  return host.includes('.') ? host.split('.')[0] : undefined;
}
