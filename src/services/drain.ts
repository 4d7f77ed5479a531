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
import { describeStep, evictionRoomStores, planRemoval, type PlanPodServing, type RemovalPlan } from '../domain/drain-plan.ts';
import { ANNOTATION_SKIP_DRAIN_CHECK, DEPRECATED_SKIP_WARNING, LEGACY_ANNOTATION_SKIP_DRAIN_CHECK, objectKey, tidbIdentity, type Labels, type NodeView, type PodView } from '../domain/model.ts';
import type { EventSink, ObjectRef } from '../k8s/events.ts';
import { updateLedger, type Ledger, type LedgerPort } from '../k8s/disruptions.ts';
import type { CheckedRegion, Member, RegionCheck, StoreInfo } from '../pd/client.ts';
import { missingFact, type FactName } from '../pd/facts.ts';
import { DisruptionAuthority, type Assessment, type DisruptionRequest } from './authority.ts';
import { PdAccess } from '../pd/facts.ts';
import { decideWaitInCall, type HandOver } from '../domain/handover.ts';
import { InCallWaits, type Look } from './handover.ts';
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
  /** When the admission request arrived (ms, the service's clock); budgets count from it. Default: now. */
  arrivedAt?: number;
  /** Aborts when the caller went away: a call held for a hand-over stops waiting. */
  signal?: AbortSignal;
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
  /** The cluster's PD client, for the calls that change PD (reads go through the authority's shared snapshot). */
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
  /**
   * A call whose only obstacle is a short PD hand-over is held this long after its arrival (less than
   * budgetMs) and answered allowed once it is done. Default 0: never held.
   */
  waitInCallMs?: number;
  /** Pause between two looks at PD while a call is held (ms). */
  waitPollMs?: number;
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

/**
 * An eviction started for a pod removal is refreshed this often while the removal is still asked for,
 * and gives way to another store's eviction once nobody asked for ABANDONED_AFTER_MS while its pod serves.
 */
const ASKED_REFRESH_MS = 20_000;

class OutOfTime extends Error {}

/** While a held call waits, a member still leading this long after the last transfer request is asked again. */
const TRANSFER_AGAIN_MS = 1500;

/** Is the pod's cluster (or its StatefulSet) being torn down? Then its removal goes unchecked. */
export async function teardownReason(teardown: TeardownLookups, pod: PodView): Promise<string | null> {
  const [ns, owner] = await Promise.all([
    teardown.namespaceDeleting(pod.namespace),
    pod.owner ? teardown.ownerDeleting(pod.namespace, pod.owner, pod.ownerAdvanced ? 'apps.pingcap.com/v1' : 'apps/v1') : Promise.resolve(false),
  ]);
  if (ns) return `namespace ${pod.namespace} is being deleted`;
  if (owner) return `StatefulSet ${pod.namespace}/${pod.owner} (or its TidbCluster) is being deleted`;
  return null;
}

/** A pod of the caches as the eviction-room rule reads it: can its store take leaders? */
export function podServing(pods: PodStore, nodes: NodeStore, namespace: string, name: string): PlanPodServing | undefined {
  const p = pods.get(objectKey(namespace, name));
  if (!p) return undefined;
  const node = p.nodeName ? nodes.get(p.nodeName) : undefined;
  return { uid: p.uid, nodeName: p.nodeName, serves: Boolean(p.running && !p.deleting && node && !(node.draining ?? node.unschedulable)) };
}

export interface PreviewDeps {
  authority: DisruptionAuthority;
  pods: PodStore;
  nodes: NodeStore;
  teardown: TeardownLookups;
  evictTimeoutMs: number;
  now: () => number;
}

/**
 * What the webhook would answer for this pod's removal now, and what it would change first; reads
 * only. The dry-run webhook answer and `tidb-steward drain-plan` both come from here.
 */
