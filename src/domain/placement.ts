// The placement rule, as pure functions. A PD Raft group survives the loss of one failure domain only
// if that domain holds at most floor((n-1)/2) of its n members; TiKV follows PingCAP's spreading rule.
import type { Component, NodeView, TidbIdentity } from './model.ts';

export const HOSTNAME_KEY = 'kubernetes.io/hostname';

/** Where the controller writes spec.pd.topologyKeys on the PD pods (comma-separated label keys). */
export const ANNOTATION_TOPOLOGY_KEYS = 'tidb-steward.dev/topology-keys';

// A Kubernetes label key: an optional DNS-subdomain prefix and "/", then a name of up to 63 characters.
export const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Is this a well-formed node label key? (The prefix, before "/", is at most 253 characters.) */
export function isLabelKey(key: string): boolean {
  return LABEL_KEY.test(key) && key.indexOf('/') <= 253;
}

/**
 * The failure-domain keys an annotation value names, in order, without repeats; null when it names none.
 * A malformed key makes the whole value unusable (null): spreading over fewer keys than the user asked
 * for would be weaker than they think, so the configured keys apply instead.
 */
export function parseTopologyKeys(value: string | undefined | null): string[] | null {
  if (typeof value !== 'string') return null;
  const keys = [...new Set(value.split(',').map((k) => k.trim()).filter((k) => k !== ''))];
  if (keys.length === 0 || !keys.every(isLabelKey)) return null;
  return keys;
}

/**
 * The keys a PD member is spread over: its cluster's own (spec.pd.topologyKeys, carried by the pod)
 * instead of the configured ones when it has any. TiKV follows the configured keys.
 */
export function topologyKeysFor(component: Component, own: readonly string[] | undefined, configured: readonly string[]): { keys: readonly string[]; source: 'cluster' | 'configured' } {
  if (component === 'pd' && own && own.length > 0) return { keys: own, source: 'cluster' };
  return { keys: configured, source: 'configured' };
}

/** Read access to the node cache, with an index by failure domain so that a plan can find the few
 * nodes it must refuse without looking at every candidate's labels. */
export interface NodeIndex {
  get(name: string): NodeView | undefined;
  /** Nodes whose label `key` has `value`. */
  inDomain(key: string, value: string): Iterable<NodeView>;
  /** Nodes that lack label `key`. */
  missing(key: string): Iterable<NodeView>;
}

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

/**
 * Member counts per domain at every topology level, and the nodes the rule refuses, computed once per
 * request. Refused nodes are few (those in full domains or without a label), so judging a candidate
 * is one lookup by name and one by identity, whatever the number of candidates.
 */
export interface PlacementPlan {
  request: PlacementRequest;
  levels: Level[];
  /** Known nodes that must be refused, with the first level that refuses them. */
  blocked: Map<NodeView, Level>;
  /** "ns/cluster", for the reasons. */
  clusterName: string;
}

