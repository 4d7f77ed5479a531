// The extender's use cases: read the caches, call the pure placement rule, and (for bind) make the
// one API call. No I/O happens in filter or prioritize.
import type { Logger } from 'pino';
import {
  clusterKey,
  objectKey,
  tidbIdentity,
  type Labels,
  type PodView,
  type TidbIdentity,
} from '../domain/model.ts';
import { filterNodes, planPlacement, scoreNode, judgeNode, type FilterOutcome, type PlacementPlan } from '../domain/placement.ts';
import type { BinderPort } from '../k8s/binder.ts';
import type { NodeStore, PodStore, StatefulSetStore } from '../state/stores.ts';
import type { ReservationLedger } from '../state/ledger.ts';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  labels: Labels;
  /** Name of the controlling StatefulSet, from ownerReferences. */
  owner: string | null;
}

/** A decision the scheduler can act on, or a reason it must retry later. */
export type Planned =
  | { kind: 'ignore' }
  | { kind: 'plan'; plan: PlacementPlan }
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

export interface BindOutcome {
  component: 'pd' | 'tikv' | 'other';
  /** Why the binding was refused, for the scheduler's event; null when the pod was bound. */
  refusal: string | null;
}

export interface PlacementDeps {
  pods: PodStore;
  nodes: NodeStore;
  statefulSets: StatefulSetStore;
  ledger: ReservationLedger;
  topologyKeys: readonly string[];
  binder: BinderPort;
  reservationTtlMs: number;
  isSynced: () => boolean;
  now: () => number;
  logger: Logger;
}

export class PlacementService {
  private readonly deps: PlacementDeps;
  /** Binds of one cluster's component run one after another; other clusters are not held up. */
  private readonly bindChains = new Map<string, Promise<unknown>>();

  constructor(deps: PlacementDeps) {
    this.deps = deps;
  }

  private replicasOf(identity: TidbIdentity, owner: string | null): number | string {
    const what = `${identity.component.toUpperCase()} replica count of cluster ${clusterKey(identity.namespace, identity.cluster)}`;
    if (!owner) {
      return `the pod has no owning StatefulSet, so the desired ${what} is unknown; create ${identity.component.toUpperCase()} pods through a StatefulSet or TidbCluster`;
    }
    const sts = this.deps.statefulSets.get(objectKey(identity.namespace, owner));
    if (!sts) return `the desired ${what} is not known yet: StatefulSet ${identity.namespace}/${owner} is not in tidb-steward's cache; the scheduler will retry`;
    return sts.replicas;
  }

  /** Everything filter and prioritize need, from the caches only. */
  plan(pod: PodRef): Planned {
    const identity = tidbIdentity(pod.namespace, pod.labels);
    if (!identity) return { kind: 'ignore' };
    return this.planFor(identity, pod);
  }

  private planFor(identity: TidbIdentity, pod: Omit<PodRef, 'labels'>, members?: Iterable<PodView>): Planned {
    if (!this.deps.isSynced()) return { kind: 'error', message: "tidb-steward's caches have not synced with the API server yet; the scheduler will retry" };
    const replicas = this.replicasOf(identity, pod.owner);
    if (typeof replicas === 'string') return { kind: 'error', message: `cannot place ${objectKey(pod.namespace, pod.name)}: ${replicas}` };
    const peers = peerNodes(
      {
        members: members ?? this.deps.pods.members(identity.namespace, identity.cluster, identity.component).values(),
        reservations: this.deps.ledger.forMembers(identity.namespace, identity.cluster, identity.component, this.deps.now()),
      },
      pod.uid,
    );
    return { kind: 'plan', plan: planPlacement({ identity, replicas, peerNodes: peers }, this.deps.topologyKeys, this.deps.nodes) };
  }

  filter(plan: PlacementPlan, candidates: readonly string[]): FilterOutcome {
    return filterNodes(plan, candidates, this.deps.nodes);
  }

  score(plan: PlacementPlan, candidates: readonly string[]): Array<{ Host: string; Score: number }> {
    return candidates.map((Host) => ({ Host, Score: scoreNode(plan, Host, this.deps.nodes) }));
  }

  /**
   * The commit point of a placement. Filter may have judged several PD pods of one cluster before any
   * binding was visible; here each bind re-checks the rule against a fresh read of the cluster's pods
   * plus this process's in-flight binds, one bind per cluster component at a time.
   * Returns the refusal for the scheduler (null when bound) and which component the pod is.
   */
  async bind(args: { namespace: string; name: string; uid: string; node: string }): Promise<BindOutcome> {
    const { binder, pods, logger } = this.deps;
    const key = objectKey(args.namespace, args.name);
    let cached = pods.get(key);
    if (!cached || cached.uid !== args.uid) {
      // Not a TiDB pod we know of, or the cache lags behind a just-created pod: ask the API server.
      const live = await binder.getPod(args.namespace, args.name);
      if (!live) return { component: 'other', refusal: `pod ${key} no longer exists` };
      if (live.uid !== args.uid) return { component: 'other', refusal: `pod ${key} was replaced (uid ${live.uid}, scheduler asked for ${args.uid})` };
      cached = live.view ?? undefined;
    }
    if (!cached) {
      await binder.bind(args.namespace, args.name, args.uid, args.node);
      return { component: 'other', refusal: null };
    }
    const pod = cached;
    const chainKey = `${clusterKey(pod.namespace, pod.cluster)}#${pod.component}`;
    const previous = this.bindChains.get(chainKey) ?? Promise.resolve();
    const run = previous.then(() => this.bindMember(pod, args.node));
    const tail = run.catch(() => undefined);
    this.bindChains.set(chainKey, tail);
    void tail.then(() => {
      if (this.bindChains.get(chainKey) === tail) this.bindChains.delete(chainKey);
    });
    const refusal = await run;
    if (refusal) logger.info({ pod: key, node: args.node, reason: refusal }, 'bind refused');
    else logger.info({ pod: key, node: args.node }, 'bound');
    return { component: pod.component, refusal };
  }

  private async bindMember(pod: PodView, node: string): Promise<string | null> {
    const { binder, ledger } = this.deps;
    const fresh = await binder.listMembers(pod.namespace, pod.cluster, pod.component);
    const planned = this.planFor(pod, pod, fresh);
    if (planned.kind === 'error') return planned.message;
    if (planned.kind === 'plan') {
      const verdict = judgeNode(planned.plan, node, this.deps.nodes);
      if (!verdict.fit) return `binding refused: ${verdict.reason}`;
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
    return null;
  }
}
