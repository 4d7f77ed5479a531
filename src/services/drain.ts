// The drain use cases behind the admission webhooks: read caches, PD and the cluster's
// DisruptionLedger, call the pure drain policy, carry out its action (leader transfer, leader
// eviction), record the allowed removal in the ledger with a resourceVersion precondition, and record
// Events. Every PD and Kubernetes call has a deadline and the whole review has a budget inside the
// webhook's timeoutSeconds, so an admission request always gets an answer.
import type { Logger } from 'pino';
import {
  CONTROLLER_ACTS,
  decideEvictionCleanup,
  decideEvictionRoom,
  decideLeavingCleanup,
  decidePdRemoval,
  RETRY_SECONDS,
  decideTikvRemoval,
  type DisruptionAct,
  type DrainDecision,
  type EvictionRoom,
  type EvictionRoomStore,
  type LeavingEntry,
  type TikvStoreState,
} from '../domain/drain.ts';
import { disruptionMembers, memberNameMatchesPod, podOfStoreAddress } from '../domain/members.ts';
import { ANNOTATION_SKIP_DRAIN_CHECK, DEPRECATED_SKIP_WARNING, LEGACY_ANNOTATION_SKIP_DRAIN_CHECK, objectKey, tidbIdentity, type Labels, type NodeView, type PodView } from '../domain/model.ts';
import type { EventSink, ObjectRef } from '../k8s/events.ts';
import { updateLedger, type Ledger, type LedgerPort } from '../k8s/disruptions.ts';
import type { CheckedRegion, Member, RegionCheck, StoreInfo } from '../pd/client.ts';
import { missingFact } from '../pd/facts.ts';
import { DisruptionAuthority, type Assessment, type DisruptionRequest } from './authority.ts';
import { PdAccess } from '../pd/facts.ts';
import type { NodeStore, PodStore } from '../state/stores.ts';

/** The PD calls of leader hand-over and eviction; PdClient implements it. */
export interface PdApi {
  members(): Promise<{ members: Member[]; leader?: Member | null | undefined }>;
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
  /** The cluster's PD client, for the calls that change PD and the ledger cleanup. */
  pdFor(namespace: string, cluster: string): DrainPdApi | Promise<DrainPdApi>;
  /**
   * Every decision to let a member go, shared with the controller. Default: one of this service's own
   * over `pdFor` with no snapshot reuse (unit tests step PD between calls).
   */
  authority?: DisruptionAuthority;
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
  return podOfStoreAddress(store.store.address, store.store.labels);
}

/**
 * Is this PD member the one of this pod? By exact name, by `<pod>.` prefix (tidb-operator with
 * clusterDomain names members `<pod>.<tc>-pd-peer.<ns>.svc.<domain>`), or by the host of its peer or
 * client URLs.
 */
export function memberIsPod(m: Member, podName: string): boolean {
  return memberNameMatchesPod(m.name, [...(m.peer_urls ?? []), ...(m.client_urls ?? [])], podName);
}

export function memberOfPod(members: readonly Member[], podName: string): Member | undefined {
  return members.find((m) => m.name === podName) ?? members.find((m) => memberIsPod(m, podName));
}

function storeState(s: StoreInfo): TikvStoreState {
  return { id: s.store.id, stateName: s.store.state_name, leaderCount: s.status.leader_count, regionCount: s.status.region_count };
}

export { regionFaults } from './authority.ts';

/** A webhook's act: an eviction (kubectl drain) or a delete. */
const actOf = (req: RemovalRequest): DisruptionAct => (req.via === 'eviction' ? 'eviction' : 'delete');

/** An eviction started for a pod removal is refreshed this often while the removal is still asked for... */
const ASKED_REFRESH_MS = 20_000;
/** ...and gives way to another store's eviction once nobody asked for this long while its pod serves. */
const ABANDONED_AFTER_MS = 60_000;

class OutOfTime extends Error {}

