// The drain use cases behind the admission webhooks: read caches, PD and the cluster's
// DisruptionLedger, call the pure drain policy, carry out its action (leader transfer, leader
// eviction), record the allowed removal in the ledger with a resourceVersion precondition, and record
// Events. Every PD and Kubernetes call has a deadline and the whole review has a budget inside the
// webhook's timeoutSeconds, so an admission request always gets an answer.
import type { Logger } from 'pino';
import {
  decideDisruption,
  decideEvictionCleanup,
  decideLeavingCleanup,
  decidePdRemoval,
  RETRY_SECONDS,
  decideTikvRemoval,
  type DrainDecision,
  type LeavingEntry,
  type MemberDisruptionState,
  type TikvStoreState,
} from '../domain/drain.ts';
import { ANNOTATION_SKIP_DRAIN_CHECK, DEPRECATED_SKIP_WARNING, LEGACY_ANNOTATION_SKIP_DRAIN_CHECK, objectKey, tidbIdentity, type Labels, type NodeView, type PodView } from '../domain/model.ts';
import type { EventSink, ObjectRef } from '../k8s/events.ts';
import { updateLedger, type Ledger, type LedgerPort, type VersionedLedger } from '../k8s/disruptions.ts';
import { REGION_CHECKS, type CheckedRegion, type Member, type RegionCheck, type StoreInfo } from '../pd/client.ts';
import type { NodeStore, PodStore } from '../state/stores.ts';

/** The PD calls of leader hand-over and eviction; PdClient implements it. */
export interface PdApi {
  members(): Promise<{ members: Member[]; leader?: Member | null | undefined }>;
  health(): Promise<Array<{ name: string; health: boolean }>>;
  transferLeader(to: string): Promise<void>;
  stores(): Promise<StoreInfo[]>;
  evictingStores(): Promise<string[]>;
  addEvictLeader(storeId: string): Promise<void>;
  removeEvictLeader(storeId: string): Promise<void>;
}

/** Plus what disruption accounting reads: each member's own health, region checks, max-replicas. */
export interface DrainPdApi extends PdApi {
  memberHealth(members: readonly Member[]): Promise<Array<{ name: string; healthy: boolean }>>;
  regionCheck(check: RegionCheck): Promise<{ count: number; regions: CheckedRegion[] }>;
  maxReplicas(): Promise<number>;
}

/** Kubernetes reads on the admission path (each with a deadline): is this cluster being torn down? */
export interface TeardownLookups {
  namespaceDeleting(namespace: string): Promise<boolean>;
  /** The StatefulSet owning the pod (of `kind`) is gone or being deleted (or its TidbCluster is). */
  ownerDeleting(namespace: string, statefulSet: string, kind: StatefulSetKind): Promise<boolean>;
}

/** Which StatefulSet owns a pod: apps/v1, or tidb-operator's Advanced StatefulSet (apps.pingcap.com/v1). */
export type StatefulSetKind = 'apps/v1' | 'apps.pingcap.com/v1';

/** A pod read live from the API server (with a deadline), for removals of pods the cache does not hold. */
export interface LivePodReader {
  /** Its view (null: not a PD/TiKV pod), or 'gone' when it does not exist; throws when it cannot tell. */
  read(namespace: string, name: string, timeoutMs: number): Promise<PodView | null | 'gone'>;
}

/** How long a live read of a pod missing from the cache may take (at most an eighth of the budget). */
export const LIVE_READ_MS = 500;

export interface RemovalRequest {
  namespace: string;
  name: string;
  /** Labels, annotations and deletion state from the request's oldObject (DELETE); evictions have none. */
  fromRequest?: { labels: Labels; deleting: boolean; skipDrainCheck: boolean; skipDrainCheckLegacy?: boolean; uid: string } | undefined;
  dryRun: boolean;
  /** 'eviction' (kubectl drain), 'delete', or one pod of a DeleteCollection. */
  via: 'eviction' | 'delete' | 'deletecollection';
}

export type Review =
  | { allowed: true; reason: string; warnings: string[] }
  | { allowed: false; code: number; reason: string; message: string; retryAfterSeconds?: number };

export interface DrainMetrics {
  decision(component: string, outcome: 'allow' | 'wait' | 'error'): void;
  waited(component: string, seconds: number): void;
}