export async function previewRemoval(deps: PreviewDeps, pod: PodView, act: DisruptionAct, step: { now: string } = { now: '' }): Promise<RemovalPlan> {
  const skip = pod.skipDrainCheck;
  step.now = 'checking whether the cluster is being torn down';
  const teardown = skip || pod.deleting ? null : await teardownReason(deps.teardown, pod);
  step.now = 'reading PD and the DisruptionLedger';
  const a = skip || pod.deleting || teardown ? null : await deps.authority.assess({ namespace: pod.namespace, cluster: pod.cluster, component: pod.component, pod: pod.name, podUid: pod.uid, act });
  return planRemoval(pod, a, {
    teardown,
    evictingUnknown: a ? missingFact(a.facts, ['evicting']) : null,
    podServing: (name) => podServing(deps.pods, deps.nodes, pod.namespace, name),
    evictTimeoutMs: deps.evictTimeoutMs,
    now: deps.now(),
  });
}

export class DrainService {
  private readonly deps: DrainDeps;
  /** Pod uid → when it was first told to wait, for the waited-seconds metric. */
  private readonly waitingSince = new Map<string, { since: number; key: string }>();
  /** Cluster → last leader transfer request (and whose), so that drain's retries do not re-issue it every 5 s. */
  private readonly lastTransfer = new Map<string, { at: number; from: string }>();
  /** Node → draining state last acted on, so a cordon seen by the webhook and the watch acts once. */
  private readonly nodeDraining = new Map<string, boolean>();

  private readonly authority: DisruptionAuthority;
  /** Calls held while PD finishes a hand-over, one loop per member. */
  private readonly waits: InCallWaits;
  /** Store → the first leader count seen in the last 30 s, whence the rate at which PD moves them. */
  private readonly leadersSeen = new Map<string, { count: number; at: number }>();