export class DrainService {
  private readonly deps: DrainDeps;
  /** Pod uid → when it was first told to wait, for the waited-seconds metric. */
  private readonly waitingSince = new Map<string, { since: number; key: string }>();
  /** Cluster → last leader transfer request, so that drain's retries do not re-issue it every 5 s. */
  private readonly lastTransfer = new Map<string, number>();
  /** Node → draining state last acted on, so a cordon seen by the webhook and the watch acts once. */
  private readonly nodeDraining = new Map<string, boolean>();

  private readonly authority: DisruptionAuthority;

  constructor(deps: DrainDeps) {
    this.deps = deps;
    this.authority =
      deps.authority ??
      new DisruptionAuthority({
        pods: deps.pods,
        nodes: deps.nodes,
        pd: new PdAccess({ client: async (ns, cluster) => await deps.pdFor(ns, cluster), ttlMs: 0, now: deps.now }),
        ledger: deps.ledger,
        now: deps.now,
        logger: deps.logger,
      });
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
      const first = this.waitingSince.get(pod.uid)?.since;
      if (first !== undefined) {
        this.deps.metrics.waited(pod.component, (this.deps.now() - first) / 1000);
        this.waitingSince.delete(pod.uid);
      }
      this.deps.logger.info({ pod: key, via: req.via, reason: review.reason }, 'removal allowed');
      return review;
    }
    this.deps.metrics.decision(pod.component, 'wait');
    if (!this.waitingSince.has(pod.uid)) this.waitingSince.set(pod.uid, { since: this.deps.now(), key });
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
      return pod.component === 'pd' ? await this.judgePd(pod, req, step) : await this.judgeTikv(pod, req, step);
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

  /** The pod's removal was recorded by tidb-steward's controller (scale-in, suspend, ...): it goes. */
  /** What this process keeps per pod, cluster or node goes with them (the cleanup loop calls this). */
  forgetGone(): void {
    for (const [uid, w] of this.waitingSince) if (this.deps.pods.get(w.key)?.uid !== uid) this.waitingSince.delete(uid);
    const now = this.deps.now();
    for (const [cluster, at] of this.lastTransfer) if (now - at > 60_000) this.lastTransfer.delete(cluster);
    for (const node of this.nodeDraining.keys()) if (!this.deps.nodes.get(node)) this.nodeDraining.delete(node);
  }

  /** Sizes of what this process keeps, for tests and /metrics. */
  get kept(): { waiting: number; transfers: number; nodes: number } {
    return { waiting: this.waitingSince.size, transfers: this.lastTransfer.size, nodes: this.nodeDraining.size };
  }

  private controllerRecord(a: Assessment): string | null {
    const e = a.recorded;
    if (!e || !e.act || !CONTROLLER_ACTS.has(e.act)) return null;
    return `tidb-steward's controller removes it (${e.act}, recorded in the DisruptionLedger ${Math.round((this.deps.now() - e.since) / 1000)}s ago)`;
  }

  private async judgePd(pod: PodView, req: RemovalRequest, step: { now: string }): Promise<Review> {
    const key = objectKey(pod.namespace, pod.name);
    const ask: DisruptionRequest = { namespace: pod.namespace, cluster: pod.cluster, component: 'pd', pod: pod.name, podUid: pod.uid, act: actOf(req) };
    for (let attempt = 0; attempt < 3; attempt++) {
      step.now = 'reading PD members, their health and the DisruptionLedger';
      const a = await this.authority.assess(ask);
      const byController = this.controllerRecord(a);
      if (byController) return allow(byController);
      if (a.unknown) throw new Error(a.unknown);
      if (!a.self) return allow(a.decision.reason);
      if (!a.decision.allowed) return wait(key, a.decision.reason);
      const handOver = decidePdRemoval(a.self.name, {
        members: disruptionMembers(a.members).map((m) => ({ name: m.name, healthy: m.healthy, canLead: m.canLead })),
        leader: a.facts.leader,
      });
      if (handOver.kind === 'wait') {
        if (handOver.action?.type === 'transfer-pd-leader') {
          step.now = 'transferring PD leadership';
          await this.transfer(pod, handOver.action.from, handOver.action.to);
        }
        return wait(key, handOver.reason, handOver.retryAfterSeconds);
      }
      step.now = 'recording the removal in the DisruptionLedger';
      if (await this.authority.record(ask, a)) return allow(`${a.decision.reason}; ${handOver.reason}`);
      // Another replica wrote the ledger since we read it: decide again on what it wrote.
    }
    return wait(key, 'other removals of this cluster are being decided at the same moment; retrying');
  }

