// The TidbCluster controller: caches fed by supervised list+watch, a keyed work queue, and one linear
// reconcile per cluster (CloudNativePG's shape):
//   finalizer → validate (every error, with paths) → observe (caches + PD) → per component PD → TiKV
//   → TiDB: decide (pure) → unless paused: server-side apply + PD calls → stop where a component must
//   wait → derive status, write it only when it changed → requeue when something is in motion.
import type { Logger } from 'pino';
import { validateTidbCluster, describeErrors } from '../cluster/validate.ts';
import type { ComponentName, TidbCluster, TidbClusterStatus } from '../cluster/schema.ts';
import { diagnosePending, type Diagnosis, type NodeCapacity, type PendingPod, type StorageFacts } from '../domain/pending.ts';
import { deriveStatus } from '../domain/status.ts';
import { setCondition } from '../domain/conditions.ts';
import { runningVolumeViolations } from '../domain/tidbcluster-admission.ts';
import { decidePd, decideSuspend, decideTidb, decideTikv, pdBootstrapped, type Observed, type PdAction, type Step, type StoreObserved } from '../domain/steps.ts';
import type { EventSink, ObjectRef } from '../k8s/events.ts';
import { Reflector, type ListWatchSource } from '../k8s/reflector.ts';
import type { ControllerPod, ControllerSts, RawTidbCluster } from '../k8s/tidbclusters.ts';
import type { Keyed } from '../k8s/views.ts';
import type { StoreInfo } from '../pd/client.ts';
import type { PdFacts } from '../pd/facts.ts';
import type { EvictionRecord } from '../domain/drain.ts';
import type { Ledger } from '../k8s/disruptions.ts';
import type { DisruptionRequest } from '../services/authority.ts';
import { MapStore, type Store } from '../state/stores.ts';
import { FINALIZER, names, ordinalOf } from '../specs/names.ts';
import { componentObjects, desiredTemplateHash, type KubeObject } from '../specs/objects.ts';
import { WorkQueue, type ReconcileResult } from './workqueue.ts';
import { decideRollout } from '../domain/rollout.ts';
import { trackEviction, type EvictProgress } from '../domain/update.ts';
import { createHash } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { fenced, FencedError, StatusConflictError, type CallBounds } from './fence.ts';

/** The PD calls that change PD (PdClient satisfies it); reads come from the shared snapshot. */
export interface PdPort {
  transferLeader(to: string): Promise<void>;
  deleteMember(name: string): Promise<void>;
  deleteStore(storeId: string): Promise<void>;
  cancelStoreRemoval(storeId: string): Promise<void>;
  addEvictLeader(storeId: string): Promise<void>;
  removeEvictLeader(storeId: string): Promise<void>;
  setStoreLabels(storeId: string, labels: Readonly<Record<string, string>>): Promise<void>;
  setLocationLabels(labels: readonly string[]): Promise<void>;
}

/**
 * The one safety authority and PD view, shared with the drain webhooks: the controller reads PD's
 * facts and the ledger from here and asks before every act that takes a member out of service.
 */
export interface DisruptionPort {
  facts(namespace: string, cluster: string): Promise<PdFacts>;
  /** After a change to PD, so the next decision reads it again. */
  invalidate(namespace: string, cluster: string): void;
  ledger(namespace: string, cluster: string): Promise<Ledger>;
  /** Judges the act and, when allowed, records it in the DisruptionLedger before answering. */
  admit(req: DisruptionRequest): Promise<{ allowed: boolean; reason: string }>;
  /** Records a leader eviction before it is added to PD (the ledger's cleanup ends it). */
  recordEviction(namespace: string, cluster: string, record: EvictionRecord, pod: string): Promise<void>;
  /** Deletion: the cluster's records go. */
  dropRecords(namespace: string, cluster: string): Promise<void>;
}

/** What the controller needs from Kubernetes. */
export interface ControllerIO {
  apply(obj: KubeObject): Promise<void>;
  /**
   * Writes the status only if the object is still at `resourceVersion` (the one the reconcile read);
   * rejects with StatusConflictError otherwise. Resolves to the resourceVersion the write produced.
   */
  writeStatus(namespace: string, name: string, status: TidbClusterStatus, resourceVersion: string): Promise<string>;
  setFinalizers(namespace: string, name: string, finalizers: string[], resourceVersion: string): Promise<void>;
  diagnosisFacts(namespace: string, claims: string[]): Promise<{ nodes: NodeCapacity[]; storage: StorageFacts; claims: Map<string, PendingPod['claims'][number]> }>;
  /** Marks the claims of members a scale-in removed, so that their ordinals start from fresh volumes. */
  retireClaims(namespace: string, claims: string[], note: string): Promise<void>;
  /** Deletes the named claims that were retired; returns the deleted ones with the volume each was bound to. */
  renewRetiredClaims(namespace: string, claims: string[]): Promise<Array<{ claim: string; volume: string | null }>>;
  /** Deletes a member pod if it still has this uid (a pod stuck at a bad revision, for the rolling upgrade). */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
}