export interface DrainDeps {
  pods: PodStore;
  nodes: NodeStore;
  pdFor(namespace: string, cluster: string): DrainPdApi | Promise<DrainPdApi>;
  ledger: LedgerPort;
  teardown: TeardownLookups;
  /** Evictions carry no pod: one missing from the cache is read live, never let go unchecked. */
  livePods: LivePodReader;
  events: EventSink;
  metrics: DrainMetrics;
  logger: Logger;
  now: () => number;
  evictTimeoutMs: number;
  abandonAfterMs: number;
  /** The whole review must answer within this (well inside the webhook's timeoutSeconds). */
  budgetMs?: number;
}

const allow = (reason: string, warnings: string[] = []): Review => ({ allowed: true, reason, warnings });
const wait = (key: string, reason: string, retryAfterSeconds = RETRY_SECONDS): Review => ({
  allowed: false,
  code: 429,
  reason: 'TooManyRequests',
  message: `${key} cannot go yet: ${reason}`,
  retryAfterSeconds,
});

function podRef(pod: PodView): ObjectRef {
  return { kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid };
}
function stsRef(pod: PodView): ObjectRef | null {
  return pod.owner ? { kind: 'StatefulSet', apiVersion: 'apps/v1', namespace: pod.namespace, name: pod.owner } : null;
}

const GONE_STATES = new Set(['Tombstone', 'Removed']);
const isGone = (s: StoreInfo) => GONE_STATES.has(s.store.state_name);

/**
 * TiKV store of a pod: production addresses are <pod>.<cluster>-tikv-peer.<ns>.svc:20160; the local
 * simulator's stores carry a `pod` label instead. A live store wins over a Tombstone at the same
 * address (scale-in then scale-out reuses the pod name).
 */
export function storeOfPod(stores: readonly StoreInfo[], podName: string): StoreInfo | undefined {
  const mine = stores.filter((s) => s.store.address.startsWith(`${podName}.`) || s.store.labels.some((l) => l.key === 'pod' && l.value === podName));
  return mine.find((s) => !isGone(s)) ?? mine[0];
}

function podOfStore(store: StoreInfo): string | undefined {
  const byLabel = store.store.labels.find((l) => l.key === 'pod')?.value;
  if (byLabel) return byLabel;
  const host = store.store.address.split(':')[0] ?? '';
  return host.includes('.') ? host.split('.')[0] : undefined;
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
};

/**
 * Is this PD member the one of this pod? By exact name, by `<pod>.` prefix (tidb-operator with
 * clusterDomain names members `<pod>.<tc>-pd-peer.<ns>.svc.<domain>`), or by the host of its peer or
 * client URLs.
 */
export function memberIsPod(m: Member, podName: string): boolean {
  if (m.name === podName || m.name.startsWith(`${podName}.`)) return true;
  return [...(m.peer_urls ?? []), ...(m.client_urls ?? [])].some((u) => {
    const h = hostOf(u);
    return h === podName || h.startsWith(`${podName}.`);
  });
}

export function memberOfPod(members: readonly Member[], podName: string): Member | undefined {
  return members.find((m) => m.name === podName) ?? members.find((m) => memberIsPod(m, podName));
}

function storeState(s: StoreInfo): TikvStoreState {
  return { id: s.store.id, stateName: s.store.state_name, leaderCount: s.status.leader_count, regionCount: s.status.region_count };
}

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

class OutOfTime extends Error {}

export class DrainService {
  private readonly deps: DrainDeps;
  /** Pod uid → when it was first told to wait, for the waited-seconds metric. */
  private readonly waitingSince = new Map<string, number>();
  /** Cluster → last leader transfer request, so that drain's retries do not re-issue it every 5 s. */
  private readonly lastTransfer = new Map<string, number>();
  /** Node → draining state last acted on, so a cordon seen by the webhook and the watch acts once. */
  private readonly nodeDraining = new Map<string, boolean>();

  constructor(deps: DrainDeps) {
    this.deps = deps;
  }