  private async transfer(pod: PodView, from: string, to: string): Promise<void> {
    const cluster = `${pod.namespace}/${pod.cluster}`;
    const last = this.lastTransfer.get(cluster) ?? 0;
    if (this.deps.now() - last < 3000) return;
    this.lastTransfer.set(cluster, this.deps.now());
    await (await this.deps.pdFor(pod.namespace, pod.cluster)).transferLeader(to);
    this.authority.pd.invalidate(pod.namespace, pod.cluster);
    this.emit(pod, 'Normal', 'PDLeaderTransfer', `transferring PD leader of cluster ${cluster} from ${from} to ${to}`);
  }

  /** The stores of a cluster as the eviction-room rule sees them (who can take leaders, who evicts and why). */
  private roomStores(pod: PodView, a: Assessment, evicting: readonly string[], now: number): EvictionRoomStore[] {
    const { ledger } = a.versioned;
    return disruptionMembers(a.members).map((m) => {
      const record = ledger.evictions.find((r) => r.storeId === m.name);
      const p = m.pod ? this.deps.pods.get(objectKey(pod.namespace, m.pod)) : undefined;
      const node = p?.nodeName ? this.deps.nodes.get(p.nodeName) : undefined;
      const serves = Boolean(p && p.running && !p.deleting && node && !(node.draining ?? node.unschedulable));
      const abandoned = Boolean(record && record.cause === 'removal' && p && p.uid === record.podUid && serves && now - (record.askedAt ?? record.beganAt) >= ABANDONED_AFTER_MS);
      const why = record
        ? record.cause === 'removal'
          ? `evicting for the removal of ${m.pod ?? 'its pod'}${abandoned ? `, which nobody asked for in ${Math.round((now - (record.askedAt ?? record.beganAt)) / 1000)}s` : ''}`
          : record.cause === 'cordon'
            ? `evicting because node ${p?.nodeName ?? '?'} is being drained`
            : 'evicting for the suspend'
        : a.versioned.ledger.seenEvictions.some((s) => s.storeId === m.name)
          ? 'evicting, started by someone else'
          : undefined;
      // A record is written before PD is asked: its eviction is under way even if PD does not list it yet.
      return { id: m.name, up: m.storeState === 'Up', evicting: evicting.includes(m.name) || record !== undefined, ...(why ? { why } : {}), ...(abandoned ? { abandoned } : {}) };
    });
  }

  /**
   * Writes the eviction record only if there is still room on the ledger as it is now. Two evictions
   * judged at the same moment (two nodes cordoned at once, or a drain's eviction beside a cordon) each
   * saw room, but only one may take it: the ledger's optimistic concurrency makes the later writer
   * judge again with the earlier one's record.
   */
  private async recordIfRoom(pod: PodView, a: Assessment, storeId: string, evicting: readonly string[], record: Ledger['evictions'][number]): Promise<EvictionRoom> {
    let room: EvictionRoom = { allowed: false, reason: 'not judged', giveWay: [] };
    await updateLedger(this.deps.ledger, pod.namespace, pod.cluster, (l) => {
      room = decideEvictionRoom(storeId, this.roomStores(pod, { ...a, versioned: { ...a.versioned, ledger: l } }, evicting, record.beganAt), a.facts.maxReplicas!);
      return room.allowed ? { ...l, evictions: [...l.evictions.filter((r) => r.storeId !== storeId), record] } : null;
    });
    return room;
  }