export interface ControllerOptions {
  logger: Logger;
  io: ControllerIO;
  pdFor(namespace: string, cluster: string): PdPort | Promise<PdPort>;
  disruptions: DisruptionPort;
  /** A node's labels from the node cache (undefined when not cached), for the TiKV store labels. */
  nodeLabels?: (node: string) => Readonly<Record<string, string>> | undefined;
  events: EventSink;
  sources: { clusters: ListWatchSource; pods: ListWatchSource; statefulSets: ListWatchSource };
  views: { cluster: (o: unknown) => Keyed<RawTidbCluster>; pod: (o: unknown) => Keyed<ControllerPod>; sts: (o: unknown) => Keyed<ControllerSts> };
  workers?: number;
  evictTimeoutMs: number;
  pendingGraceMs: number;
  /** Rolling upgrade: how long a restarted member may take to serve, and its store's leaders to return. */
  upgrade?: { readyTimeoutMs: number; leaderReturnMs: number };
  relistIntervalMs: number;
  staleAfterMs: number;
  /** How often a Ready cluster is looked at again (PD health, store states). */
  resyncMs?: number;
  /** How long stop() waits for in-flight reconciles (already fenced) before it gives up on them. */
  stopTimeoutMs?: number;
  /** Deadline of every write (fence.ts actDeadlineMs of the Lease timings); none without a leader election. */
  writeDeadlineMs?: number;
  now?: () => number;
}

/** A store that tells the controller which cluster a change concerns. */
class NotifyingStore<T> extends MapStore<T> {
  private readonly notify: (key: string, item: T | undefined) => void;
  constructor(notify: (key: string, item: T | undefined) => void) {
    super();
    this.notify = notify;
  }
  override replace(items: Iterable<[string, T]>): void {
    const before = this.items;
    super.replace(items);
    for (const [k, v] of before) if (!this.items.has(k)) this.notify(k, v);
    for (const [k, v] of this.items) this.notify(k, v);
  }
  override upsert(key: string, item: T): void {
    super.upsert(key, item);
    this.notify(key, item);
  }
  override remove(key: string): void {
    const old = this.items.get(key);
    super.remove(key);
    if (old) this.notify(key, old);
  }
}

const APPLY_MEMO_TTL_MS = 5 * 60_000;

export class TidbClusterController {
  private readonly opts: ControllerOptions;
  private readonly now: () => number;
  readonly queue: WorkQueue;
  readonly clusters: NotifyingStore<RawTidbCluster>;
  readonly pods: NotifyingStore<ControllerPod>;
  readonly statefulSets: NotifyingStore<ControllerSts>;
  private reflectors: Array<Reflector<unknown>> = [];
  /** Hash of what was last applied per object, so an unchanged object is not re-sent every pass. */
  private readonly applied = new Map<string, { hash: string; at: number }>();
  private readonly lastTransfer = new Map<string, number>();
  /** Per cluster, the leader count of the store whose leaders the rolling upgrade evicts, and since when. */
  private readonly evictProgress = new Map<string, EvictProgress>();
  /** The status this process wrote last, per cluster: the cache may lag behind its own writes. */
  private readonly written = new Map<string, { resourceVersion: string; status: TidbClusterStatus }>();
  private readonly diagnosed = new Map<string, { at: number; result: Array<Diagnosis & { pod: string }> }>();
  private running = false;
  /** Start and stop run one after the other, and a call superseded by a later one is skipped. */
  private lifecycle: Promise<void> = Promise.resolve();
  private generation = 0;
  /** Aborted by stop(); the running term's signal also follows the leadership given to start(). */
  private stopper: AbortController | null = null;
  private fence: AbortSignal | null = null;
  /** The fence of the term a reconcile was started in, carried through its awaits. */
  private readonly term = new AsyncLocalStorage<AbortSignal>();
  /** Reconcile durations and counts, for the benchmark and /metrics. */
  readonly stats = { reconciles: 0, errors: 0, statusWrites: 0, applies: 0 };

