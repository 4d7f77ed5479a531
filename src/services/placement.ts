// The extender's use cases: read the caches, call the pure placement rule, and (for bind) make the
// one API call. No I/O happens in filter or prioritize.
import type { Logger } from 'pino';
import {
  clusterKey,
  objectKey,
  tidbIdentity,
  untoleratedTaints,
  type ClaimView,
  type Labels,
  type PodView,
  type TidbIdentity,
  type VolumeView,
} from '../domain/model.ts';
import { HOSTNAME_KEY, interimPlacementNote, judgeWithTarget, placeWithTarget, planPlacement, scoreNode, topologyKeysFor, type DomainCounts, type Placement, type PlacementPlan } from '../domain/placement.ts';
import type { BinderPort, LivePod } from '../k8s/binder.ts';
import type { EventSink } from '../k8s/events.ts';
import { LockBusy, localOnly, type BindLock } from '../k8s/leases.ts';
import type { MapStore, NodeStore, PodStore, StatefulSetStore } from '../state/stores.ts';
import type { ReservationLedger } from '../state/ledger.ts';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  labels: Labels;
  /** Name of the controlling StatefulSet, from ownerReferences. */
  owner: string | null;
  /** The owner is an Advanced StatefulSet (apps.pingcap.com). */
  ownerAdvanced?: boolean | undefined;
  /** PersistentVolumeClaims the pod mounts (a bound local volume pins it to its node). */
  claims?: readonly string[] | undefined;
  /** The cluster's own failure-domain keys (the pod's tidb-steward.dev/topology-keys annotation). */
  topologyKeys?: readonly string[] | undefined;
}

/** Nodes a pod's bound volumes confine it to, with the volumes that do it (for the Event). */
export interface Pin {
  nodes: ReadonlySet<string>;
  because: string;
}

/** A decision the scheduler can act on, or a reason it must retry later. */
export type Planned =
  | { kind: 'ignore' }
  | { kind: 'plan'; plan: PlacementPlan; pin: Pin | null }
  | { kind: 'error'; message: string };

export interface PeerSource {
  members: Iterable<PodView>;
  reservations: Iterable<{ podUid: string; nodeName: string }>;
}

/** Nodes holding the other members: bound pods that still hold a member, plus binds not yet seen. */
export function peerNodes(source: PeerSource, excludeUid: string): string[] {
  const nodes: string[] = [];
  const seen = new Set<string>();
  for (const pod of source.members) {
    if (pod.uid === excludeUid || pod.terminal || !pod.nodeName) continue;
    seen.add(pod.uid);
    nodes.push(pod.nodeName);
  }
  for (const r of source.reservations) {
    if (r.podUid === excludeUid || seen.has(r.podUid)) continue;
    nodes.push(r.nodeName);
  }
  return nodes;
}

/**
 * The nodes every bound claim's volume allows (the intersection over claims with a pinned volume), or
 * null when no claim pins the pod. Unbound claims and network volumes pin nothing.
 */
export function pinOf(namespace: string, claims: readonly string[], claimStore: { get(key: string): ClaimView | undefined }, volumes: { get(name: string): VolumeView | undefined }): Pin | null {
  let nodes = null as Set<string> | null;
  const why: string[] = [];
  // By claim name: the StatefulSet controller lists a pod's claim volumes in no fixed order.
  for (const claim of [...claims].sort()) {
    const bound = claimStore.get(objectKey(namespace, claim));
    const volume = bound ? volumes.get(bound.volumeName) : undefined;
    if (!bound || !volume) continue;
    const allowed = new Set(volume.nodes);
    nodes = nodes === null ? allowed : new Set([...nodes].filter((n) => allowed.has(n)));
    why.push(`PersistentVolume ${volume.name} of claim ${claim} can only be used on ${volume.nodes.join(', ')}`);
  }
  return nodes === null ? null : { nodes, because: why.join('; ') };
}

export interface BindOutcome {
  component: 'pd' | 'tikv' | 'other';
  /** Why the binding was refused, for the scheduler's event; null when the pod was bound. */
  refusal: string | null;
}

