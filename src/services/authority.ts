// The one disruption authority. Every act that takes a PD member or TiKV store out of service — a
// pod eviction or delete, a node drain, the controller's scale-in, suspend, and later restarts and
// replacements — is judged here: the member model over PD's shared snapshot, the pod and node caches
// and the cluster's DisruptionLedger, then the pure decideDisruption; an allowed act is written to the
// ledger, with the version read, before the caller acts. Any replica may be asked for any member at
// any time: two that decided on the same ledger cannot both write it.
import type { Logger } from 'pino';
import { CONTROLLER_ACTS, decideDisruption, type DisruptionAct, type DisruptionDecision, type LeavingEntry } from '../domain/drain.ts';
import { deriveMembers, disruptionMembers, memberNameMatchesPod, podOfStoreAddress, type MemberPodFacts, type MemberView, type ReportedMember } from '../domain/members.ts';
import { objectKey } from '../domain/model.ts';
import type { Ledger, LedgerPort, VersionedLedger } from '../k8s/disruptions.ts';
import type { CheckedRegion, RegionCheck } from '../pd/client.ts';
import { missingFact, type PdAccess, type PdFacts } from '../pd/facts.ts';
import type { NodeStore, PodStore } from '../state/stores.ts';

export interface DisruptionRequest {
  namespace: string;
  cluster: string;
  component: 'pd' | 'tikv';
  /** The pod that goes (or whose member goes). */
  pod: string;
  /** Its uid, '' when it has none (a member whose pod is already gone). */
  podUid: string;
  act: DisruptionAct;
  /** The member (PD member name or store id) when the caller knows it; else found by the pod's name. */
  member?: string;
}

export interface Assessment {
  decision: DisruptionDecision;
  facts: PdFacts;
  versioned: VersionedLedger;
  members: MemberView[];
  /** The member of the request; undefined when the pod is no member of the cluster. */
  self: MemberView | undefined;
  /** This removal is already recorded for this very pod. */
  recorded: LeavingEntry | undefined;
  /** A fact the decision needs could not be read: the decision waits, and this says why. */
  unknown: string | null;
}

export interface AuthorityDeps {
  pods: PodStore;
  nodes: NodeStore;
  pd: PdAccess;
  ledger: Pick<LedgerPort, 'read' | 'write'>;
  now: () => number;
  logger: Logger;
}

const GONE = new Set(['Tombstone', 'Removed']);

/** Per region, its missing, down and offline peers as PD's checks list them; the worst region. */
export function regionFaults(checks: ReadonlyMap<RegionCheck, CheckedRegion[]>, maxReplicas: number, offlineStores: ReadonlySet<string>): { worst: number; regions: number } {
  const faults = new Map<string, { missing: number; away: Set<string> }>();
  const at = (id: string) => {
    let f = faults.get(id);
    if (!f) faults.set(id, (f = { missing: 0, away: new Set() }));
    return f;
  };
  for (const r of checks.get('miss-peer') ?? []) at(r.id).missing = Math.max(0, maxReplicas - r.peers.length);
  for (const r of checks.get('down-peer') ?? []) {
    // Listed without its down peers: at least one is down.
    if (r.down_peers.length === 0) at(r.id).away.add(`down:${r.id}`);
    for (const s of r.down_peers) at(r.id).away.add(s);
  }
  for (const r of checks.get('offline-peer') ?? []) {
    const f = at(r.id);
    const onOffline = r.peers.filter((s) => offlineStores.has(s));
    // PD listed it, so at least one peer is on an offline store even if our store list lags.
    if (onOffline.length === 0) f.away.add(`offline:${r.id}`);
    for (const s of onOffline) f.away.add(s);
  }
  let worst = 0;
  for (const f of faults.values()) worst = Math.max(worst, f.missing + f.away.size);
  return { worst, regions: faults.size };
}

/** A snapshot with every fact unknown, for a PD client that could not even be made (TLS Secret unreadable). */
function emptyFacts(why: string): PdFacts {
  const unknown = { members: why, stores: why, evicting: why, maxReplicas: why, regionChecks: why, locationLabels: why };
  // at -1: never read from PD.
  return { at: -1, members: null, leader: null, stores: null, evicting: null, maxReplicas: null, regionChecks: null, locationLabels: null, unknown };
}