  constructor(opts: ControllerOptions) {
    // Every port call checks the fence first, so no reconcile acts once this replica stops leading,
    // whichever line of it is running (finalize, a ledger record, a PD call, an event...).
    const guard = () => this.guard();
    const bounds = (port: string, reads: string[] = []): CallBounds | undefined =>
      opts.writeDeadlineMs === undefined ? undefined : { port, term: () => this.term.getStore() ?? this.fence, writeDeadlineMs: opts.writeDeadlineMs, reads: new Set(reads) };
    this.opts = {
      ...opts,
      io: fenced(opts.io, guard, bounds('io', ['diagnosisFacts'])),
      events: fenced(opts.events, guard, bounds('events')),
      disruptions: fenced(opts.disruptions, guard, bounds('disruptions', ['facts', 'invalidate', 'ledger'])),
      pdFor: async (namespace, name) => fenced(await opts.pdFor(namespace, name), guard, bounds('pd')),
    };
    this.now = opts.now ?? Date.now;
    this.queue = new WorkQueue({
      concurrency: opts.workers ?? 4,
      onError: (key, err, retryInMs) => {
        if (err instanceof FencedError) {
          opts.logger.info({ tidbcluster: key, reason: err.message }, 'reconcile stopped: this replica no longer acts');
          return;
        }
        if (err instanceof StatusConflictError) {
          // Someone wrote since the read (a spec change, or another replica): look again with fresh facts.
          opts.logger.info({ tidbcluster: key, retryInMs }, `${err.message}; reconciling again`);
          return;
        }
        this.stats.errors++;
        opts.logger.warn({ tidbcluster: key, err: (err as Error).message, retryInMs }, 'reconcile failed; will retry');
      },
    });
    this.clusters = new NotifyingStore((key) => this.queue.add(key));
    const owner = (item: { namespace: string; cluster: string } | undefined) => item && this.queue.add(`${item.namespace}/${item.cluster}`);
    this.pods = new NotifyingStore((_k, item) => owner(item));
    this.statefulSets = new NotifyingStore((_k, item) => owner(item));
  }

  isRunning(): boolean {
    return this.running;
  }

  hasSynced(): boolean {
    return this.reflectors.length > 0 && this.reflectors.every((r) => r.hasSynced());
  }

  /**
   * Starts the caches and the workers (when this replica becomes the leader). `leadership` is the
   * fence of this term: once it is aborted, no reconcile acts. Calls to start() and stop() take effect
   * one after the other, in the order they were made.
   */
  start(leadership?: AbortSignal): Promise<void> {
    const generation = ++this.generation;
    const step = this.lifecycle.then(() => {
      if (generation !== this.generation) return;
      this.stopper = new AbortController();
      this.fence = leadership ? AbortSignal.any([this.stopper.signal, leadership]) : this.stopper.signal;
      if (this.running) return;
      this.running = true;
      const { logger, sources, views, relistIntervalMs, staleAfterMs } = this.opts;
      const common = { logger, relistIntervalMs, staleAfterMs };
      this.applied.clear();
      this.reflectors = [
        new Reflector({ ...common, name: 'tidbclusters', source: sources.clusters, transform: views.cluster, store: this.clusters as Store<RawTidbCluster> }) as Reflector<unknown>,
        new Reflector({ ...common, name: 'controller-pods', source: sources.pods, transform: views.pod, store: this.pods as Store<ControllerPod> }) as Reflector<unknown>,
        new Reflector({ ...common, name: 'controller-statefulsets', source: sources.statefulSets, transform: views.sts, store: this.statefulSets as Store<ControllerSts> }) as Reflector<unknown>,
      ];
      for (const r of this.reflectors) r.start();
      // Each reconcile carries the fence of the term it started in, even past a later restart.
      this.queue.start((key) => this.term.run(this.fence!, () => this.reconcileWhenSynced(key)));
      logger.info('TidbCluster controller started');
    });
    this.lifecycle = step.catch(() => {});
    return step;
  }