  /** May this pod be deleted or evicted now? Never throws: PD or API trouble becomes a "not yet". */
  async reviewRemoval(req: RemovalRequest): Promise<Review> {
    const key = objectKey(req.namespace, req.name);
    let cached = this.deps.pods.get(key);
    if (!cached && !req.fromRequest) {
      // Nothing but the cache says what this pod is (an eviction has no oldObject): ask the API server.
      const ms = Math.min(LIVE_READ_MS, (this.deps.budgetMs ?? 4000) / 8);
      let timer: NodeJS.Timeout | undefined;
      try {
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
        const live = await Promise.race([this.deps.livePods.read(req.namespace, req.name, ms), late]);
        if (live === 'gone') return allow('the pod does not exist');
        cached = live ?? undefined;
      } catch (err) {
        const message = `${key} cannot go yet: it is not in tidb-steward's pod cache and reading it from the API server failed: ${(err as Error).message}; will retry`;
        this.deps.logger.warn({ pod: key, via: req.via, err: (err as Error).message }, 'live read of a pod missing from the cache failed; answering not yet');
        return { allowed: false, code: 429, reason: 'TooManyRequests', message, retryAfterSeconds: RETRY_SECONDS };
      } finally {
        clearTimeout(timer);
      }
    }
    const identity = req.fromRequest ? tidbIdentity(req.namespace, req.fromRequest.labels) : cached ?? null;
    if (!identity) return allow('not a TiDB PD or TiKV pod');
    const deleting = req.fromRequest?.deleting ?? cached?.deleting ?? false;
    if (deleting) return allow('the pod is already terminating');
    if (req.dryRun) return allow('dry run: nothing is changed');
    const pod: PodView = cached ?? {
      uid: req.fromRequest?.uid ?? '',
      namespace: req.namespace,
      name: req.name,
      cluster: identity.cluster,
      component: identity.component,
      nodeName: null,
      terminal: false,
      deleting: false,
      owner: null,
      running: false,
      skipDrainCheck: false,
    };
    if (req.fromRequest?.skipDrainCheck ?? pod.skipDrainCheck) {
      const legacy = req.fromRequest ? Boolean(req.fromRequest.skipDrainCheckLegacy) : Boolean(pod.skipDrainCheckLegacy);
      const message = `${key} removed without drain checks: it carries ${legacy ? LEGACY_ANNOTATION_SKIP_DRAIN_CHECK : ANNOTATION_SKIP_DRAIN_CHECK}=true`;
      this.deps.logger.warn({ pod: key, via: req.via, ...(legacy ? { deprecated: DEPRECATED_SKIP_WARNING } : {}) }, message);
      this.emit(pod, 'Warning', 'DrainCheckSkipped', legacy ? `${message} (${DEPRECATED_SKIP_WARNING})` : message);
      return allow('escape hatch annotation set', legacy ? [message, DEPRECATED_SKIP_WARNING] : [message]);
    }
    const step = { now: 'starting' };
    const budget = this.deps.budgetMs ?? 4000;
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OutOfTime(step.now)), budget);
    });
    try {
      const review = await Promise.race([this.judge(pod, req, step), outOfTime]);
      return this.account(pod, key, req, review);
    } catch (err) {
      const e = err as Error;
      const message =
        e instanceof OutOfTime
          ? `${key} cannot go yet: tidb-steward ran out of its ${budget} ms budget while ${e.message}; will retry`
          : `${key} cannot go yet: cannot check it with PD of cluster ${pod.namespace}/${pod.cluster}: ${e.message}; will retry`;
      this.deps.logger.warn({ pod: key, via: req.via, err: e.message, step: step.now }, 'drain check failed; answering not yet');
      this.deps.metrics.decision(pod.component, 'error');
      this.emit(pod, 'Warning', 'DrainCheckFailed', message);
      return { allowed: false, code: 429, reason: 'TooManyRequests', message, retryAfterSeconds: RETRY_SECONDS };
    } finally {
      clearTimeout(timer);
    }
  }

  private account(pod: PodView, key: string, req: RemovalRequest, review: Review): Review {
    if (review.allowed) {
      this.deps.metrics.decision(pod.component, 'allow');
      const first = this.waitingSince.get(pod.uid);
      if (first !== undefined) {
        this.deps.metrics.waited(pod.component, (this.deps.now() - first) / 1000);
        this.waitingSince.delete(pod.uid);
      }
      this.deps.logger.info({ pod: key, via: req.via, reason: review.reason }, 'removal allowed');
      return review;
    }
    this.deps.metrics.decision(pod.component, 'wait');
    if (!this.waitingSince.has(pod.uid)) this.waitingSince.set(pod.uid, this.deps.now());
    this.deps.logger.info({ pod: key, via: req.via, reason: review.message }, 'removal must wait');
    return review;
  }

  private async judge(pod: PodView, req: RemovalRequest, step: { now: string }): Promise<Review> {
    const key = objectKey(pod.namespace, pod.name);
    step.now = 'checking whether the cluster is being torn down';
    const teardown = await this.teardownReason(pod);
    if (teardown) {
      this.deps.logger.info({ pod: key, via: req.via, reason: teardown }, 'teardown: removal allowed without drain checks');
      return allow(teardown);
    }
    try {
      return pod.component === 'pd' ? await this.judgePd(pod, step) : await this.judgeTikv(pod, step);
    } catch (err) {
      if (err instanceof OutOfTime) throw err;
      // A pod that does not run holds no member worth protecting: recovery must not wedge on PD.
      if (!pod.running || pod.terminal) {
        const message = `${key} is not Running and PD of cluster ${pod.namespace}/${pod.cluster} cannot be asked (${(err as Error).message}): its removal is allowed unchecked`;
        this.deps.logger.warn({ pod: key, err: (err as Error).message }, message);
        this.emit(pod, 'Warning', 'DrainCheckSkippedPdUnreachable', message);
        return allow('the pod is not Running and PD cannot be reached', [message]);
      }
      throw err;
    }
  }

  private async teardownReason(pod: PodView): Promise<string | null> {
    const [ns, owner] = await Promise.all([
      this.deps.teardown.namespaceDeleting(pod.namespace),
      pod.owner ? this.deps.teardown.ownerDeleting(pod.namespace, pod.owner, pod.ownerAdvanced ? 'apps.pingcap.com/v1' : 'apps/v1') : Promise.resolve(false),
    ]);
    if (ns) return `namespace ${pod.namespace} is being deleted`;
    if (owner) return `StatefulSet ${pod.namespace}/${pod.owner} (or its TidbCluster) is being deleted`;
    return null;
  }

  /** Why a member is away or about to be, from the ledger and the pod and node caches. */
  private leavingOf(
    namespace: string,
    entry: LeavingEntry | undefined,
    podName: string | undefined,
  ): Pick<MemberDisruptionState, 'leaving' | 'leavingSoft' | 'leavingSince'> {
    if (entry) return { leaving: 'removal allowed', leavingSince: entry.since };
    const p = podName ? this.deps.pods.get(objectKey(namespace, podName)) : undefined;
    if (!p) return { leaving: 'has no pod' };
    if (p.deleting) return { leaving: 'pod is terminating' };
    if (!p.running || p.ready === false) return { leaving: 'pod is not Ready' };
    const node = p.nodeName ? this.deps.nodes.get(p.nodeName) : undefined;
    if (node?.draining ?? node?.unschedulable) return { leaving: `node ${node!.name} is being drained`, leavingSoft: true };
    return { leaving: null };
  }

  private canLead(namespace: string, podName: string | undefined): boolean {
    const p = podName ? this.deps.pods.get(objectKey(namespace, podName)) : undefined;
    const node: NodeView | undefined = p?.nodeName ? this.deps.nodes.get(p.nodeName) : undefined;
    return Boolean(p && p.running && !p.deleting && node && !(node.draining ?? node.unschedulable));
  }

  private pdPods(pod: PodView): string[] {
    return [...this.deps.pods.members(pod.namespace, pod.cluster, 'pd').values()].map((p) => p.name);
  }

  private async judgePd(pod: PodView, step: { now: string }): Promise<Review> {
    const key = objectKey(pod.namespace, pod.name);
    const pd = await this.deps.pdFor(pod.namespace, pod.cluster);
    for (let attempt = 0; attempt < 3; attempt++) {
      step.now = 'reading PD members and the DisruptionLedger';
      const [members, versioned] = await Promise.all([pd.members(), this.deps.ledger.read(pod.namespace, pod.cluster)]);
      const self = memberOfPod(members.members, pod.name);
      if (!self) return allow(`${pod.name} is not a member of this PD cluster`);
      step.now = 'asking each PD member for its health';
      const health = new Map((await pd.memberHealth(members.members)).map((h) => [h.name, h.healthy]));
      if (![...health.values()].some(Boolean)) throw new Error('no PD member answered its health check');
      const podNames = this.pdPods(pod);
      const podOf = (m: Member) => (memberIsPod(m, pod.name) ? pod.name : podNames.find((p) => memberIsPod(m, p)));
      const { ledger } = versioned;
      const states: MemberDisruptionState[] = members.members.map((m) => ({
        name: m.name,
        healthy: health.get(m.name) ?? false,
        ...this.leavingOf(pod.namespace, ledger.leaving.find((e) => e.component === 'pd' && e.member === m.name), podOf(m)),
      }));
      const now = this.deps.now();
      const disruption = decideDisruption({ component: 'pd', member: self.name, members: states }, now);
      if (!disruption.allowed) return wait(key, disruption.reason);
      const handOver = decidePdRemoval(self.name, {
        members: states.map((s, i) => ({ name: s.name, healthy: s.healthy, canLead: s.healthy && s.leaving === null && this.canLead(pod.namespace, podOf(members.members[i]!)) })),
        leader: members.leader?.name ?? null,
      });
      if (handOver.kind === 'wait') {
        if (handOver.action?.type === 'transfer-pd-leader') {
          step.now = 'transferring PD leadership';
          await this.transfer(pod, pd, handOver.action.from, handOver.action.to);
        }
        return wait(key, handOver.reason, handOver.retryAfterSeconds);
      }
      step.now = 'recording the removal in the DisruptionLedger';
      if (await this.recordLeaving(pod, versioned, { component: 'pd', member: self.name, pod: pod.name, podUid: pod.uid, since: now })) {
        return allow(`${disruption.reason}; ${handOver.reason}`);
      }
      // Another replica wrote the ledger since we read it: decide again on what it wrote.
    }
    return wait(key, 'other removals of this cluster are being decided at the same moment; retrying');
  }

  /** Adds the entry with the version read; false when another writer came first. */
  private async recordLeaving(pod: PodView, versioned: VersionedLedger, entry: LeavingEntry): Promise<boolean> {
    const { ledger, resourceVersion } = versioned;
    if (ledger.leaving.some((e) => e.component === entry.component && e.member === entry.member && e.podUid === entry.podUid)) return true;
    const next: Ledger = { ...ledger, leaving: [...ledger.leaving.filter((e) => !(e.component === entry.component && e.member === entry.member)), entry] };
    const ok = await this.deps.ledger.write(pod.namespace, pod.cluster, next, resourceVersion);
    if (!ok) this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), member: entry.member }, 'DisruptionLedger changed under this decision; deciding again');
    return ok;
  }

  private async transfer(pod: PodView, pd: DrainPdApi, from: string, to: string): Promise<void> {
    const cluster = `${pod.namespace}/${pod.cluster}`;
    const last = this.lastTransfer.get(cluster) ?? 0;
    if (this.deps.now() - last < 3000) return;
    this.lastTransfer.set(cluster, this.deps.now());
    await pd.transferLeader(to);
    this.emit(pod, 'Normal', 'PDLeaderTransfer', `transferring PD leader of cluster ${cluster} from ${from} to ${to}`);
  }

  private async judgeTikv(pod: PodView, step: { now: string }): Promise<Review> {
    const key = objectKey(pod.namespace, pod.name);
    const pd = await this.deps.pdFor(pod.namespace, pod.cluster);
    for (let attempt = 0; attempt < 3; attempt++) {
      step.now = 'reading TiKV stores, region checks and the DisruptionLedger';
      const [stores, evicting, versioned, maxReplicas, checks] = await Promise.all([
        pd.stores(),
        pd.evictingStores(),
        this.deps.ledger.read(pod.namespace, pod.cluster),
        pd.maxReplicas(),
        Promise.all(REGION_CHECKS.map(async (c) => [c, (await pd.regionCheck(c)).regions] as const)),
      ]);
      const store = storeOfPod(stores, pod.name);
      if (!store) return allow(`no TiKV store in PD belongs to ${pod.name}`);
      const storeId = store.store.id;
      const { ledger } = versioned;
      const now = this.deps.now();
      const live = stores.filter((s) => !isGone(s));
      const states: MemberDisruptionState[] = live.map((s) => ({
        name: s.store.id,
        // Its own store Disconnected may still serve: its removal is counted like an Up one's.
        healthy: s.store.state_name === 'Up' || (s.store.id === storeId && s.store.state_name === 'Disconnected'),
        ...this.leavingOf(pod.namespace, ledger.leaving.find((e) => e.component === 'tikv' && e.member === s.store.id), s.store.id === storeId ? pod.name : podOfStore(s)),
      }));
      const offline = new Set(stores.filter((s) => s.store.state_name === 'Offline').map((s) => s.store.id));
      const faults = regionFaults(new Map(checks), maxReplicas, offline);
      if (!isGone(store)) {
        const disruption = decideDisruption(
          { component: 'tikv', member: storeId, members: states, maxReplicas, regionFaults: faults.worst, faultyRegions: faults.regions },
          now,
        );
        if (!disruption.allowed) return wait(key, disruption.reason);
      }
      const record = ledger.evictions.find((r) => r.storeId === storeId);
      // The clock runs from when this pod's removal began, or from when an eviction someone else
      // started was first seen; not from a cordon or an earlier pod.
      const ours = record && record.podUid === pod.uid && record.cause === 'removal' ? record : undefined;
      const isEvicting = evicting.includes(storeId);
      const seen = !record && isEvicting ? ledger.seenEvictions.find((s) => s.storeId === storeId) : undefined;
      const decision: DrainDecision = decideTikvRemoval(
        pod.name,
        { store: storeState(store), evicting: isEvicting, evictionBeganAt: ours?.beganAt ?? seen?.since ?? null },
        { evictTimeoutMs: this.deps.evictTimeoutMs, now },
      );
      if (decision.kind === 'wait') {
        step.now = 'starting the leader eviction';
        await this.startEviction(pod, store, decision, record, ours, isEvicting && !record && !seen);
        return wait(key, decision.reason, decision.retryAfterSeconds);
      }
      if (decision.warning) this.emit(pod, 'Warning', 'EvictLeaderTimeout', decision.warning);
      step.now = 'recording the removal in the DisruptionLedger';
      if (isGone(store)) return allow(decision.reason);
      const entry: LeavingEntry = { component: 'tikv', member: storeId, pod: pod.name, podUid: pod.uid, since: now };
      const startsEviction = decision.action?.type === 'evict-tikv-leaders';
      const withEviction: VersionedLedger = startsEviction
        ? { ...versioned, ledger: { ...ledger, evictions: [...ledger.evictions.filter((r) => r.storeId !== storeId), { storeId, podUid: pod.uid, beganAt: now, cause: 'removal' }] } }
        : versioned;
      if (await this.recordLeaving(pod, withEviction, entry)) {
        // Recorded before adding to PD: an entry without a record would never be cleaned up.
        if (startsEviction) await pd.addEvictLeader(storeId);
        return allow(decision.reason, decision.warning ? [decision.warning] : []);
      }
    }
    return wait(key, 'other removals of this cluster are being decided at the same moment; retrying');
  }

  private async startEviction(
    pod: PodView,
    store: StoreInfo,
    decision: DrainDecision,
    record: Ledger['evictions'][number] | undefined,
    ours: Ledger['evictions'][number] | undefined,
    firstSeenOthers: boolean,
  ): Promise<void> {
    const storeId = store.store.id;
    const now = this.deps.now();
    const startsEviction = decision.action?.type === 'evict-tikv-leaders';
    if (firstSeenOthers) {
      await updateLedger(this.deps.ledger, pod.namespace, pod.cluster, (l) =>
        l.seenEvictions.some((s) => s.storeId === storeId) ? null : { ...l, seenEvictions: [...l.seenEvictions, { storeId, since: now }] },
      );
      this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), store: storeId }, 'leader eviction started by someone else: its timeout runs from now');
    }
    // Record before adding to PD: an entry without a record would never be cleaned up. An eviction
    // of a cordon or an earlier pod becomes this removal's, so its clock starts now.
    if (startsEviction || (record && !ours)) {
      await this.deps.ledger.put(pod.namespace, pod.cluster, { storeId, podUid: pod.uid, beganAt: now, cause: 'removal' }, pod.name);
    }
    if (startsEviction) {
      await (await this.deps.pdFor(pod.namespace, pod.cluster)).addEvictLeader(storeId);
      this.emit(pod, 'Normal', 'EvictingLeaders', `evicting ${store.status.leader_count} region leaders from TiKV store ${storeId} before ${pod.name} goes`);
    }
  }

  /**
   * A node started or stopped being drained (cordon, or an autoscaler's taint): start moving PD
   * leadership and TiKV leaders off it without waiting for the evictions, or end those evictions.
   * The webhook and the node watch both report it; each change is acted on once.
   */
  async nodeDrainChanged(nodeName: string, draining: boolean): Promise<void> {
    if (this.nodeDraining.get(nodeName) === draining) return;
    this.deps.logger.info({ node: nodeName, draining }, draining ? 'node is being drained: moving PD and TiKV leaders away' : 'node no longer drained: ending its leader evictions');
    this.nodeDraining.set(nodeName, draining);
    if (this.nodeDraining.size > 10_000) this.nodeDraining.clear();
    if (draining) await this.nodeCordoned(nodeName);
    else await this.reconcileEvictions();
  }

  /**
   * The node cache saw a node change: a change of its drain state (cordon, or a drain taint added or
   * removed) starts or ends the early hand-over. Returns null when there is nothing to do.
   */
  nodeViewChanged(before: NodeView | undefined, after: NodeView): Promise<void> | null {
    if (!before) return null;
    const was = before.draining ?? before.unschedulable;
    const is = after.draining ?? after.unschedulable;
    return was === is ? null : this.nodeDrainChanged(after.name, is);
  }

  /** A node is being drained: hand PD leadership over and start evicting TiKV leaders, now. */
  async nodeCordoned(nodeName: string): Promise<void> {
    const onNode = [...this.deps.pods.onNode(nodeName)].filter((p) => !p.deleting && !p.terminal);
    for (const pod of onNode) {
      try {
        const pd = await this.deps.pdFor(pod.namespace, pod.cluster);
        if (pod.component === 'pd') {
          const members = await pd.members();
          const self = memberOfPod(members.members, pod.name);
          if (!self || !members.leader || !memberIsPod(members.leader, pod.name)) continue;
          const health = new Map((await pd.memberHealth(members.members)).map((h) => [h.name, h.healthy]));
          const podNames = this.pdPods(pod);
          const decision = decidePdRemoval(self.name, {
            members: members.members.map((m) => {
              const p = podNames.find((n) => memberIsPod(m, n));
              return { name: m.name, healthy: health.get(m.name) ?? false, canLead: (health.get(m.name) ?? false) && this.canLead(pod.namespace, p) };
            }),
            leader: self.name,
          });
          if (decision.action?.type === 'transfer-pd-leader') await this.transfer(pod, pd, decision.action.from, decision.action.to);
        } else {
          const [stores, evicting] = await Promise.all([pd.stores(), pd.evictingStores()]);
          const store = storeOfPod(stores, pod.name);
          if (!store || isGone(store) || store.store.state_name === 'Offline' || evicting.includes(store.store.id)) continue;
          await this.deps.ledger.put(pod.namespace, pod.cluster, { storeId: store.store.id, podUid: pod.uid, beganAt: this.deps.now(), cause: 'cordon' }, pod.name);
          await pd.addEvictLeader(store.store.id);
          this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), node: nodeName, store: store.store.id }, 'node is being drained: evicting leaders of its TiKV store');
          this.emit(pod, 'Normal', 'EvictingLeaders', `node ${nodeName} is being drained: evicting region leaders from TiKV store ${store.store.id}`);
        }
      } catch (err) {
        this.deps.logger.warn({ pod: objectKey(pod.namespace, pod.name), node: nodeName, err: (err as Error).message }, 'could not prepare pod for the drain of its node');
      }
    }
  }

  /**
   * Level-triggered cleanup from what PD and the cluster say (nothing in memory): end every
   * evict-leader entry this service added once its store's pod is back (or the store is gone), forget
   * others' evictions once they end, and drop leaving entries once the member is back and healthy.
   */
  async reconcileEvictions(): Promise<number> {
    let removed = 0;
    for (const { namespace, cluster, ledger } of await this.deps.ledger.listLedgers()) {
      if (ledger.evictions.length + ledger.leaving.length + ledger.seenEvictions.length === 0) continue;
      const where = `${namespace}/${cluster}`;
      try {
        removed += await this.reconcileCluster(namespace, cluster, ledger);
      } catch (err) {
        this.deps.logger.warn({ cluster: where, err: (err as Error).message }, 'cannot clean up the DisruptionLedger from what PD answers now; will retry');
      }
    }
    return removed;
  }

  private async reconcileCluster(namespace: string, cluster: string, ledger: Ledger): Promise<number> {
    let removed = 0;
    const pd = await this.deps.pdFor(namespace, cluster);
    const needStores = ledger.evictions.length + ledger.seenEvictions.length > 0 || ledger.leaving.some((e) => e.component === 'tikv');
    const stores = needStores ? await pd.stores() : [];
    const now = this.deps.now();
    const podAt = (name: string | undefined) => (name ? this.deps.pods.get(objectKey(namespace, name)) : undefined);
    for (const record of ledger.evictions) {
      const store = stores.find((s) => s.store.id === record.storeId) ?? null;
      const pod = podAt(store ? podOfStore(store) : undefined);
      const node = pod?.nodeName ? this.deps.nodes.get(pod.nodeName) : undefined;
      const verdict = decideEvictionCleanup(
        record,
        store ? { stateName: store.store.state_name } : null,
        pod ? { uid: pod.uid, running: pod.running, deleting: pod.deleting, nodeSchedulable: Boolean(node && !(node.draining ?? node.unschedulable)) } : null,
        { evictTimeoutMs: this.deps.evictTimeoutMs, abandonAfterMs: this.deps.abandonAfterMs, now },
      );
      if (!verdict.remove) continue;
      try {
        await pd.removeEvictLeader(record.storeId);
        await this.deps.ledger.remove(namespace, cluster, record.storeId);
        removed++;
        this.deps.logger.info({ cluster: `${namespace}/${cluster}`, store: record.storeId, reason: verdict.reason }, 'leader eviction ended');
        if (pod) this.emit(pod, 'Normal', 'EvictLeaderEnded', `stopped evicting leaders from TiKV store ${record.storeId}: ${verdict.reason}`);
      } catch (err) {
        this.deps.logger.warn({ store: record.storeId, err: (err as Error).message }, 'could not end leader eviction; will retry');
      }
    }
    if (ledger.seenEvictions.length) {
      const evicting = new Set(await pd.evictingStores());
      const ended = ledger.seenEvictions.filter((s) => !evicting.has(s.storeId)).map((s) => s.storeId);
      if (ended.length) {
        await updateLedger(this.deps.ledger, namespace, cluster, (l) => ({ ...l, seenEvictions: l.seenEvictions.filter((s) => !ended.includes(s.storeId)) }));
      }
    }
    if (ledger.leaving.length) {
      let pdHealth: Map<string, boolean> | null = null;
      if (ledger.leaving.some((e) => e.component === 'pd')) {
        const members = (await pd.members()).members;
        pdHealth = new Map((await pd.memberHealth(members)).map((h) => [h.name, h.healthy]));
      }
      const done: Array<{ entry: LeavingEntry; reason: string }> = [];
      for (const entry of ledger.leaving) {
        const p = podAt(entry.pod);
        let member: { healthy: boolean } | null;
        if (entry.component === 'pd') member = pdHealth!.has(entry.member) ? { healthy: pdHealth!.get(entry.member)! } : null;
        else {
          const s = stores.find((x) => x.store.id === entry.member);
          member = s && !isGone(s) ? { healthy: s.store.state_name === 'Up' } : null;
        }
        const verdict = decideLeavingCleanup(entry, p ? { uid: p.uid, running: p.running, ready: p.ready !== false, deleting: p.deleting } : null, member, { now, abandonAfterMs: this.deps.abandonAfterMs });
        if (verdict.remove) done.push({ entry, reason: verdict.reason });
      }
      if (done.length) {
        const gone = (e: LeavingEntry) => done.some((d) => d.entry.component === e.component && d.entry.member === e.member && d.entry.podUid === e.podUid);
        await updateLedger(this.deps.ledger, namespace, cluster, (l) => (l.leaving.some(gone) ? { ...l, leaving: l.leaving.filter((e) => !gone(e)) } : null));
        for (const d of done) {
          removed++;
          this.deps.logger.info({ cluster: `${namespace}/${cluster}`, member: d.entry.member, reason: d.reason }, 'member is no longer leaving');
          const p = podAt(d.entry.pod);
          if (p) this.emit(p, 'Normal', 'MemberBack', `${d.entry.component === 'pd' ? 'PD member' : 'TiKV store'} ${d.entry.member} no longer counts as leaving: ${d.reason}`);
        }
      }
    }
    return removed;
  }

  private emit(pod: PodView, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.events.emit(podRef(pod), type, reason, message);
    const sts = stsRef(pod);
    if (sts) this.deps.events.emit(sts, type, reason, message);
  }
}