  constructor(deps: DrainDeps) {
    this.deps = deps;
    this.waits = new InCallWaits({ budgetMs: deps.waitInCallMs ?? 0, pollMs: deps.waitPollMs ?? 100, now: deps.now });
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
    // A dry run (kubectl drain --dry-run=server) is answered from the plan below: no Event either.
    if (!req.dryRun && (req.fromRequest?.skipDrainCheck ?? pod.skipDrainCheck)) {
      const legacy = req.fromRequest ? Boolean(req.fromRequest.skipDrainCheckLegacy) : Boolean(pod.skipDrainCheckLegacy);
      const message = `${key} removed without drain checks: it carries ${legacy ? LEGACY_ANNOTATION_SKIP_DRAIN_CHECK : ANNOTATION_SKIP_DRAIN_CHECK}=true`;
      this.deps.logger.warn({ pod: key, via: req.via, ...(legacy ? { deprecated: DEPRECATED_SKIP_WARNING } : {}) }, message);
      this.emit(pod, 'Warning', 'DrainCheckSkipped', legacy ? `${message} (${DEPRECATED_SKIP_WARNING})` : message);
      return allow('escape hatch annotation set', legacy ? [message, DEPRECATED_SKIP_WARNING] : [message]);
    }
    const step = { now: 'starting' };
    const budget = this.deps.budgetMs ?? 4000;
    const arrivedAt = req.arrivedAt ?? this.deps.now();
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OutOfTime(step.now)), Math.max(0, budget - (this.deps.now() - arrivedAt)));
    });
    try {
      if (req.dryRun) return await Promise.race([this.preview(pod, req, step), outOfTime]);
      const review = await Promise.race([this.judge(pod, { ...req, arrivedAt }, step), outOfTime]);
      return this.account(pod, key, req, review);
    } catch (err) {
      const e = err as Error;
      const message =
        e instanceof OutOfTime
          ? `${key} cannot go yet: tidb-steward ran out of its ${budget} ms budget while ${e.message}; will retry`
          : `${key} cannot go yet: cannot check it with PD of cluster ${pod.namespace}/${pod.cluster}: ${e.message}; will retry`;
      this.deps.logger.warn({ pod: key, via: req.via, dryRun: req.dryRun, err: e.message, step: step.now }, 'drain check failed; answering not yet');
      if (!req.dryRun) {
        this.deps.metrics.decision(pod.component, 'error');
        this.emit(pod, 'Warning', 'DrainCheckFailed', message);
      }
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

  /**
   * A dry run's answer: the verdict the removal would get now, from the same assessment and decisions,
   * with nothing written to PD, the DisruptionLedger or Events.
   */
  private async preview(pod: PodView, req: RemovalRequest, step: { now: string }): Promise<Review> {
    const key = objectKey(pod.namespace, pod.name);
    const legacy = req.fromRequest ? Boolean(req.fromRequest.skipDrainCheckLegacy) : Boolean(pod.skipDrainCheckLegacy);
    const plan = await previewRemoval(
      { authority: this.authority, pods: this.deps.pods, nodes: this.deps.nodes, teardown: this.deps.teardown, evictTimeoutMs: this.deps.evictTimeoutMs, now: this.deps.now },
      { ...pod, skipDrainCheck: req.fromRequest?.skipDrainCheck ?? pod.skipDrainCheck, ...(legacy ? { skipDrainCheckLegacy: true } : {}) },
      actOf(req),
      step,
    );
    const first = plan.steps.length ? `; a real removal would first ${plan.steps.map(describeStep).join(', then ')}` : '';
    this.deps.logger.info({ pod: key, via: req.via, dryRun: true, allowed: plan.allowed, reason: plan.reason }, 'dry run answered; nothing changed');
    if (plan.allowed) return allow(`dry run, nothing changed: ${plan.reason}${first}`, plan.warnings);
    return wait(key, `${plan.reason} (dry run: nothing changed${first})`);
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

  private teardownReason(pod: PodView): Promise<string | null> {
    return teardownReason(this.deps.teardown, pod);
  }

  /** The pod's removal was recorded by tidb-steward's controller (scale-in, suspend, ...): it goes. */
  /** What this process keeps per pod, cluster or node goes with them (the cleanup loop calls this). */
  forgetGone(): void {
    for (const [uid, w] of this.waitingSince) if (this.deps.pods.get(w.key)?.uid !== uid) this.waitingSince.delete(uid);
    const now = this.deps.now();
    for (const [cluster, t] of this.lastTransfer) if (now - t.at > 60_000) this.lastTransfer.delete(cluster);
    for (const node of this.nodeDraining.keys()) if (!this.deps.nodes.get(node)) this.nodeDraining.delete(node);
    for (const [store, seen] of this.leadersSeen) if (now - seen.at > 60_000) this.leadersSeen.delete(store);
  }

  /** Shutdown: calls held for a hand-over are answered now. */
  close(): void {
    this.waits.close();
  }

  /** Sizes of what this process keeps, for tests and /metrics. */
  get kept(): { waiting: number; transfers: number; nodes: number; heldFor: number; leaderCounts: number } {
    return { waiting: this.waitingSince.size, transfers: this.lastTransfer.size, nodes: this.nodeDraining.size, heldFor: this.waits.size, leaderCounts: this.leadersSeen.size };
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
      const a = await this.assessFresh(ask, req.arrivedAt);
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
          const { from, to } = handOver.action;
          const inCall = this.inCall({ kind: 'pd-leader', member: from, to }, req);
          if (!inCall.wait) {
            step.now = 'transferring PD leadership';
            await this.transfer(pod, from, to);
            return wait(key, this.waits.budgetMs > 0 ? `${handOver.reason} (${inCall.reason})` : handOver.reason, handOver.retryAfterSeconds);
          }
          // Recorded before the call is held, so every other decision counts this member as leaving;
          // the transfer (which takes nothing out of service) starts meanwhile.
          step.now = 'recording the removal in the DisruptionLedger and transferring PD leadership';
          const [recorded] = await Promise.all([this.authority.record(ask, a), this.transfer(pod, from, to)]);
          if (!recorded) continue;
          step.now = `waiting inside the call for PD leadership to move from ${from} to ${to}`;
          const out = await this.holdFor(pod, req, `pd/${from}`, handOver.reason, () => this.lookPdLeader(pod, from, to));
          if (out.done) return allow(`${a.decision.reason}; ${out.reason}`);
          return wait(key, `${handOver.reason}: ${out.reason}`, handOver.retryAfterSeconds);
        }
        return wait(key, handOver.reason, handOver.retryAfterSeconds);
      }
      step.now = 'recording the removal in the DisruptionLedger';
      if (await this.authority.record(ask, a)) return allow(`${a.decision.reason}; ${handOver.reason}`);
      // Another replica wrote the ledger since we read it: decide again on what it wrote.
    }
    return wait(key, 'other removals of this cluster are being decided at the same moment; retrying');
  }

  private async transfer(pod: PodView, from: string, to: string, againAfterMs = 3000): Promise<void> {
    const cluster = `${pod.namespace}/${pod.cluster}`;
    const last = this.lastTransfer.get(cluster);
    if (last && last.from === from && this.deps.now() - last.at < againAfterMs) return;
    this.lastTransfer.set(cluster, { at: this.deps.now(), from });
    await (await this.deps.pdFor(pod.namespace, pod.cluster)).transferLeader(to);
    this.authority.pd.invalidate(pod.namespace, pod.cluster);
    this.emit(pod, 'Normal', 'PDLeaderTransfer', `transferring PD leader of cluster ${cluster} from ${from} to ${to}`);
  }

  /** The stores of a cluster as the eviction-room rule sees them (who can take leaders, who evicts and why). */
  private roomStores(pod: PodView, a: Assessment, evicting: readonly string[], now: number): EvictionRoomStore[] {
    return evictionRoomStores(a, evicting, { podServing: (name) => this.podServing(pod.namespace, name), now });
  }

  private podServing(namespace: string, name: string): PlanPodServing | undefined {
    return podServing(this.deps.pods, this.deps.nodes, namespace, name);
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
      const a = await this.assessFresh(ask, req.arrivedAt);
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
      const perSecond = this.observeLeaders(pod, storeId, store.status.leader_count, now);
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
        const movable = store.status.leader_count > 0 && !['Offline', 'Removing'].includes(store.store.state_name) && room.allowed;
        const inCall: ReturnType<typeof decideWaitInCall> = movable
          ? this.inCall({ kind: 'tikv-leaders', storeId, leaderCount: store.status.leader_count, leadersPerSecond: perSecond }, req)
          : { wait: false, reason: '' };
        if (inCall.wait) {
          // Recorded first (the removal, and the eviction it needs), then PD is asked, then the call is held.
          step.now = 'recording the removal in the DisruptionLedger';
          const change = this.evictionChange(pod, storeId, decision, record, ours, isEvicting && !record && !seen, now);
          if (!(await this.authority.record(ask, a, change))) continue;
          if (decision.action?.type === 'evict-tikv-leaders') {
            step.now = 'starting the leader eviction';
            await (await this.deps.pdFor(pod.namespace, pod.cluster)).addEvictLeader(storeId);
            this.authority.pd.invalidate(pod.namespace, pod.cluster);
            this.emit(pod, 'Normal', 'EvictingLeaders', `evicting ${store.status.leader_count} region leaders from TiKV store ${storeId} before ${pod.name} goes`);
          }
          step.now = `waiting inside the call for PD to move the ${store.status.leader_count} leaders of TiKV store ${storeId}`;
          const out = await this.holdFor(pod, req, `tikv/${storeId}`, decision.reason, () => this.lookStoreLeaders(pod, storeId));
          if (out.done) return allow(`${a.decision.reason}; ${out.reason}`);
          return wait(key, `${decision.reason}: ${out.reason}`, decision.retryAfterSeconds);
        }
        step.now = 'starting the leader eviction';
        const noRoom = await this.startEviction(pod, a, evicting, store, decision, record, ours, isEvicting && !record && !seen);
        if (noRoom) return wait(key, noRoom);
        if (ours && now - (ours.askedAt ?? ours.beganAt) >= ASKED_REFRESH_MS) {
          // Still asked for: the eviction is not abandoned (bounded to one ledger write per refresh).
          await this.deps.ledger.put(pod.namespace, pod.cluster, { ...ours, askedAt: now }, pod.name);
        }
        const why = inCall.reason && this.waits.budgetMs > 0 ? `${decision.reason} (${inCall.reason})` : decision.reason;
        return wait(key, room.allowed ? why : `${why}; the leaders may have nowhere to go: ${room.reason}`, decision.retryAfterSeconds);
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

  /**
   * The assessment on PD facts read after the request arrived. A snapshot read earlier (by another
   * decision or the cleanup loop) may predate an election: "not the leader" from it could let PD's
   * new leader go without a hand-over. Concurrent requests still share one read.
   */
  private async assessFresh(ask: DisruptionRequest, arrivedAt: number | undefined): Promise<Assessment> {
    const a = await this.authority.assess(ask);
    if (arrivedAt === undefined || a.facts.at < 0 || a.facts.at >= arrivedAt) return a;
    this.authority.pd.invalidate(ask.namespace, ask.cluster);
    return this.authority.assess(ask);
  }

  /** Hold this call for the hand-over, or answer 429 now (the pure rule, from the request's arrival). */
  private inCall(handOver: HandOver, req: RemovalRequest): ReturnType<typeof decideWaitInCall> {
    return decideWaitInCall({ handOver, arrivedAt: req.arrivedAt ?? this.deps.now(), budgetMs: this.waits.budgetMs }, this.deps.now());
  }

  /** Holds the call for `handOver` (what PD does, as the drain decision says it) of one member. */
  private async holdFor(pod: PodView, req: RemovalRequest, member: string, handOver: string, look: () => Promise<Look>) {
    const started = this.deps.now();
    this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), via: req.via, handOver }, 'holding the call for the hand-over');
    const out = await this.waits.wait(`${pod.namespace}/${pod.cluster}/${member}`, req.arrivedAt ?? started, look, req.signal);
    this.deps.logger.info({ pod: objectKey(pod.namespace, pod.name), via: req.via, handOver, done: out.done, heldMs: this.deps.now() - started, reason: out.reason }, out.done ? 'hand-over done while the call was held' : 'hand-over not done while the call was held');
    return out;
  }

  /** One look at PD's leader through the shared snapshot, read afresh. */
  private async lookPdLeader(pod: PodView, member: string, to: string): Promise<Look> {
    this.authority.pd.invalidate(pod.namespace, pod.cluster);
    const facts = await this.authority.pd.facts(pod.namespace, pod.cluster);
    if (facts.leader && facts.leader !== member) return { done: true, reason: `PD leadership moved from ${member} to ${facts.leader} while the call was held` };
    if (facts.leader === member) {
      // Still leading well after the last request (skipped as a repeat, refused, or undone by an
      // election since): ask PD again rather than wait on a transfer that is not under way.
      await this.transfer(pod, member, to, TRANSFER_AGAIN_MS).catch((err: Error) => this.deps.logger.debug({ pod: objectKey(pod.namespace, pod.name), err: err.message }, 'asking PD again for the leader transfer failed'));
    }
    const seen = facts.members === null ? missingFact(facts, ['members'])! : facts.leader ? `${member} still leads PD` : 'PD has no leader right now (an election is in progress)';
    return { done: false, handOver: { kind: 'pd-leader', member, to: null }, seen };
  }

  /** One look at a store's leader count through the shared snapshot, read afresh. */
  private async lookStoreLeaders(pod: PodView, storeId: string): Promise<Look> {
    this.authority.pd.invalidate(pod.namespace, pod.cluster);
    const facts = await this.authority.pd.facts(pod.namespace, pod.cluster);
    if (facts.stores === null) return { done: false, handOver: null, seen: missingFact(facts, ['stores'])! };
    const store = facts.stores.find((s) => s.store.id === storeId);
    if (!store || isGone(store)) return { done: true, reason: `store ${storeId} is gone from PD` };
    const n = store.status.leader_count;
    if (n === 0) return { done: true, reason: `PD moved every leader off store ${storeId} while the call was held` };
    const perSecond = this.observeLeaders(pod, storeId, n, this.deps.now());
    return { done: false, handOver: { kind: 'tikv-leaders', storeId, leaderCount: n, leadersPerSecond: perSecond }, seen: `store ${storeId} still leads ${n} regions` };
  }

  /**
   * Notes a store's leader count; returns the rate at which it fell since the first note of the last
   * 30 s (leaders per second), or null when there is none to tell yet (first note, too soon after, or
   * it grew). PD moves leaders in steps, so "none moved" counts only after 2 s.
   */
  private observeLeaders(pod: PodView, storeId: string, count: number, now: number): number | null {
    const key = `${pod.namespace}/${pod.cluster}/${storeId}`;
    const base = this.leadersSeen.get(key);
    if (!base || count > base.count || now - base.at > 30_000) {
      this.leadersSeen.set(key, { count, at: now });
      return null;
    }
    const elapsed = now - base.at;
    const fell = base.count - count;
    if (fell > 0 && elapsed >= 200) return (fell * 1000) / elapsed;
    return fell === 0 && elapsed >= 2000 ? 0 : null;
  }

  /** The ledger change an eviction for this removal needs, written with the removal's record. */
  private evictionChange(
    pod: PodView,
    storeId: string,
    decision: DrainDecision,
    record: Ledger['evictions'][number] | undefined,
    ours: Ledger['evictions'][number] | undefined,
    firstSeenOthers: boolean,
    now: number,
  ): ((l: Ledger) => Ledger) | undefined {
    const startsEviction = decision.action?.type === 'evict-tikv-leaders';
    const refresh = ours !== undefined && now - (ours.askedAt ?? ours.beganAt) >= ASKED_REFRESH_MS;
    // Nothing to change: the removal's own record is all that is written (once).
    if (!firstSeenOthers && !startsEviction && !(record && !ours) && !refresh) return undefined;
    return (l) => {
      let next = l;
      if (firstSeenOthers && !l.seenEvictions.some((s) => s.storeId === storeId)) next = { ...next, seenEvictions: [...next.seenEvictions, { storeId, since: now }] };
      // An eviction of a cordon or an earlier pod becomes this removal's, so its clock starts now.
      if (startsEviction || (record && !ours)) {
        next = { ...next, evictions: [...next.evictions.filter((r) => r.storeId !== storeId), { storeId, podUid: pod.uid, beganAt: now, askedAt: now, cause: 'removal' }] };
      } else if (refresh) {
        next = { ...next, evictions: next.evictions.map((r) => (r.storeId === storeId ? { ...ours!, askedAt: now } : r)) };
      }
      return next;
    };
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
          // The count when the eviction began: the drain's eviction of the pod reads the rate from it.
          if (a.self.leaderCount !== undefined) this.observeLeaders(pod, storeId, a.self.leaderCount, this.deps.now());
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
    // PD as every decision sees it (the shared snapshot), read afresh for this pass: a member counted
    // healthy from a read before its pod was replaced would let its leaving entry go too early. The
    // read then serves the decisions that follow; only ending an eviction goes to PD directly.
    const passBegan = this.deps.now();
    let facts = await this.authority.pd.facts(namespace, cluster);
    if (facts.at < passBegan) {
      this.authority.pd.invalidate(namespace, cluster);
      facts = await this.authority.pd.facts(namespace, cluster);
    }
    const needStores = ledger.evictions.length + ledger.seenEvictions.length > 0 || ledger.leaving.some((e) => e.component === 'tikv');
    const known = (names: FactName[]) => {
      const missing = missingFact(facts, names);
      if (missing) throw new Error(missing);
    };
    if (needStores) known(['stores']);
    const stores = needStores ? facts.stores! : [];
    let client: DrainPdApi | null = null;
    const pdClient = async () => (client ??= await this.deps.pdFor(namespace, cluster));
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
        await (await pdClient()).removeEvictLeader(record.storeId);
        this.authority.pd.invalidate(namespace, cluster);
        await this.deps.ledger.remove(namespace, cluster, record.storeId);
        removed++;
        this.deps.logger.info({ cluster: `${namespace}/${cluster}`, store: record.storeId, reason: verdict.reason }, 'leader eviction ended');
        if (pod) this.emit(pod, 'Normal', 'EvictLeaderEnded', `stopped evicting leaders from TiKV store ${record.storeId}: ${verdict.reason}`);
      } catch (err) {
        this.deps.logger.warn({ store: record.storeId, err: (err as Error).message }, 'could not end leader eviction; will retry');
      }
    }
    if (ledger.seenEvictions.length) {
      known(['evicting']);
      const evicting = new Set(facts.evicting!);
      const ended = ledger.seenEvictions.filter((s) => !evicting.has(s.storeId)).map((s) => s.storeId);
      if (ended.length) {
        await updateLedger(this.deps.ledger, namespace, cluster, (l) => ({ ...l, seenEvictions: l.seenEvictions.filter((s) => !ended.includes(s.storeId)) }));
      }
    }
    if (ledger.leaving.length) {
      let pdHealth: Map<string, boolean> | null = null;
      if (ledger.leaving.some((e) => e.component === 'pd')) {
        known(['members']);
        pdHealth = new Map(facts.members!.map((m) => [m.name, m.healthy]));
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