  /**
   * Fences at once (no act after this call), then stops taking keys, waits a bounded time for the
   * reconciles in flight to end, and stops the caches.
   */
  stop(): Promise<void> {
    ++this.generation;
    this.stopper?.abort(new Error('the TidbCluster controller is stopping'));
    const step = this.lifecycle.then(async () => {
      if (!this.running) return;
      this.running = false;
      const waitMs = this.opts.stopTimeoutMs ?? 5000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([this.queue.shutdown().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
      clearTimeout(timer);
      if (!ended) this.opts.logger.warn({ waitedMs: waitMs }, 'reconciles still in flight after the stop timeout; they are fenced and make no further call');
      await Promise.all(this.reflectors.map((r) => r.stop()));
      this.reflectors = [];
      this.opts.logger.info('TidbCluster controller stopped');
    });
    this.lifecycle = step.catch(() => {});
    return step;
  }

  /** Throws when the term of the running reconcile (or the controller's, outside one) has ended. */
  private guard(): void {
    const fence = this.term.getStore() ?? this.fence;
    if (fence?.aborted) throw new FencedError(fence.reason);
  }

  private async reconcileWhenSynced(key: string): Promise<ReconcileResult> {
    if (!this.hasSynced()) return { requeueAfterMs: 500 };
    this.stats.reconciles++;
    return this.reconcile(key);
  }

  private ref(raw: RawTidbCluster): ObjectRef {
    return { kind: 'TidbCluster', apiVersion: 'tidb-steward.dev/v1alpha1', namespace: raw.metadata.namespace, name: raw.metadata.name, uid: raw.metadata.uid };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cached = this.clusters.get(key);
    if (!cached) {
      this.forget(key);
      return;
    }
    const raw = this.fresher(key, cached);
    const { namespace, name } = raw.metadata;
    const log = this.opts.logger.child({ tidbcluster: key });
    const finalizers = raw.metadata.finalizers ?? [];
    if (raw.metadata.deletionTimestamp) {
      if (finalizers.includes(FINALIZER)) await this.finalize(raw, log);
      return;
    }
    if (!finalizers.includes(FINALIZER)) {
      await this.opts.io.setFinalizers(namespace, name, [...finalizers, FINALIZER], raw.metadata.resourceVersion);
      return;
    }
    const validation = validateTidbCluster(name, raw.spec);
    // The webhook's update rules, re-checked against the running StatefulSets (immutable claim templates).
    const running = (c: 'pd' | 'tikv') => this.statefulSets.get(`${namespace}/${names.statefulSet(name, c)}`)?.volume ?? null;
    const errors = validation.ok ? runningVolumeViolations(validation.spec, { pd: running('pd'), tikv: running('tikv') }) : validation.errors;
    if (!validation.ok || errors.length > 0) {
      const message = `the spec is invalid, nothing is changed until it is fixed: ${describeErrors(errors)}`;
      this.opts.events.emit(this.ref(raw), 'Warning', 'InvalidSpec', message);
      const gen = raw.metadata.generation;
      let conditions = raw.status.conditions ?? [];
      for (const type of ['Ready', 'Progressing']) conditions = setCondition(conditions, { type, status: 'False', reason: 'InvalidSpec', message }, gen, this.now());
      await this.writeIfChanged(raw, { ...raw.status, observedGeneration: gen, phase: 'Failed', conditions });
      return;
    }
    const tc: TidbCluster = { metadata: raw.metadata, spec: validation.spec, status: raw.status };
    const o = await this.observe(tc);
    // PingCAP's spec.tikv.evictLeaderTimeout, when the cluster sets one, instead of the process-wide default.
    const policy = { evictTimeoutMs: tc.spec.tikv.evictLeaderTimeoutMs ?? this.opts.evictTimeoutMs };
    const paused = tc.spec.paused;
    const held: string[] = [];
    const steps: Step[] = [];
    const plan = tc.spec.suspend ? decideSuspend(tc, o, policy) : null;
    const upgradePolicy = { evictTimeoutMs: policy.evictTimeoutMs, readyTimeoutMs: this.opts.upgrade?.readyTimeoutMs ?? 600_000, leaderReturnMs: this.opts.upgrade?.leaderReturnMs ?? 60_000 };
    for (const component of ['pd', 'tikv', 'tidb'] as const) {
      let s = plan ? plan.find((x) => x.component === component)! : component === 'pd' ? decidePd(tc, o) : component === 'tikv' ? decideTikv(tc, o, policy) : decideTidb(tc, o);
      if (!plan) {
        const desiredHash = desiredTemplateHash(tc, component, { replicas: s.replicas ?? 0 });
        s = decideRollout(tc, o, s, { desiredHash, policy: upgradePolicy, evictProgress: component === 'tikv' ? this.trackEviction(key, o) : null });
      }
      steps.push(s);
      if (paused) {
        const current = o.sts[component]?.replicas ?? null;
        if (s.replicas !== null && s.replicas !== current) held.push(`${component} replicas ${current ?? 'none'} → ${s.replicas}`);
        if (s.upgrade && s.upgrade.state !== 'Done') held.push(`${component} rolling upgrade: ${s.upgrade.message}`);
        for (const a of s.actions) held.push(describeAction(a));
      } else {
        await this.act(tc, s, o, log);
        for (const e of s.events) this.opts.events.emit(this.ref(raw), e.type, e.reason, e.message);
      }
      // Suspension runs the other way round: a component waiting stops the ones before it too.
      if (s.block && !plan) break;
    }
    const pending = await this.diagnose(tc, o, log);
    for (const p of pending) this.opts.events.emit(this.ref(raw), 'Warning', 'PodPending', p.message);
    const status = deriveStatus(tc, o, { steps, paused, invalid: null, pending, held });
    const changed = await this.writeIfChanged(raw, status);
    if (changed) this.noteTransitions(raw, status, log);
    const waits = steps.map((s) => s.requeueAfterMs).filter((x): x is number => x !== null);
    if (waits.length) return { requeueAfterMs: Math.min(...waits) };
    const ready = status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (pending.length || (!ready && !tc.spec.suspend)) return { requeueAfterMs: 3000 };
    return { requeueAfterMs: this.opts.resyncMs ?? 30_000 };
  }

  /** The progress of the upgrade's leader eviction in this cluster (restarts with this process: more time, never less). */
  private trackEviction(key: string, o: Observed): EvictProgress | null {
    const record = o.ledger.evictions.find((r) => r.cause === 'restart');
    const store = record ? o.stores?.find((x) => x.id === record.storeId) : undefined;
    if (!record || !store) {
      this.evictProgress.delete(key);
      return null;
    }
    const next = trackEviction(this.evictProgress.get(key), store.id, store.leaderCount, o.now);
    this.evictProgress.set(key, next);
    return next;
  }

  /** A cluster that is gone leaves nothing behind in this process's maps. */
  private forget(key: string): void {
    this.written.delete(key);
    this.diagnosed.delete(key);
    this.lastTransfer.delete(key);
    this.evictProgress.delete(key);
    const [namespace, name] = key.split('/') as [string, string];
    for (const k of this.applied.keys()) {
      const [, ns, object] = k.split('/') as [string, string, string];
      if (ns === namespace && (object === name || object.startsWith(`${name}-`))) this.applied.delete(k);
    }
  }

  private noteTransitions(raw: RawTidbCluster, status: TidbClusterStatus, log: Logger): void {
    const before = new Map((raw.status.conditions ?? []).map((c) => [c.type, c.status]));
    for (const c of status.conditions ?? []) {
      const previous = before.get(c.type);
      if (previous === c.status) continue;
      if (c.type === 'Ready' && c.status === 'True') this.opts.events.emit(this.ref(raw), 'Normal', 'ClusterReady', c.message);
      if (c.type === 'Suspended' && c.status === 'True') this.opts.events.emit(this.ref(raw), 'Normal', 'Suspended', c.message);
      if (c.type === 'Suspended' && c.status === 'False' && previous === 'True') this.opts.events.emit(this.ref(raw), 'Normal', 'Resuming', 'spec.suspend is false: starting PD, then TiKV, then TiDB');
      if (c.type === 'Paused' && (c.status === 'True' || previous === 'True')) this.opts.events.emit(this.ref(raw), 'Normal', c.status === 'True' ? 'Paused' : 'Unpaused', c.message);
      log.info({ condition: c.type, status: c.status, reason: c.reason }, c.message);
    }
  }

  private async writeIfChanged(raw: RawTidbCluster, status: TidbClusterStatus): Promise<boolean> {
    if (stableJson(status) === stableJson(raw.status)) return false;
    this.guard();
    const key = `${raw.metadata.namespace}/${raw.metadata.name}`;
    // The status read is this process's own last write when the cache lags behind it (fresher()):
    // then that write's resourceVersion is the one read.
    const own = this.written.get(key);
    const read = own && own.status === raw.status ? own.resourceVersion : raw.metadata.resourceVersion;
    const resourceVersion = await this.opts.io.writeStatus(raw.metadata.namespace, raw.metadata.name, status, read);
    this.written.set(key, { resourceVersion, status });
    this.stats.statusWrites++;
    return true;
  }

  /**
   * The cached object, with the status this process wrote last when the cache has not caught up with
   * that write yet (a reconcile must not build on a status older than its own last write, or
   * bookkeeping such as the evict-leader entries could be lost). etcd resource versions grow.
   */
  private fresher(key: string, cached: RawTidbCluster): RawTidbCluster {
    const w = this.written.get(key);
    if (!w) return cached;
    const older = (() => {
      try {
        return BigInt(cached.metadata.resourceVersion) < BigInt(w.resourceVersion);
      } catch {
        return false;
      }
    })();
    if (!older) {
      this.written.delete(key);
      return cached;
    }
    return { ...cached, status: w.status };
  }

  private emptyObserved(): Observed {
    return {
      now: this.now(),
      sts: { pd: null, tikv: null, tidb: null },
      pods: { pd: [], tikv: [], tidb: [] },
      pd: { reachable: false, members: [], leader: null },
      stores: null,
      maxReplicas: null,
      evicting: null,
      ledger: { leaving: [], evictions: [] },
    };
  }

  /** One snapshot: StatefulSets and pods from the caches; PD's facts and the ledger from the shared authority. */
  async observe(tc: TidbCluster): Promise<Observed> {
    const { namespace, name } = tc.metadata;
    const o = this.emptyObserved();
    for (const c of ['pd', 'tikv', 'tidb'] as const) {
      o.sts[c] = this.statefulSets.get(`${namespace}/${names.statefulSet(name, c)}`) ?? null;
    }
    for (const p of this.pods.values()) {
      if (p.namespace === namespace && p.cluster === name) o.pods[p.component].push(p);
    }
    for (const c of ['pd', 'tikv', 'tidb'] as const) o.pods[c].sort((a, b) => a.ordinal - b.ordinal);
    const ledger = await this.opts.disruptions.ledger(namespace, name);
    o.ledger = { leaving: ledger.leaving, evictions: ledger.evictions };
    if (!o.sts.pd && !tc.status.pd?.bootstrapped) {
      o.pd.error = 'PD is not created yet';
      return o;
    }
    let facts: PdFacts;
    try {
      facts = await this.opts.disruptions.facts(namespace, name);
    } catch (err) {
      o.pd = { reachable: false, error: (err as Error).message, members: [], leader: null };
      return o;
    }
    if (facts.members) {
      o.pd = { reachable: true, members: facts.members.map((m) => ({ name: m.name, healthy: m.healthy })), leader: facts.leader };
    } else {
      o.pd = { reachable: false, error: facts.unknown.members ?? 'no answer', members: [], leader: null };
    }
    o.stores = facts.stores ? facts.stores.map(storeView) : null;
    if (!facts.stores && o.pd.reachable) o.pd.error = `cannot list stores: ${facts.unknown.stores ?? 'no answer'}`;
    o.maxReplicas = facts.maxReplicas;
    o.evicting = facts.evicting;
    o.locationLabels = facts.locationLabels;
    o.nodeLabels = {};
    for (const p of o.pods.tikv) {
      const labels = p.nodeName ? this.opts.nodeLabels?.(p.nodeName) : undefined;
      if (p.nodeName && labels) o.nodeLabels[p.nodeName] = { ...labels };
    }
    return o;
  }

  /**
   * Applies a step. Every member it takes out of service — pods a lower replica count removes, a PD
   * member or store deleted in PD — is first judged and recorded by the disruption authority; a
   * refusal stops the step there and says why.
   */
  private async act(tc: TidbCluster, s: Step, o: Observed, log: Logger): Promise<void> {
    this.guard();
    const { namespace, name } = tc.metadata;
    const key = `${namespace}/${name}`;
    if (s.restart) {
      // The rolling upgrade's restart (or the leader eviction before it): judged and recorded by the
      // authority before the partition moves or PD is asked; TiDB holds no PD member or store.
      const r = s.restart;
      const component = s.component;
      const verdict = component === 'tidb' ? { allowed: true, reason: 'TiDB members are not gated' } : await this.opts.disruptions.admit({ namespace, cluster: name, component, pod: r.pod, podUid: r.uid, act: 'restart' });
      if (!verdict.allowed) {
        this.refuse(s, `restart ${r.pod} (rolling upgrade)`, verdict.reason, log, 'Upgrading');
        s.partition = o.sts[component]?.partition ?? s.partition;
        s.actions = s.actions.filter((a) => a.type !== 'evict-leaders');
        delete s.restart;
      }
    }
    if (s.replicas !== null) {
      const current = o.sts[s.component]?.replicas ?? 0;
      if (s.component !== 'tidb' && s.replicas < current) {
        const component = s.component;
        const act = s.scaleDownAct ?? 'scale-in';
        for (const p of o.pods[component].filter((x) => x.ordinal >= s.replicas! && !x.deleting)) {
          const verdict = await this.opts.disruptions.admit({ namespace, cluster: name, component, pod: p.name, podUid: p.uid ?? '', act });
          if (!verdict.allowed) {
            this.refuse(s, `stopping ${p.name} (${act})`, verdict.reason, log);
            s.replicas = current;
            break;
          }
        }
        if (s.replicas < current && act === 'scale-in') {
          const claims = Array.from({ length: current - s.replicas }, (_, i) => names.pvc(name, component, s.replicas! + i));
          await this.opts.io.retireClaims(namespace, claims, `scale-in of ${key} to ${s.replicas}`);
        }
      }
      if (s.component !== 'tidb' && s.replicas > current) {
        const component = s.component;
        const claims = Array.from({ length: s.replicas - current }, (_, i) => names.pvc(name, component, current + i));
        for (const r of await this.opts.io.renewRetiredClaims(namespace, claims)) {
          this.opts.events.emit(this.ref(tc as unknown as RawTidbCluster), 'Normal', 'ClaimRenewed', `claim ${r.claim} of a removed member was deleted so its ordinal starts afresh; the old data stays on volume ${r.volume ?? '(unbound)'} as its reclaim policy says`);
        }
      }
      const objects = componentObjects(tc, s.component, { replicas: s.replicas, pdBootstrapped: pdBootstrapped(tc, o), pdInitialMembers: tc.spec.pd.replicas, partition: s.partition ?? 0 });
      for (const obj of objects) await this.applyIfChanged(obj, o);
    }
    if (s.restart?.deletePod && !s.upgradeEviction) {
      log.info({ pod: s.restart.pod }, 'deleting a pod stuck at a bad revision so that its StatefulSet makes it again');
      await this.opts.io.deletePod(namespace, s.restart.pod, s.restart.uid);
    }
    for (const a of s.actions) {
      if (a.type === 'transfer-pd-leader') {
        if (this.now() - (this.lastTransfer.get(key) ?? 0) < 3000) continue;
        this.lastTransfer.set(key, this.now());
      }
      const ask = this.disruptionOf(tc, a, o);
      if (ask) {
        const verdict = await this.opts.disruptions.admit(ask);
        if (!verdict.allowed) {
          this.refuse(s, describeAction(a), verdict.reason, log);
          return;
        }
      }
      if (a.type === 'evict-leaders') {
        const store = o.stores?.find((x) => x.id === a.storeId);
        const pod = o.pods.tikv.find((p) => p.name === store?.pod);
        // Recorded before PD is asked: the ledger's cleanup ends it once the store serves again.
        await this.opts.disruptions.recordEviction(namespace, name, { storeId: a.storeId, podUid: pod?.uid ?? '', beganAt: this.now(), cause: s.upgradeEviction ? 'restart' : 'suspend' }, store?.pod ?? '');
      }
      log.info({ action: a.type, ...a }, describeAction(a));
      await runAction(await this.opts.pdFor(namespace, name), a);
      this.opts.disruptions.invalidate(namespace, name);
      if (ask && ask.podUid === '' && (a.type === 'delete-pd-member' || a.type === 'delete-store')) {
        // A member beyond the spec with no pod: its claim must not come back with its ordinal.
        const component = a.type === 'delete-pd-member' ? 'pd' : 'tikv';
        const ordinal = ordinalOf(ask.pod);
        if (ordinal >= 0) await this.opts.io.retireClaims(namespace, [names.pvc(name, component, ordinal)], `${describeAction(a)} (beyond the spec)`);
      }
    }
  }

  /** The disruption an action is, or null when it takes no member out of service. */
  private disruptionOf(tc: TidbCluster, a: PdAction, o: Observed): DisruptionRequest | null {
    const { namespace, name } = tc.metadata;
    if (a.type === 'delete-pd-member') {
      const pod = o.pods.pd.find((p) => p.name === a.name);
      return { namespace, cluster: name, component: 'pd', pod: a.name, podUid: pod?.uid ?? '', member: a.name, act: 'scale-in' };
    }
    if (a.type === 'delete-store') {
      const store = o.stores?.find((x) => x.id === a.storeId);
      const pod = o.pods.tikv.find((p) => p.name === store?.pod);
      return { namespace, cluster: name, component: 'tikv', pod: store?.pod ?? '', podUid: pod?.uid ?? '', member: a.storeId, act: 'scale-in' };
    }
    return null;
  }

  /** The authority said not yet: nothing of the step happens now; the status says why. */
  private refuse(s: Step, what: string, reason: string, log: Logger, code?: string): void {
    log.info({ component: s.component, what, reason }, 'disruption not allowed yet');
    s.progress = { code: code ?? (s.component === 'pd' ? 'ScalingInPD' : s.component === 'tikv' ? 'ScalingInTiKV' : 'Waiting'), message: `waiting to ${what}: ${reason}` };
    if (code) s.block = { code, message: `later components wait: ${s.progress.message}` };
    if (s.scaleDownAct === 'suspend') s.block = { code: 'Suspending', message: `suspending: waiting to ${what}: ${reason}` };
    s.events = s.events.filter((e) => e.type === 'Warning');
    s.requeueAfterMs = 2000;
  }

  private async applyIfChanged(obj: KubeObject, o: Observed): Promise<void> {
    const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const hash = createHash('sha256').update(JSON.stringify(obj)).digest('base64');
    const memo = this.applied.get(key);
    // A StatefulSet missing from the cache was deleted behind our back: apply it again.
    const present = obj.kind !== 'StatefulSet' || Object.values(o.sts).some((s) => s && (s as ControllerSts).name === obj.metadata.name);
    if (memo && memo.hash === hash && present && this.now() - memo.at < APPLY_MEMO_TTL_MS) return;
    this.guard();
    await this.opts.io.apply(obj);
    this.stats.applies++;
    this.applied.set(key, { hash, at: this.now() });
  }

  /** Pods Pending past the grace period, each with the reason it cannot be placed. */
  private async diagnose(tc: TidbCluster, o: Observed, log: Logger): Promise<Array<Diagnosis & { pod: string }>> {
    const now = this.now();
    const stuck = [...o.pods.pd, ...o.pods.tikv, ...o.pods.tidb].filter(
      (p) => p.phase === 'Pending' && !p.nodeName && !p.deleting && now - (p as ControllerPod).createdAt >= this.opts.pendingGraceMs,
    ) as ControllerPod[];
    const key = `${tc.metadata.namespace}/${tc.metadata.name}`;
    if (stuck.length === 0) {
      this.diagnosed.delete(key);
      return [];
    }
    const cached = this.diagnosed.get(key);
    if (cached && now - cached.at < 10_000 && cached.result.length === stuck.length) return cached.result;
    try {
      const facts = await this.opts.io.diagnosisFacts(tc.metadata.namespace, stuck.flatMap((p) => p.claims));
      const result = stuck.map((p) => ({
        pod: p.name,
        ...diagnosePending(
          { name: p.name, component: p.component, requests: p.requests, nodeSelector: p.nodeSelector, tolerations: p.tolerations, schedulerMessage: p.schedulerMessage, claims: p.claims.map((c) => facts.claims.get(c)).filter((c): c is PendingPod['claims'][number] => !!c) },
          facts.nodes,
          facts.storage,
        ),
      }));
      this.diagnosed.set(key, { at: now, result });
      return result;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'pending-pod diagnosis failed');
      return stuck.map((p) => ({ pod: p.name, code: 'Unschedulable' as const, message: `${p.name} is Pending: ${p.schedulerMessage ?? 'not scheduled yet'}` }));
    }
  }

  /**
   * Deletion: nothing left in PD's evict-leader scheduler nor in the ledger. Pods need no pass: the
   * webhooks let the pods of a StatefulSet or TidbCluster being deleted go.
   */
  private async finalize(raw: RawTidbCluster, log: Logger): Promise<void> {
    const { namespace, name } = raw.metadata;
    const storeIds = new Set((await this.opts.disruptions.ledger(namespace, name)).evictions.map((e) => e.storeId));
    try {
      // Whoever started it, an eviction of this cluster's stores is moot once the cluster goes.
      const facts = await this.opts.disruptions.facts(namespace, name);
      const ours = new Set((facts.stores ?? []).map(storeView).filter((s) => s.pod?.startsWith(`${name}-tikv-`)).map((s) => s.id));
      for (const id of facts.evicting ?? []) if (ours.has(id)) storeIds.add(id);
    } catch (err) {
      log.info({ err: (err as Error).message }, 'could not list leader evictions in PD while deleting the cluster');
    }
    const pd = await this.opts.pdFor(namespace, name);
    for (const id of storeIds) {
      try {
        await pd.removeEvictLeader(id);
      } catch (err) {
        // PD goes with the cluster: an entry in a PD that no longer answers is gone with it.
        log.info({ storeId: id, err: (err as Error).message }, 'could not end a leader eviction in PD while deleting the cluster');
      }
    }
    await this.opts.disruptions.dropRecords(namespace, name);
    await this.opts.io.setFinalizers(namespace, name, (raw.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), raw.metadata.resourceVersion);
    this.opts.events.emit(this.ref(raw), 'Normal', 'Deleting', `cluster ${namespace}/${name} deleted: its objects go with it; volume claims follow spec.pvReclaimPolicy`);
    log.info('finalized; Kubernetes deletes the owned objects');
  }
}

function storeView(s: StoreInfo): StoreObserved {
  const byLabel = s.store.labels.find((l) => l.key === 'pod')?.value;
  const host = s.store.address.split(':')[0] ?? '';
  const pod = byLabel ?? (host.includes('.') ? host.split('.')[0]! : null);
  return { id: s.store.id, pod, state: s.store.state_name, leaderCount: s.status.leader_count, regionCount: s.status.region_count, labels: Object.fromEntries(s.store.labels.map((l) => [l.key, l.value])) };
}

export function describeAction(a: PdAction): string {
  switch (a.type) {
    case 'transfer-pd-leader':
      return `transfer PD leadership to ${a.to}`;
    case 'delete-pd-member':
      return `remove PD member ${a.name}`;
    case 'delete-store':
      return `delete TiKV store ${a.storeId} in PD`;
    case 'cancel-store-removal':
      return `bring TiKV store ${a.storeId} back Up`;
    case 'evict-leaders':
      return `evict region leaders from store ${a.storeId}`;
    case 'end-evict-leaders':
      return `stop evicting leaders from store ${a.storeId}`;
    case 'set-store-labels':
      return `label store ${a.storeId} ${Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(',')}`;
    case 'set-location-labels':
      return `set PD's location-labels to ${a.labels.join(',')}`;
  }
}

async function runAction(pd: PdPort, a: PdAction): Promise<void> {
  switch (a.type) {
    case 'transfer-pd-leader':
      return pd.transferLeader(a.to);
    case 'delete-pd-member':
      return pd.deleteMember(a.name);
    case 'delete-store':
      return pd.deleteStore(a.storeId);
    case 'cancel-store-removal':
      return pd.cancelStoreRemoval(a.storeId);
    case 'evict-leaders':
      return pd.addEvictLeader(a.storeId);
    case 'end-evict-leaders':
      return pd.removeEvictLeader(a.storeId);
    case 'set-store-labels':
      return pd.setStoreLabels(a.storeId, a.labels);
    case 'set-location-labels':
      return pd.setLocationLabels(a.labels);
  }
}

/** JSON with sorted keys, to compare statuses regardless of key order. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, value) => (value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) : value));
}

export type { ComponentName };