export interface PlacementDeps {
  pods: PodStore;
  nodes: NodeStore;
  statefulSets: StatefulSetStore;
  /** tidb-operator's Advanced StatefulSets (apps.pingcap.com), when served. */
  advancedStatefulSets?: StatefulSetStore | undefined;
  /** Bound PersistentVolumeClaims and node-pinned PersistentVolumes, for pods whose data lives on one node. */
  claims?: MapStore<ClaimView> | undefined;
  volumes?: MapStore<VolumeView> | undefined;
  ledger: ReservationLedger;
  topologyKeys: readonly string[];
  /** A cluster's own PD failure-domain keys when its pods do not carry them (PingCAP's ha-topology-key). */
  clusterTopologyKeys?: ((namespace: string, cluster: string) => readonly string[] | undefined) | undefined;
  binder: BinderPort;
  /** Serialises binds of one cluster's component across replicas (default: this process only). */
  lock?: BindLock | undefined;
  /** Only pods of this scheduler are bound (default tidb-scheduler). */
  schedulerName?: string | undefined;
  events?: EventSink | undefined;
  /** Tests only: pause between the fresh read and the Binding (see --bind-delay-ms). */
  bindDelayMs?: number | undefined;
  reservationTtlMs: number;
  isSynced: () => boolean;
  now: () => number;
  logger: Logger;
}

interface OwnerLookup {
  state: 'pending' | 'found' | 'missing';
  replicas?: number;
  targetReplicas?: number | undefined;
  at: number;
}

/** The owner's desired count, and the PD count the controller is scaling to when it wrote one. */
interface Counts {
  replicas: number;
  targetReplicas?: number | undefined;
}

const OWNER_FOUND_TTL_MS = 30_000;
const OWNER_RECHECK_MS = 10_000;

export class PlacementService {
  private readonly deps: PlacementDeps;
  /** Binds of one cluster's component run one after another; other clusters are not held up. */
  private readonly bindChains = new Map<string, Promise<unknown>>();
  /** Owners the caches do not hold, looked up off the hot path (ns/name#kind). */
  private readonly ownerLookups = new Map<string, OwnerLookup>();

  constructor(deps: PlacementDeps) {
    this.deps = deps;
  }

  private replicasOf(identity: TidbIdentity, owner: string | null, advanced: boolean): Counts | string {
    const component = identity.component.toUpperCase();
    const what = `${component} replica count of cluster ${clusterKey(identity.namespace, identity.cluster)}`;
    if (!owner) {
      return `the pod has no owning StatefulSet, so the desired ${what} is unknown; create ${component} pods through a StatefulSet or TidbCluster`;
    }
    const kind = advanced ? 'Advanced StatefulSet (apps.pingcap.com)' : 'StatefulSet';
    const key = objectKey(identity.namespace, owner);
    const store = advanced ? this.deps.advancedStatefulSets : this.deps.statefulSets;
    const sts = store?.get(key);
    if (sts) {
      this.ownerLookups.delete(`${key}#${advanced}`);
      return { replicas: sts.replicas, targetReplicas: sts.targetReplicas };
    }
    const looked = this.lookUpOwner(identity.namespace, owner, advanced);
    if (looked.state === 'found') return { replicas: looked.replicas ?? 1, targetReplicas: looked.targetReplicas };
    if (looked.state === 'missing') {
      const hint = advanced ? ' (is tidb-operator\'s apps.pingcap.com StatefulSet CRD installed?)' : '';
      return `its owner ${kind} ${key} does not exist${hint}, so the desired ${what} is unknown: recreate the ${kind}, or delete the orphaned pod`;
    }
    return `the desired ${what} is not known yet: ${kind} ${key} is not in tidb-steward's cache yet and is being looked up; the scheduler will retry`;
  }

  /** Starts (at most every few seconds per owner) a background read of an owner the caches lack. */
  private lookUpOwner(namespace: string, name: string, advanced: boolean): OwnerLookup {
    const key = `${objectKey(namespace, name)}#${advanced}`;
    const now = this.deps.now();
    const known = this.ownerLookups.get(key);
    const fresh = known && (known.state === 'pending' || now - known.at < (known.state === 'found' ? OWNER_FOUND_TTL_MS : OWNER_RECHECK_MS));
    if (fresh || !this.deps.binder.getOwner) return known ?? { state: 'pending', at: now };
    if (this.ownerLookups.size > 10_000) this.ownerLookups.clear();
    const pending: OwnerLookup = { state: 'pending', at: now };
    // Keep what we knew while the next answer is on its way.
    this.ownerLookups.set(key, known && known.state !== 'pending' ? { ...known, at: now } : pending);
    void this.deps.binder
      .getOwner(namespace, name, advanced)
      .then((found) => this.ownerLookups.set(key, found ? { state: 'found', replicas: found.replicas, targetReplicas: found.targetReplicas, at: this.deps.now() } : { state: 'missing', at: this.deps.now() }))
      .catch((err: Error) => {
        this.ownerLookups.delete(key);
        this.deps.logger.warn({ owner: key, err: err.message }, 'owner lookup failed; will retry');
      });
    return known ?? pending;
  }

  /** Everything filter and prioritize need, from the caches only. */
  plan(pod: PodRef): Planned {
    const identity = tidbIdentity(pod.namespace, pod.labels);
    if (!identity) return { kind: 'ignore' };
    return this.planFor(identity, pod);
  }