  /** Ends evictions that give way to another member's (abandoned removals); returns how many ended. */
  private async giveWay(pod: PodView, storeIds: readonly string[], forStore: string): Promise<void> {
    const pd = await this.deps.pdFor(pod.namespace, pod.cluster);
    for (const id of storeIds) {
      await pd.removeEvictLeader(id);
      await this.deps.ledger.remove(pod.namespace, pod.cluster, id);
      const message = `stopped evicting leaders from TiKV store ${id}: the removal it was started for is no longer asked for, and store ${forStore} needs room for its leaders`;
      this.deps.logger.info({ cluster: `${pod.namespace}/${pod.cluster}`, store: id, for: forStore }, message);
      this.emit(pod, 'Normal', 'EvictLeaderGaveWay', message);
    }
    this.authority.pd.invalidate(pod.namespace, pod.cluster);
  }

  private async judgeTikv(pod: PodView, req: RemovalRequest, step: { now: string }): Promise<Review> {
    const key = objectKey(pod.namespace, pod.name);
    const ask: DisruptionRequest = { namespace: pod.namespace, cluster: pod.cluster, component: 'tikv', pod: pod.name, podUid: pod.uid, act: actOf(req) };
    for (let attempt = 0; attempt < 3; attempt++) {
      step.now = 'reading TiKV stores, region checks and the DisruptionLedger';
      const a = await this.authority.assess(ask);
      const byController = this.controllerRecord(a);
      if (byController) return allow(byController);
      if (a.unknown) throw new Error(a.unknown);
      if (!a.self || a.self.state === 'gone') return allow(a.decision.reason);
      if (!a.decision.allowed) return wait(key, a.decision.reason);
      const facts = a.facts;
      const evicting = facts.evicting;
      if (evicting === null) throw new Error(missingFact(facts, ['evicting'])!);
      const storeId = a.self.name;
      const store = facts.stores!.find((s) => s.store.id === storeId)!;
      const { ledger } = a.versioned;
      const now = this.deps.now();
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
        const room = decideEvictionRoom(storeId, this.roomStores(pod, a, evicting, now), facts.maxReplicas!);
        if (!room.allowed && decision.action?.type === 'evict-tikv-leaders') {
          if (room.giveWay.length) {
            step.now = 'ending abandoned leader evictions to make room';
            await this.giveWay(pod, room.giveWay, storeId);
            continue;
          }
          return wait(key, room.reason);
        }
        step.now = 'starting the leader eviction';
        const noRoom = await this.startEviction(pod, a, evicting, store, decision, record, ours, isEvicting && !record && !seen);
        if (noRoom) return wait(key, noRoom);
        if (ours && now - (ours.askedAt ?? ours.beganAt) >= ASKED_REFRESH_MS) {
          // Still asked for: the eviction is not abandoned (bounded to one ledger write per refresh).
          await this.deps.ledger.put(pod.namespace, pod.cluster, { ...ours, askedAt: now }, pod.name);
        }
        return wait(key, room.allowed ? decision.reason : `${decision.reason}; the leaders may have nowhere to go: ${room.reason}`, decision.retryAfterSeconds);
      }
      if (decision.warning) this.emit(pod, 'Warning', 'EvictLeaderTimeout', decision.warning);
      step.now = 'recording the removal in the DisruptionLedger';
      const startsEviction = decision.action?.type === 'evict-tikv-leaders';
      const withEviction = startsEviction
        ? (l: Ledger): Ledger => ({ ...l, evictions: [...l.evictions.filter((r) => r.storeId !== storeId), { storeId, podUid: pod.uid, beganAt: now, cause: 'removal' }] })
        : undefined;
      if (await this.authority.record(ask, a, withEviction)) {
        // Recorded before adding to PD: an entry without a record would never be cleaned up.
        if (startsEviction) await (await this.deps.pdFor(pod.namespace, pod.cluster)).addEvictLeader(storeId);
        return allow(decision.reason, decision.warning ? [decision.warning] : []);
      }
    }
    return wait(key, 'other removals of this cluster are being decided at the same moment; retrying');
  }

  /** Starts (or takes over) the leader eviction of the pod's store; the reason when there is no room for it after all. */
  private async startEviction(
    pod: PodView,
    a: Assessment,
    evicting: readonly string[],
    store: StoreInfo,
    decision: DrainDecision,
    record: Ledger['evictions'][number] | undefined,
    ours: Ledger['evictions'][number] | undefined,
    firstSeenOthers: boolean,
  ): Promise<string | null> {
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
    const mine = { storeId, podUid: pod.uid, beganAt: now, askedAt: now, cause: 'removal' as const };
    if (startsEviction) {
      const room = await this.recordIfRoom(pod, a, storeId, evicting, mine);
      if (!room.allowed) return room.reason;
    } else if (record && !ours) {
      await this.deps.ledger.put(pod.namespace, pod.cluster, mine, pod.name);
    }
    if (startsEviction) {
      await (await this.deps.pdFor(pod.namespace, pod.cluster)).addEvictLeader(storeId);
      this.authority.pd.invalidate(pod.namespace, pod.cluster);
      this.emit(pod, 'Normal', 'EvictingLeaders', `evicting ${store.status.leader_count} region leaders from TiKV store ${storeId} before ${pod.name} goes`);
    }
    return null;
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
        const a = await this.authority.assess({ namespace: pod.namespace, cluster: pod.cluster, component: pod.component, pod: pod.name, podUid: pod.uid, act: 'drain' });
        if (a.unknown) throw new Error(a.unknown);
        if (!a.self || a.self.state === 'gone') continue;
        if (pod.component === 'pd') {
          if (a.facts.leader !== a.self.name) continue;
          const decision = decidePdRemoval(a.self.name, {
            members: disruptionMembers(a.members).map((m) => ({ name: m.name, healthy: m.healthy, canLead: m.canLead })),
            leader: a.facts.leader,
          });
          if (decision.action?.type === 'transfer-pd-leader') await this.transfer(pod, decision.action.from, decision.action.to);
        } else {
          const evicting = a.facts.evicting;
          if (evicting === null) throw new Error(missingFact(a.facts, ['evicting'])!);
          const storeId = a.self.name;
          if (a.self.storeState === 'Offline' || evicting.includes(storeId)) continue;
          const room = decideEvictionRoom(storeId, this.roomStores(pod, a, evicting, this.deps.now()), a.facts.maxReplicas!);
          if (!room.allowed) {
            // The drain itself will ask again when this pod's turn comes; starting now could strand leaders.
            this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), node: nodeName, store: storeId, reason: room.reason }, 'node is being drained: leader eviction deferred');
            this.emit(pod, 'Normal', 'EvictLeaderDeferred', `node ${nodeName} is being drained, but ${room.reason}`);
            continue;
          }
          const recorded = await this.recordIfRoom(pod, a, storeId, evicting, { storeId, podUid: pod.uid, beganAt: this.deps.now(), cause: 'cordon' });
          if (!recorded.allowed) {
            this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), node: nodeName, store: storeId, reason: recorded.reason }, 'node is being drained: leader eviction deferred');
            this.emit(pod, 'Normal', 'EvictLeaderDeferred', `node ${nodeName} is being drained, but ${recorded.reason}`);
            continue;
          }
          await (await this.deps.pdFor(pod.namespace, pod.cluster)).addEvictLeader(storeId);
          this.authority.pd.invalidate(pod.namespace, pod.cluster);
          this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), node: nodeName, store: storeId }, 'node is being drained: evicting leaders of its TiKV store');
          this.emit(pod, 'Normal', 'EvictingLeaders', `node ${nodeName} is being drained: evicting region leaders from TiKV store ${storeId}`);
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
    this.forgetGone();
    let removed = 0;
    for (const { namespace, cluster, ledger } of await this.deps.ledger.listLedgers()) {
      if (ledger.evictions.length + ledger.leaving.length + ledger.seenEvictions.length === 0) continue;
      const where = `${namespace}/${cluster}`;
      try {
        removed += await this.reconcileCluster(namespace, cluster, ledger);
      } catch (err) {
        // A suspended cluster's PD is stopped on purpose: its records wait for the resume, quietly.
        const suspended = ledger.leaving.length > 0 && ledger.leaving.every((e) => e.act === 'suspend') && ledger.evictions.every((r) => r.cause === 'suspend');
        this.deps.logger[suspended ? 'debug' : 'warn']({ cluster: where, err: (err as Error).message }, 'cannot clean up the DisruptionLedger from what PD answers now; will retry');
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
