// The drain use cases behind the admission webhooks: read caches and PD, call the pure drain policy,
// carry out its action (leader transfer, leader eviction), record Events. Every PD call is bounded by
// the PD client's deadline, so an admission request always gets an answer.
import type { Logger } from 'pino';
import {
  decideEvictionCleanup,
  decidePdRemoval,
  RETRY_SECONDS,
  decideTikvRemoval,
  type DrainDecision,
  type PdMemberState,
  type TikvStoreState,
} from '../domain/drain.ts';
import { ANNOTATION_SKIP_DRAIN_CHECK, DEPRECATED_SKIP_WARNING, LEGACY_ANNOTATION_SKIP_DRAIN_CHECK, objectKey, tidbIdentity, type Labels, type PodView } from '../domain/model.ts';
import type { EventSink, ObjectRef } from '../k8s/events.ts';
import type { EvictionRecordPort } from '../k8s/evictions.ts';
import type { Member, StoreInfo } from '../pd/client.ts';
import type { NodeStore, PodStore } from '../state/stores.ts';

/** The PD calls the drain needs; PdClient implements it. */
export interface PdApi {
  members(): Promise<{ members: Member[]; leader?: Member | null | undefined }>;
  health(): Promise<Array<{ name: string; health: boolean }>>;
  transferLeader(to: string): Promise<void>;
  stores(): Promise<StoreInfo[]>;
  evictingStores(): Promise<string[]>;
  addEvictLeader(storeId: string): Promise<void>;
  removeEvictLeader(storeId: string): Promise<void>;
}

export interface RemovalRequest {
  namespace: string;
  name: string;
  /** Labels, annotations and deletion state from the request's oldObject (DELETE); evictions have none. */
  fromRequest?: { labels: Labels; deleting: boolean; skipDrainCheck: boolean; skipDrainCheckLegacy?: boolean; uid: string } | undefined;
  dryRun: boolean;
  /** 'eviction' (kubectl drain) or 'delete'. */
  via: 'eviction' | 'delete';
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
  pdFor(namespace: string, cluster: string): PdApi;
  records: EvictionRecordPort;
  events: EventSink;
  metrics: DrainMetrics;
  logger: Logger;
  now: () => number;
  evictTimeoutMs: number;
  abandonAfterMs: number;
}

const allow = (reason: string, warnings: string[] = []): Review => ({ allowed: true, reason, warnings });

function podRef(pod: PodView): ObjectRef {
  return { kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid };
}
function stsRef(pod: PodView): ObjectRef | null {
  return pod.owner ? { kind: 'StatefulSet', apiVersion: 'apps/v1', namespace: pod.namespace, name: pod.owner } : null;
}

/** TiKV store of a pod: production addresses are <pod>.<cluster>-tikv-peer.<ns>.svc:20160; the local
 * simulator's stores carry a `pod` label instead. */
export function storeOfPod(stores: readonly StoreInfo[], podName: string): StoreInfo | undefined {
  return (
    stores.find((s) => s.store.address.startsWith(`${podName}.`)) ??
    stores.find((s) => s.store.labels.some((l) => l.key === 'pod' && l.value === podName))
  );
}

function podOfStore(store: StoreInfo): string | undefined {
  const byLabel = store.store.labels.find((l) => l.key === 'pod')?.value;
  if (byLabel) return byLabel;
  const host = store.store.address.split(':')[0] ?? '';
  return host.includes('.') ? host.split('.')[0] : undefined;
}

function storeState(s: StoreInfo): TikvStoreState {
  return { id: s.store.id, stateName: s.store.state_name, leaderCount: s.status.leader_count, regionCount: s.status.region_count };
}

export class DrainService {
  private readonly deps: DrainDeps;
  /** Pod uid → when it was first told to wait, for the waited-seconds metric. */
  private readonly waitingSince = new Map<string, number>();
  /** Cluster → last leader transfer request, so that drain's retries do not re-issue it every 5 s. */
  private readonly lastTransfer = new Map<string, number>();

  constructor(deps: DrainDeps) {
    this.deps = deps;
  }

