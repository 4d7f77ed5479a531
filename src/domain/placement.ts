// The placement rule, as pure functions. A PD Raft group survives the loss of one failure domain only
// if that domain holds at most floor((n-1)/2) of its n members; TiKV follows PingCAP's spreading rule.
import type { Component, NodeView, TidbIdentity } from './model.ts';

export const HOSTNAME_KEY = 'kubernetes.io/hostname';

export type NodeLookup = (name: string) => NodeView | undefined;

export interface PlacementRequest {
  identity: TidbIdentity;
  /** Desired replica count of the component (owning StatefulSet), not the number of pods seen. */
  replicas: number;
  /** Nodes of the component's other members that are bound, or reserved by a bind in flight. */
  peerNodes: readonly string[];
}

/** The most members of one component a single failure domain may hold. */
export function maxPerDomain(component: Component, replicas: number, domainsUsed: number): number {
  if (component === 'pd') return Math.max(1, Math.floor((replicas - 1) / 2));
  if (replicas < 3) return Number.POSITIVE_INFINITY;
  if (domainsUsed < 3) return 1;
  return Math.ceil(replicas / 3);
}

interface Level {
  key: string;
  counts: Map<string, number>;
  max: number;
}

/** Member counts per domain at every topology level, computed once per request. */
export interface PlacementPlan {
  request: PlacementRequest;
  levels: Level[];
}

export function planPlacement(request: PlacementRequest, topologyKeys: readonly string[], nodeOf: NodeLookup): PlacementPlan {
  const levels = topologyKeys.map((key): Level => {
    const counts = new Map<string, number>();
    for (const peer of request.peerNodes) {
      // A peer on a node we no longer know (deleted node) is in no domain we could pick.
      const value = nodeOf(peer)?.labels[key];
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return { key, counts, max: maxPerDomain(request.identity.component, request.replicas, counts.size) };
  });
  return { request, levels };
}

export type NodeFit = { fit: true } | { fit: false; reason: string };

const FIT: NodeFit = { fit: true };

function noun(component: Component): string {
  return component === 'pd' ? 'PD members' : 'TiKV stores';
}

/** Does placing the pod on this node keep every level of its domains within the limit? */
export function judgeNode(plan: PlacementPlan, nodeName: string, nodeOf: NodeLookup): NodeFit {
  const node = nodeOf(nodeName);
  const { identity, replicas } = plan.request;
  const cluster = `${identity.namespace}/${identity.cluster}`;
  if (!node) {
    return { fit: false, reason: `node ${nodeName} is not in tidb-steward's node cache yet; it cannot be checked for ${identity.component.toUpperCase()} placement of cluster ${cluster}` };
  }
  for (const level of plan.levels) {
    const value = node.labels[level.key];
    if (value === undefined) {
      return { fit: false, reason: `node ${nodeName} has no label ${level.key}, a failure-domain key for ${noun(identity.component)} of cluster ${cluster}` };
    }
    const count = level.counts.get(value) ?? 0;
    if (count + 1 > level.max) {
      const where = level.key === HOSTNAME_KEY ? `node ${nodeName}` : `${level.key}=${value} (node ${nodeName})`;
      const tikvNote = identity.component === 'tikv' && level.max === 1 ? ' while fewer than 3 domains are used' : '';
      return {
        fit: false,
        reason: `${where} already holds ${count} of ${replicas} ${noun(identity.component)} of cluster ${cluster} (at most ${level.max} per ${level.key}${tikvNote})`,
      };
    }
  }
  return FIT;
}

export interface FilterOutcome {
  fits: string[];
  /** Node name → why not. Preempting other pods cannot change a domain count, so these are unresolvable. */
  refused: Record<string, string>;
}

export function filterNodes(plan: PlacementPlan, candidates: readonly string[], nodeOf: NodeLookup): FilterOutcome {
  const fits: string[] = [];
  const refused: Record<string, string> = {};
  for (const name of candidates) {
    const verdict = judgeNode(plan, name, nodeOf);
    if (verdict.fit) fits.push(name);
    else refused[name] = verdict.reason;
  }
  return { fits, refused };
}

export const MAX_SCORE = 10;

/**
 * Higher for nodes whose domains hold fewer members, so that among the nodes that fit the scheduler
 * spreads further than the hard limit requires. 0 for nodes we cannot judge.
 */
export function scoreNode(plan: PlacementPlan, nodeName: string, nodeOf: NodeLookup): number {
  const node = nodeOf(nodeName);
  if (!node || plan.levels.length === 0) return 0;
  let sum = 0;
  for (const level of plan.levels) {
    const value = node.labels[level.key];
    if (value === undefined) return 0;
    sum += 1 / (1 + (level.counts.get(value) ?? 0));
  }
  return Math.round((MAX_SCORE * sum) / plan.levels.length);
}