export class DisruptionAuthority {
  private readonly deps: AuthorityDeps;

  constructor(deps: AuthorityDeps) {
    this.deps = deps;
  }

  get pd(): PdAccess {
    return this.deps.pd;
  }

  /** The pods of one component of a cluster, as the member model reads them. */
  podFacts(namespace: string, cluster: string, component: 'pd' | 'tikv'): Map<string, MemberPodFacts> {
    const out = new Map<string, MemberPodFacts>();
    for (const p of this.deps.pods.members(namespace, cluster, component).values()) {
      if (p.terminal) continue;
      out.set(p.name, { name: p.name, uid: p.uid, running: p.running, ready: p.ready, deleting: p.deleting, nodeName: p.nodeName });
    }
    return out;
  }

  /** The member model of one component from a snapshot and a ledger; null when PD's facts are unknown. */
  members(namespace: string, cluster: string, component: 'pd' | 'tikv', facts: PdFacts, ledger: Ledger, selfPod?: string): MemberView[] | null {
    const pods = this.podFacts(namespace, cluster, component);
    let reported: ReportedMember[];
    if (component === 'pd') {
      if (!facts.members) return null;
      const podNames = [...pods.keys(), ...(selfPod && !pods.has(selfPod) ? [selfPod] : [])];
      reported = facts.members.map((m) => {
        const urls = [...(m.member.peer_urls ?? []), ...(m.member.client_urls ?? [])];
        // Exact names first: basic-pd-1 must not take basic-pd-10's member.
        const pod = podNames.find((p) => m.name === p) ?? podNames.find((p) => memberNameMatchesPod(m.name, urls, p));
        return { name: m.name, pod, healthy: m.healthy };
      });
    } else {
      if (!facts.stores) return null;
      reported = facts.stores.map((s) => {
        const pod = podOfStoreAddress(s.store.address, s.store.labels);
        const state = s.store.state_name;
        // The pod's own store while Disconnected may still serve: its removal counts like an Up one's.
        const healthy = state === 'Up' || (pod !== undefined && pod === selfPod && state === 'Disconnected');
        return { name: s.store.id, pod, healthy, storeState: state, regionCount: s.status.region_count, leaderCount: s.status.leader_count };
      });
      // A Tombstone store and the live store of a reused pod name: the live one is the pod's.
      const live = new Set(reported.filter((r) => !GONE.has(r.storeState ?? '')).map((r) => r.pod));
      reported = reported.map((r) => (GONE.has(r.storeState ?? '') && live.has(r.pod) ? { ...r, pod: undefined } : r));
    }
    return deriveMembers({
      component,
      members: reported,
      pods,
      node: (name) => {
        const n = this.deps.nodes.get(name);
        return n ? { draining: n.draining ?? n.unschedulable } : undefined;
      },
      leaving: ledger.leaving,
    });
  }