  /** May this pod be deleted or evicted now? Never throws: PD trouble becomes a "not yet". */
  async reviewRemoval(req: RemovalRequest): Promise<Review> {
    const key = objectKey(req.namespace, req.name);
    const cached = this.deps.pods.get(key);
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
    const component = pod.component;
    let decision: DrainDecision;
    try {
      decision = component === 'pd' ? await this.decidePd(pod) : await this.decideTikv(pod);
    } catch (err) {
      const message = `${key} cannot go yet: cannot check it with PD of cluster ${pod.namespace}/${pod.cluster}: ${(err as Error).message}; will retry`;
      this.deps.logger.warn({ pod: key, err: (err as Error).message }, 'drain check failed; answering not yet');
      this.deps.metrics.decision(component, 'error');
      this.emit(pod, 'Warning', 'DrainCheckFailed', message);
      return { allowed: false, code: 429, reason: 'TooManyRequests', message, retryAfterSeconds: RETRY_SECONDS };
    }
    if (decision.kind === 'allow') {
      this.deps.metrics.decision(component, 'allow');
      const first = this.waitingSince.get(pod.uid);
      if (first !== undefined) {
        this.deps.metrics.waited(component, (this.deps.now() - first) / 1000);
        this.waitingSince.delete(pod.uid);
      }
      if (decision.warning) this.emit(pod, 'Warning', 'EvictLeaderTimeout', decision.warning);
      this.deps.logger.info({ pod: key, via: req.via, reason: decision.reason }, 'removal allowed');
      return allow(decision.reason, decision.warning ? [decision.warning] : []);
    }
    this.deps.metrics.decision(component, 'wait');
    if (!this.waitingSince.has(pod.uid)) this.waitingSince.set(pod.uid, this.deps.now());
    this.deps.logger.info({ pod: key, via: req.via, reason: decision.reason }, 'removal must wait');
    return { allowed: false, code: 429, reason: 'TooManyRequests', message: `${key} cannot go yet: ${decision.reason}`, retryAfterSeconds: decision.retryAfterSeconds };
  }

  private memberStates(pod: PodView, members: Member[], health: Array<{ name: string; health: boolean }>, leaving: ReadonlySet<string>): PdMemberState[] {
    const healthy = new Set(health.filter((h) => h.health).map((h) => h.name));
    return members.map((m) => {
      const p = this.deps.pods.get(objectKey(pod.namespace, m.name));
      const node = p?.nodeName ? this.deps.nodes.get(p.nodeName) : undefined;
      const canLead = Boolean(p && p.running && !p.deleting && node && !node.unschedulable && !leaving.has(m.name));
      return { name: m.name, healthy: healthy.has(m.name), canLead };
    });
  }

  private async decidePd(pod: PodView, leaving: ReadonlySet<string> = new Set()): Promise<DrainDecision> {
    const pd = this.deps.pdFor(pod.namespace, pod.cluster);
    const [members, health] = await Promise.all([pd.members(), pd.health()]);
    const decision = decidePdRemoval(pod.name, { members: this.memberStates(pod, members.members, health, leaving), leader: members.leader?.name ?? null });
    if (decision.action?.type === 'transfer-pd-leader') await this.transfer(pod, pd, decision.action.from, decision.action.to);
    return decision;
  }

  private async transfer(pod: PodView, pd: PdApi, from: string, to: string): Promise<void> {
    const cluster = `${pod.namespace}/${pod.cluster}`;
    const last = this.lastTransfer.get(cluster) ?? 0;
    if (this.deps.now() - last < 3000) return;
    this.lastTransfer.set(cluster, this.deps.now());
    await pd.transferLeader(to);
    this.emit(pod, 'Normal', 'PDLeaderTransfer', `transferring PD leader of cluster ${cluster} from ${from} to ${to}`);
  }

  private async decideTikv(pod: PodView): Promise<DrainDecision> {
    const pd = this.deps.pdFor(pod.namespace, pod.cluster);
    const [stores, evicting, records] = await Promise.all([pd.stores(), pd.evictingStores(), this.deps.records.forCluster(pod.namespace, pod.cluster)]);
    const store = storeOfPod(stores, pod.name);
    const now = this.deps.now();
    const record = store ? records.find((r) => r.storeId === store.store.id) : undefined;
    // The clock runs from when this pod's removal began, not from a cordon or an earlier pod.
    const ours = record && record.podUid === pod.uid && record.cause === 'removal' ? record : undefined;
    const decision = decideTikvRemoval(
      pod.name,
      { store: store ? storeState(store) : null, evicting: store ? evicting.includes(store.store.id) : false, evictionBeganAt: ours?.beganAt ?? null },
      { evictTimeoutMs: this.deps.evictTimeoutMs, now },
    );
    if (!store) return decision;
    const storeId = store.store.id;
    const startsEviction = decision.action?.type === 'evict-tikv-leaders';
    // Record before adding to PD: an entry without a record would never be cleaned up. An eviction
    // someone else started (no record) stays theirs.
    if (startsEviction || (record && !ours && decision.kind === 'wait')) {
      await this.deps.records.put(pod.namespace, pod.cluster, { storeId, podUid: pod.uid, beganAt: now, cause: 'removal' }, pod.name);
    }
    if (startsEviction) {
      await pd.addEvictLeader(storeId);
      this.emit(pod, 'Normal', 'EvictingLeaders', `evicting ${store.status.leader_count} region leaders from TiKV store ${storeId} before ${pod.name} goes`);
    }
    return decision;
  }