export function planPlacement(request: PlacementRequest, topologyKeys: readonly string[], index: NodeIndex): PlacementPlan {
  const blocked = new Map<NodeView, Level>();
  const levels = topologyKeys.map((key): Level => {
    const counts = new Map<string, number>();
    for (const peer of request.peerNodes) {
      // A peer on a node we no longer know (deleted node) is in no domain we could pick.
      const value = index.get(peer)?.labels[key];
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return { key, counts, max: maxPerDomain(request.identity.component, request.replicas, counts.size) };
  });
  for (const level of levels) {
    for (const node of index.missing(level.key)) if (!blocked.has(node)) blocked.set(node, level);
    for (const [value, count] of level.counts) {
      if (count + 1 <= level.max) continue;
      for (const node of index.inDomain(level.key, value)) if (!blocked.has(node)) blocked.set(node, level);
    }
  }
  return { request, levels, blocked, clusterName: `${request.identity.namespace}/${request.identity.cluster}` };
}

export type NodeFit = { fit: true } | { fit: false; reason: string };

const FIT: NodeFit = { fit: true };

function noun(component: Component): string {
  return component === 'pd' ? 'PD members' : 'TiKV stores';
}

/** Does placing the pod on this node keep every level of its domains within the limit? */
export function judgeNode(plan: PlacementPlan, nodeName: string, index: NodeIndex): NodeFit {
  const node = index.get(nodeName);
  if (!node) return refuseUnknown(plan, nodeName);
  const level = plan.blocked.get(node);
  return level ? refuse(plan, level, nodeName, node.labels[level.key]) : FIT;
}

function refuseUnknown(plan: PlacementPlan, nodeName: string): NodeFit {
  const what = plan.request.identity.component.toUpperCase();
  return { fit: false, reason: `node ${nodeName} is not in tidb-steward's node cache yet; it cannot be checked for ${what} placement of cluster ${plan.clusterName}` };
}

/** The sentence a person reads in `kubectl describe pod`; built only for refused nodes. */
function refuse(plan: PlacementPlan, level: Level, nodeName: string, value: string | undefined): NodeFit {
  const { identity, replicas } = plan.request;
  const members = noun(identity.component);
  if (value === undefined) {
    return { fit: false, reason: `node ${nodeName} has no label ${level.key}, a failure-domain key for ${members} of cluster ${plan.clusterName}` };
  }
  const count = level.counts.get(value) ?? 0;
  const where = level.key === HOSTNAME_KEY ? `node ${nodeName}` : `${level.key}=${value} (node ${nodeName})`;
  const tikvNote = identity.component === 'tikv' && level.max === 1 ? ' while fewer than 3 domains are used' : '';
  return {
    fit: false,
    reason: `${where} already holds ${count} of ${replicas} ${members} of cluster ${plan.clusterName} (at most ${level.max} per ${level.key}${tikvNote})`,
  };
}

export interface FilterOutcome {
  fits: string[];
  /** Node name → why not. Preempting other pods cannot change a domain count, so these are unresolvable. */
  refused: Record<string, string>;
}

/** Up to this many refused nodes are found with indexOf scans instead of a lookup per candidate. */
const SCAN_LIMIT = 16;

/**
 * Judges every candidate against the plan. Candidates the node cache does not know yet pass here and
 * are refused at bind (judgeNode), which is the commit point: hashing thousands of candidate names on
 * the scheduler's serial path would cost more than parsing them.
 */
export function filterNodes(plan: PlacementPlan, candidates: readonly string[], index: NodeIndex): FilterOutcome {
  const refusedAt: number[] = [];
  // Both paths find the same nodes (a test holds them to it); the limit only picks the faster one,
  // so mutating this condition cannot change an answer.
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, speed only
  if (plan.blocked.size <= SCAN_LIMIT) {
    for (const node of plan.blocked.keys()) {
      const at = candidates.indexOf(node.name);
      if (at >= 0) refusedAt.push(at);
    }
    refusedAt.sort((a, b) => a - b);
  } else {
    // Stryker disable next-line EqualityOperator: equivalent, candidates[length] is undefined and known to no index
    for (let i = 0; i < candidates.length; i++) {
      const node = index.get(candidates[i]!);
      // Stryker disable next-line ConditionalExpression: equivalent, blocked never holds undefined (the check is for the type)
      if (node !== undefined && plan.blocked.has(node)) refusedAt.push(i);
    }
  }
  const refused: Record<string, string> = {};
  // Stryker disable next-line ConditionalExpression: equivalent, the general path below builds the same copy
  if (refusedAt.length === 0) return { fits: candidates.slice(), refused };
  const fits: string[] = [];
  let from = 0;
  for (const at of refusedAt) {
    for (let i = from; i < at; i++) fits.push(candidates[i]!);
    from = at + 1;
    const name = candidates[at]!;
    const verdict = judgeNode(plan, name, index);
    // Stryker disable next-line ConditionalExpression: equivalent, a blocked node never fits (the check narrows the type)
    if (!verdict.fit) refused[name] = verdict.reason;
  }
  for (let i = from; i < candidates.length; i++) fits.push(candidates[i]!);
  return { fits, refused };
}

export const MAX_SCORE = 10;

/**
 * Higher for nodes whose domains hold fewer members, so that among the nodes that fit the scheduler
 * spreads further than the hard limit requires. 0 for nodes we cannot judge.
 */
export function scoreNode(plan: PlacementPlan, nodeName: string, index: NodeIndex): number {
  const node = index.get(nodeName);
  if (!node || plan.levels.length === 0) return 0;
  let sum = 0;
  for (const level of plan.levels) {
    const value = node.labels[level.key];
    if (value === undefined) return 0;
    sum += 1 / (1 + (level.counts.get(value) ?? 0));
  }
  return Math.round((MAX_SCORE * sum) / plan.levels.length);
}