  private planFor(identity: TidbIdentity, pod: Omit<PodRef, 'labels'>, members?: Iterable<PodView>): Planned {
    if (!this.deps.isSynced()) return { kind: 'error', message: "tidb-steward's caches have not synced with the API server yet; the scheduler will retry" };
    const counts = this.replicasOf(identity, pod.owner, Boolean(pod.ownerAdvanced));
    if (typeof counts === 'string') return { kind: 'error', message: `cannot place ${objectKey(pod.namespace, pod.name)}: ${counts}` };
    const peers = peerNodes(
      {
        members: members ?? this.deps.pods.members(identity.namespace, identity.cluster, identity.component).values(),
        reservations: this.deps.ledger.forMembers(identity.namespace, identity.cluster, identity.component, this.deps.now()),
      },
      pod.uid,
    );
    const pin = pod.claims?.length && this.deps.claims && this.deps.volumes ? pinOf(pod.namespace, pod.claims, this.deps.claims, this.deps.volumes) : null;
    const own = pod.topologyKeys ?? this.deps.clusterTopologyKeys?.(identity.namespace, identity.cluster);
    const { keys } = topologyKeysFor(identity.component, own, this.deps.topologyKeys);
    return { kind: 'plan', plan: planPlacement({ identity, replicas: counts.replicas, targetReplicas: counts.targetReplicas, peerNodes: peers }, keys, this.deps.nodes), pin };
  }

  private pinned(pin: Pin | null, nodeName: string): boolean {
    if (!pin) return false;
    return pin.nodes.has(nodeName) || pin.nodes.has(this.deps.nodes.get(nodeName)?.labels[HOSTNAME_KEY] ?? '');
  }

  /**
   * Judges the candidates. A node the pod's bound local volume pins it to stays a candidate even when
   * its domain is over the limit: the member's data is there, and refusing it would leave the pod
   * Pending forever (bind explains it in an Event). During a PD scale-out, when the interim count's
   * limit leaves no candidate, the next count's limit applies (stepCount in domain/placement.ts).
   */
  filter(plan: PlacementPlan, candidates: readonly string[], pin: Pin | null = null): Placement {
    return placeWithTarget(plan, candidates, this.deps.nodes, pin ? (n) => this.pinned(pin, n) : undefined);
  }

  score(plan: PlacementPlan, candidates: readonly string[]): Array<{ Host: string; Score: number }> {
    return candidates.map((Host) => ({ Host, Score: scoreNode(plan, Host, this.deps.nodes) }));
  }

  /**
   * The commit point of a placement. Only pods of our scheduler that are still unbound may be bound,
   * only to nodes whose taints they tolerate. Filter may have judged several PD pods of one cluster
   * before any binding was visible; here each bind takes the cluster's lock (one bind per cluster
   * component at a time, across replicas), re-checks the rule against a fresh read of the cluster's
   * pods plus this process's in-flight binds, and only then creates the Binding.
   * Returns the refusal for the scheduler (null when bound) and which component the pod is.
   */
  async bind(args: { namespace: string; name: string; uid: string; node: string }): Promise<BindOutcome> {
    const { binder, logger } = this.deps;
    const key = objectKey(args.namespace, args.name);
    const live = await binder.getPod(args.namespace, args.name);
    const refuse = (component: BindOutcome['component'], refusal: string): BindOutcome => {
      logger.warn({ pod: key, node: args.node, reason: refusal }, 'bind refused');
      return { component, refusal };
    };
    if (!live) return refuse('other', `pod ${key} no longer exists`);
    const component = live.view?.component ?? 'other';
    if (live.uid !== args.uid) return refuse(component, `pod ${key} was replaced (uid ${live.uid}, scheduler asked for ${args.uid})`);
    const scheduler = this.deps.schedulerName ?? 'tidb-scheduler';
    if (live.schedulerName !== scheduler) {
      return refuse(component, `binding refused: pod ${key} is for scheduler ${live.schedulerName}, and tidb-steward binds only pods of ${scheduler}`);
    }
    if (live.nodeName) return refuse(component, `binding refused: pod ${key} is already bound to node ${live.nodeName}`);
    const nodeProblem = await this.nodeRefusal(live, args.node);
    if (nodeProblem) return refuse(component, `binding refused: ${nodeProblem}`);
    if (!live.view) {
      await binder.bind(args.namespace, args.name, args.uid, args.node);
      return { component: 'other', refusal: null };
    }
    const pod = live.view;
    const chainKey = `${clusterKey(pod.namespace, pod.cluster)}#${pod.component}`;
    const previous = this.bindChains.get(chainKey) ?? Promise.resolve();
    const lock = this.deps.lock ?? localOnly;
    const run = previous.then(() => lock.run(pod.namespace, pod.cluster, pod.component, () => this.bindMember(pod, live, args.node)));
    const tail = run.catch(() => undefined);
    this.bindChains.set(chainKey, tail);
    void tail.then(() => {
      if (this.bindChains.get(chainKey) === tail) this.bindChains.delete(chainKey);
    });
    let refusal: string | null;
    try {
      refusal = await run;
    } catch (err) {
      if (err instanceof LockBusy) return refuse(pod.component, `binding ${key} postponed: ${err.message}`);
      throw err;
    }
    if (refusal) return refuse(pod.component, refusal);
    logger.info({ pod: key, node: args.node }, 'bound');
    return { component: pod.component, refusal: null };
  }