  /** A node was cordoned: start moving PD leadership and TiKV leaders off it, without waiting. */
  async nodeCordoned(nodeName: string): Promise<void> {
    const onNode = [...this.deps.pods.onNode(nodeName)].filter((p) => !p.deleting && !p.terminal);
    const leaving = new Set(onNode.filter((p) => p.component === 'pd').map((p) => p.name));
    for (const pod of onNode) {
      try {
        if (pod.component === 'pd') {
          await this.decidePd(pod, leaving);
        } else {
          const pd = this.deps.pdFor(pod.namespace, pod.cluster);
          const [stores, evicting] = await Promise.all([pd.stores(), pd.evictingStores()]);
          const store = storeOfPod(stores, pod.name);
          if (!store || store.store.state_name !== 'Up' || evicting.includes(store.store.id)) continue;
          await this.deps.records.put(pod.namespace, pod.cluster, { storeId: store.store.id, podUid: pod.uid, beganAt: this.deps.now(), cause: 'cordon' }, pod.name);
          await pd.addEvictLeader(store.store.id);
          this.emit(pod, 'Normal', 'EvictingLeaders', `node ${nodeName} was cordoned: evicting region leaders from TiKV store ${store.store.id}`);
        }
      } catch (err) {
        this.deps.logger.warn({ pod: objectKey(pod.namespace, pod.name), node: nodeName, err: (err as Error).message }, 'could not prepare pod for the drain of its node');
      }
    }
  }

  /**
   * Level-triggered cleanup: remove every evict-leader entry this service added once its store's pod
   * is back (or the store is gone). Reads PD and the records; keeps nothing in memory.
   */
  async reconcileEvictions(): Promise<number> {
    let removed = 0;
    for (const cluster of await this.deps.records.list()) {
      if (cluster.records.length === 0) continue;
      const pd = this.deps.pdFor(cluster.namespace, cluster.cluster);
      let stores: StoreInfo[];
      try {
        stores = await pd.stores();
      } catch (err) {
        this.deps.logger.warn({ cluster: `${cluster.namespace}/${cluster.cluster}`, err: (err as Error).message }, 'cannot reach PD to clean up leader evictions; will retry');
        continue;
      }
      for (const record of cluster.records) {
        const store = stores.find((s) => s.store.id === record.storeId) ?? null;
        const podName = store ? podOfStore(store) : undefined;
        const pod = podName ? this.deps.pods.get(objectKey(cluster.namespace, podName)) : undefined;
        const node = pod?.nodeName ? this.deps.nodes.get(pod.nodeName) : undefined;
        const verdict = decideEvictionCleanup(
          record,
          store ? { stateName: store.store.state_name } : null,
          pod ? { uid: pod.uid, running: pod.running, deleting: pod.deleting, nodeSchedulable: Boolean(node && !node.unschedulable) } : null,
          { evictTimeoutMs: this.deps.evictTimeoutMs, abandonAfterMs: this.deps.abandonAfterMs, now: this.deps.now() },
        );
        if (!verdict.remove) continue;
        try {
          await pd.removeEvictLeader(record.storeId);
          await this.deps.records.remove(cluster.namespace, cluster.cluster, record.storeId);
          removed++;
          this.deps.logger.info({ cluster: `${cluster.namespace}/${cluster.cluster}`, store: record.storeId, reason: verdict.reason }, 'leader eviction ended');
          if (pod) this.emit(pod, 'Normal', 'EvictLeaderEnded', `stopped evicting leaders from TiKV store ${record.storeId}: ${verdict.reason}`);
        } catch (err) {
          this.deps.logger.warn({ store: record.storeId, err: (err as Error).message }, 'could not end leader eviction; will retry');
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