  /** Reads the snapshot and the ledger and judges the request. Never writes. */
  async assess(req: DisruptionRequest): Promise<Assessment> {
    // A client that could not be made (its TLS Secret unreadable) says why in its own words.
    let clientError: string | null = null;
    const [facts, versioned] = await Promise.all([
      this.deps.pd.facts(req.namespace, req.cluster).catch((err: Error) => {
        clientError = err.message;
        return emptyFacts(err.message);
      }),
      this.deps.ledger.read(req.namespace, req.cluster),
    ]);
    const now = this.deps.now();
    // The controller recorded this very pod's removal (a suspend, a scale-in): it goes on that record,
    // also when PD no longer answers (a suspend stops PD on purpose).
    const byController = req.podUid
      ? versioned.ledger.leaving.find((e) => e.component === req.component && e.pod === req.pod && e.podUid === req.podUid && e.act !== undefined && CONTROLLER_ACTS.has(e.act))
      : undefined;
    if (byController) {
      return { facts, versioned, members: [], self: undefined, recorded: byController, unknown: null, decision: { allowed: true, reason: `its ${byController.act} was allowed and recorded ${Math.round((now - byController.since) / 1000)}s ago` } };
    }
    const needed = req.component === 'pd' ? (['members'] as const) : (['stores', 'maxReplicas', 'regionChecks'] as const);
    const unknown = clientError ?? missingFact(facts, needed);
    const members = unknown ? [] : this.members(req.namespace, req.cluster, req.component, facts, versioned.ledger, req.pod)!;
    const self = req.member !== undefined ? members.find((m) => m.name === req.member && m.state !== 'joining') : members.find((m) => m.pod === req.pod && m.state !== 'joining' && m.state !== 'gone') ?? members.find((m) => m.pod === req.pod && m.state === 'gone');
    const recorded = self ? versioned.ledger.leaving.find((e) => e.component === req.component && e.member === self.name && e.podUid === req.podUid) : undefined;
    const base = { facts, versioned, members, self, recorded, unknown };
    if (unknown) return { ...base, decision: { allowed: false, reason: unknown } };
    if (!self) return { ...base, decision: { allowed: true, reason: `${req.pod} is not a ${req.component === 'pd' ? 'member of this PD cluster' : 'TiKV store of this cluster'}` } };
    if (self.state === 'gone') return { ...base, decision: { allowed: true, reason: `store ${self.name} of ${req.pod} is ${self.storeState}` } };
    if (recorded) return { ...base, decision: { allowed: true, reason: `its ${recorded.act ?? 'removal'} was allowed and recorded ${Math.round((now - recorded.since) / 1000)}s ago` } };
    let faults = { worst: 0, regions: 0 };
    if (req.component === 'tikv') {
      const offline = new Set(facts.stores!.filter((s) => s.store.state_name === 'Offline').map((s) => s.store.id));
      faults = regionFaults(facts.regionChecks!, facts.maxReplicas!, offline);
    }
    const decision = decideDisruption(
      {
        component: req.component,
        act: req.act,
        member: self.name,
        members: disruptionMembers(members),
        ...(req.component === 'tikv' ? { maxReplicas: facts.maxReplicas!, regionFaults: faults.worst, faultyRegions: faults.regions } : {}),
      },
      now,
    );
    return { ...base, decision };
  }

  /**
   * Records the allowed act with the ledger version the assessment read (plus `change`, e.g. an
   * eviction record written in the same update); false when another writer came first.
   */
  async record(req: DisruptionRequest, a: Assessment, change?: (l: Ledger) => Ledger): Promise<boolean> {
    if (!a.self || a.self.state === 'gone') return true;
    const { ledger, resourceVersion } = a.versioned;
    const entry: LeavingEntry = { component: req.component, member: a.self.name, pod: req.pod, podUid: req.podUid, since: this.deps.now(), act: req.act };
    const has = ledger.leaving.some((e) => e.component === entry.component && e.member === entry.member && e.podUid === entry.podUid);
    if (has && !change) return true;
    let next: Ledger = has ? ledger : { ...ledger, leaving: [...ledger.leaving.filter((e) => !(e.component === entry.component && e.member === entry.member)), entry] };
    if (change) next = change(next);
    const ok = await this.deps.ledger.write(req.namespace, req.cluster, next, resourceVersion);
    if (!ok) this.deps.logger.info({ cluster: objectKey(req.namespace, req.cluster), member: entry.member, act: req.act }, 'DisruptionLedger changed under this decision; deciding again');
    return ok;
  }

  /** Judge and record in one: for callers with no step between the decision and the record. */
  async admit(req: DisruptionRequest, attempts = 3): Promise<{ allowed: boolean; reason: string; assessment: Assessment | null }> {
    let last: Assessment | null = null;
    for (let i = 0; i < attempts; i++) {
      const a = await this.assess(req);
      last = a;
      if (!a.decision.allowed) return { allowed: false, reason: a.decision.reason, assessment: a };
      if (await this.record(req, a)) return { allowed: true, reason: a.decision.reason, assessment: a };
    }
    return { allowed: false, reason: 'other disruptions of this cluster are being decided at the same moment; deciding again shortly', assessment: last };
  }
}