  /** Taints the pod does not tolerate, a cordon, or a node that does not exist. */
  private async nodeRefusal(pod: LivePod, nodeName: string): Promise<string | null> {
    const cached = this.deps.nodes.get(nodeName);
    const node = cached ? { taints: cached.taints ?? [], unschedulable: cached.unschedulable } : await this.deps.binder.getNode(nodeName);
    if (!node) return `node ${nodeName} does not exist`;
    const taints = [...node.taints];
    if (node.unschedulable) taints.push({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' });
    const bad = untoleratedTaints(taints, pod.tolerations);
    if (bad.length === 0) return null;
    const list = bad.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ');
    return `node ${nodeName} has taint${bad.length > 1 ? 's' : ''} ${list} that the pod does not tolerate`;
  }

  private async bindMember(pod: PodView, live: LivePod, node: string): Promise<string | null> {
    const { binder, ledger } = this.deps;
    const fresh = await binder.listMembers(pod.namespace, pod.cluster, pod.component);
    if (this.deps.bindDelayMs) await new Promise((r) => setTimeout(r, this.deps.bindDelayMs));
    const planned = this.planFor(pod, { ...pod, ownerAdvanced: pod.ownerAdvanced, claims: live.claims }, fresh);
    if (planned.kind === 'error') return planned.message;
    let overLimit: string | null = null;
    let interim: string | null = null;
    if (planned.kind === 'plan') {
      const verdict = judgeWithTarget(planned.plan, node, this.deps.nodes);
      if (!verdict.fit) {
        if (!this.pinned(planned.pin, node)) return `binding refused: ${verdict.reason}`;
        overLimit = `${verdict.reason}; placed there anyway because the pod's data lives on that node (${planned.pin!.because}), so it can run nowhere else. The domain stays over the limit until a member moves away (e.g. after a scale-in)`;
      } else if (verdict.underTarget) {
        interim = `${verdict.interimReason}; placed there within the limit of the next PD member count. ${this.noteAfter(planned.plan, node).message}`;
      }
    }
    ledger.add({
      podUid: pod.uid,
      podKey: objectKey(pod.namespace, pod.name),
      namespace: pod.namespace,
      cluster: pod.cluster,
      component: pod.component,
      nodeName: node,
      expiresAt: this.deps.now() + this.deps.reservationTtlMs,
    });
    try {
      await binder.bind(pod.namespace, pod.name, pod.uid, node);
    } catch (err) {
      ledger.settle(pod.uid);
      throw err;
    }
    if (overLimit) {
      this.deps.logger.warn({ pod: objectKey(pod.namespace, pod.name), node, reason: overLimit }, 'bound over the placement limit: pinned by its volume');
      this.deps.events?.emit({ kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid }, 'Warning', 'PlacedOverLimit', overLimit);
    }
    if (interim) {
      this.deps.logger.warn({ pod: objectKey(pod.namespace, pod.name), node, reason: interim }, 'bound within the next PD member count\'s limit: a scale-out step');
      this.deps.events?.emit({ kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid }, 'Warning', 'PlacedForScaleOut', interim);
    }
    return null;
  }

  /** What the layout tolerates once the pod is on `node`: the plan's domain counts plus that node. */
  private noteAfter(plan: PlacementPlan, node: string) {
    const labels = this.deps.nodes.get(node)?.labels ?? {};
    let unknown = 0;
    const levels: DomainCounts[] = plan.levels.map((level) => {
      const members: Record<string, number> = Object.fromEntries(level.counts);
      const value = labels[level.key];
      if (value !== undefined) members[value] = (members[value] ?? 0) + 1;
      const placed = Object.values(members).reduce((a, b) => a + b, 0);
      unknown = Math.max(unknown, plan.request.peerNodes.length + 1 - placed);
      return { key: level.key, members };
    });
    const { replicas, targetReplicas } = plan.request;
    return interimPlacementNote({ cluster: plan.clusterName, levels, unknown, interim: replicas, target: targetReplicas ?? replicas });
  }
}
