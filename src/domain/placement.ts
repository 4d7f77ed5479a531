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
  /**
   * PD only: the member count the controller is scaling to (spec.pd.replicas, from the StatefulSet's
   * tidb-steward.dev/pd-target-replicas annotation). Absent for StatefulSets we did not write.
   */
  targetReplicas?: number | undefined;
}

/**
 * StatefulSet annotation (on the object, not its pod template: a template change would roll every PD
 * pod at each scaling step) where the controller writes the PD member count it is scaling to.
 */
export const ANNOTATION_PD_TARGET_REPLICAS = 'tidb-steward.dev/pd-target-replicas';

/** The target count an annotation value names, or null when absent or not a whole number of at least 1. */
export function parseTargetReplicas(value: unknown): number | null {
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,2}$/.test(value.trim())) return null;
  return Number(value.trim());
}

/** The most members of one component a single failure domain may hold. */
export function maxPerDomain(component: Component, replicas: number, domainsUsed: number): number {
  if (component === 'pd') return Math.max(1, Math.floor((replicas - 1) / 2));
  if (replicas < 3) return Number.POSITIVE_INFINITY;
  if (domainsUsed < 3) return 1;
  return Math.ceil(replicas / 3);
}

/**
 * The interim step of a PD scale-out. The controller adds PD members one at a time, so on the way from
 * 3 to 5 the StatefulSet has 4 replicas, and 4 members allow only 1 per domain (2 of 4 lost is no
 * quorum): over 3 zones the 4th member has nowhere to go, and the scale-out would wait forever for a
 * member the rule itself keeps Pending.
 *
 * So while PD scales out (target > interim count n), a member that the interim limit keeps off every
 * node the scheduler offered may be placed within the limit of n + 1 members — the count reached when
 * the next member joins, never above the target's own limit (the limit grows with the count). It
 * returns n + 1 when that limit is larger than n's (n even, 4 or more), else null: the rule is then
 * the interim one, as it is with no target at all (StatefulSets we did not write, e.g. PingCAP's).
 *
 * What it costs, and why it is allowed: with n + 1 members and at most floor(n/2) per domain, losing
 * any one domain leaves n + 1 - floor(n/2) members, a majority of n + 1, so the layout the scale-out
 * reaches at its next step survives a domain loss. In between, the n members may have floor(n/2) in
 * one domain, and losing it leaves n/2, no majority of n: from the moment this member joins until the
 * next one does, the cluster tolerates no domain loss (before it joined, n - 1 members spread by the
 * interim rule did). The window is one scaling step long (the controller adds the next member as soon
 * as this one serves), the placement never exceeds the target's own limit, PD membership only ever
 * changes one member at a time anyway, and without it the scale-out the user asked for never ends.
 * interimPlacementNote() states the window for an Event and a condition. Only filter looks at the
 * candidates; bind, the commit point, re-checks a chosen node against the interim limit first and
 * then against the step limit (see judgeWithTarget), so it never binds beyond the step limit.
 */
export function stepCount(component: Component, replicas: number, target: number | undefined): number | null {
  if (component !== 'pd' || target === undefined || target <= replicas) return null;
  const next = replicas + 1;
  return maxPerDomain('pd', next, 0) > maxPerDomain('pd', replicas, 0) ? next : null;
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
  /** The member count whose limit this plan applies: request.replicas, or the step count (stepCount). */
  limitCount: number;
  /**
   * PD scale-out only: the plan under the step count's limit, used only when this one fits no node
   * (see stepCount); null when the interim rule is all there is.
   */
  underTarget: PlacementPlan | null;
}

export function planPlacement(request: PlacementRequest, topologyKeys: readonly string[], index: NodeIndex): PlacementPlan {
  const counted = topologyKeys.map((key) => {
    const counts = new Map<string, number>();
    for (const peer of request.peerNodes) {
      // A peer on a node we no longer know (deleted node) is in no domain we could pick.
      const value = index.get(peer)?.labels[key];
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return { key, counts };
  });
  const strict = blockedPlan(request, counted, request.replicas, index);
  const step = stepCount(request.identity.component, request.replicas, request.targetReplicas);
  if (step !== null) strict.underTarget = blockedPlan(request, counted, step, index);
  return strict;
}

function blockedPlan(request: PlacementRequest, counted: Array<{ key: string; counts: Map<string, number> }>, limitCount: number, index: NodeIndex): PlacementPlan {
  const blocked = new Map<NodeView, Level>();
  const levels = counted.map(({ key, counts }): Level => ({ key, counts, max: maxPerDomain(request.identity.component, limitCount, counts.size) }));
  for (const level of levels) {
    for (const node of index.missing(level.key)) if (!blocked.has(node)) blocked.set(node, level);
    for (const [value, count] of level.counts) {
      if (count + 1 <= level.max) continue;
      for (const node of index.inDomain(level.key, value)) if (!blocked.has(node)) blocked.set(node, level);
    }
  }
  return { request, levels, blocked, clusterName: `${request.identity.namespace}/${request.identity.cluster}`, limitCount, underTarget: null };
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
  const stepNote = plan.limitCount !== replicas ? `, the limit for ${plan.limitCount} members while PD scales out to ${plan.request.targetReplicas}` : '';
  return {
    fit: false,
    reason: `${where} already holds ${count} of ${replicas} ${members} of cluster ${plan.clusterName} (at most ${level.max} per ${level.key}${tikvNote}${stepNote})`,
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

/** A filter outcome, and whether it came from the step limit of a PD scale-out (stepCount). */
export interface Placement extends FilterOutcome {
  underTarget: boolean;
}

/**
 * Filter with the interim rule; only when that leaves none of the candidates (the nodes the scheduler
 * found feasible for the pod) and the plan has a step limit, filter again under it. `keep` re-admits
 * refused nodes the caller must allow anyway (the pod's data is there); kept nodes count as fitting.
 * When neither rule fits a node, the reasons are the step rule's (what even the scale-out allows).
 */
export function placeWithTarget(plan: PlacementPlan, candidates: readonly string[], index: NodeIndex, keep?: (node: string) => boolean): Placement {
  const strict = readmit(filterNodes(plan, candidates, index), candidates, keep);
  if (strict.fits.length > 0 || !plan.underTarget) return { ...strict, underTarget: false };
  const relaxed = readmit(filterNodes(plan.underTarget, candidates, index), candidates, keep);
  return { ...relaxed, underTarget: relaxed.fits.length > 0 };
}

function readmit(outcome: FilterOutcome, candidates: readonly string[], keep?: (node: string) => boolean): FilterOutcome {
  if (!keep) return outcome;
  const back = Object.keys(outcome.refused).filter(keep);
  if (back.length === 0) return outcome;
  for (const n of back) delete outcome.refused[n];
  return { fits: candidates.filter((n) => !(n in outcome.refused)), refused: outcome.refused };
}

/** A verdict at bind: `underTarget` when only the step limit of a PD scale-out lets the node in. */
export type TargetFit = { fit: true; underTarget: false } | { fit: true; underTarget: true; interimReason: string } | { fit: false; reason: string };

/** The interim rule, then the step rule (never beyond it): bind's re-check of one chosen node. */
export function judgeWithTarget(plan: PlacementPlan, nodeName: string, index: NodeIndex): TargetFit {
  const strict = judgeNode(plan, nodeName, index);
  if (strict.fit) return { fit: true, underTarget: false };
  if (!plan.underTarget) return strict;
  const relaxed = judgeNode(plan.underTarget, nodeName, index);
  return relaxed.fit ? { fit: true, underTarget: true, interimReason: strict.reason } : relaxed;
}

/** PD members per failure domain at one topology level (label key → value → members placed there). */
export interface DomainCounts {
  key: string;
  members: Readonly<Record<string, number>>;
}

export interface InterimNoteInput {
  /** "ns/name", for the sentence. */
  cluster: string;
  /** PD members placed on known nodes, counted per domain at every topology level of the cluster. */
  levels: readonly DomainCounts[];
  /** Members placed on nodes whose domain is not known (node not in the cache, or without the label). */
  unknown?: number | undefined;
  /** PD members now: the StatefulSet's replicas (the interim count while scaling). */
  interim: number;
  /** PD members asked for: spec.pd.replicas. */
  target: number;
}

export interface InterimNote {
  /** Would PD keep a quorum after losing any one domain, at every level? null when a domain is unknown. */
  tolerates: boolean | null;
  /** For a condition's reason (and an Event's). */
  reason: 'DomainLossTolerated' | 'NoDomainLossTolerated' | 'DomainUnknown';
  /** The sentence for the Event and the condition. */
  message: string;
  /** The domain whose loss leaves the fewest members (the one that breaks quorum when tolerates is false). */
  weakest: { key: string; value: string; members: number } | null;
}

/**
 * Does a cluster's PD, laid out as it is now, survive the loss of one failure domain? The quorum is
 * counted of the interim member count (a member being placed counts as a voter that does not serve
 * yet: the moment it joins is the weakest). While PD scales out (interim < target) a layout that does
 * not survive is the step of stepCount(), and the sentence says how long it lasts.
 */
export function interimPlacementNote(input: InterimNoteInput): InterimNote {
  const { cluster, interim, target } = input;
  const quorum = Math.floor(interim / 2) + 1;
  const scaling = interim < target ? ` while PD scales out to ${target} members` : '';
  if ((input.unknown ?? 0) > 0) {
    return {
      tolerates: null,
      reason: 'DomainUnknown',
      message: `whether PD of cluster ${cluster} survives the loss of a failure domain is not known${scaling}: ${input.unknown} of its ${interim} members run on nodes whose domain tidb-steward does not know (a node not in its cache yet, or without the label); it will tell once it knows`,
      weakest: null,
    };
  }
  let weakest: { key: string; value: string; members: number; left: number } | null = null;
  for (const level of input.levels) {
    const placed = Object.values(level.members).reduce((a, b) => a + b, 0);
    for (const [value, members] of Object.entries(level.members)) {
      const left = placed - members;
      if (!weakest || left < weakest.left || (left === weakest.left && members > weakest.members)) weakest = { key: level.key, value, members, left };
    }
  }
  if (!weakest) {
    return { tolerates: null, reason: 'DomainUnknown', message: `PD of cluster ${cluster} has no member placed in a known failure domain yet${scaling}`, weakest: null };
  }
  const { key, value, members, left } = weakest;
  const where = `${key}=${value} holds ${members} of ${interim} members`;
  if (left >= quorum) {
    return {
      tolerates: true,
      reason: 'DomainLossTolerated',
      message: `PD of cluster ${cluster} survives the loss of any one failure domain${scaling}: the worst, ${where}, and losing it leaves ${left}, at least the ${quorum} a quorum of ${interim} needs`,
      weakest: { key, value, members },
    };
  }
  const why = `${where}, and losing it would leave ${left}, fewer than the ${quorum} a quorum of ${interim} needs`;
  // The step of a scale-out (stepCount): the next member's joining ends the window.
  const step = stepCount('pd', interim, target);
  const message =
    step !== null && members <= maxPerDomain('pd', step, 0)
      ? `PD of cluster ${cluster} tolerates no loss of a failure domain until its next member joins: ${why}. The scale-out to ${target} adds one member at a time; ${interim} members allow only ${maxPerDomain('pd', interim, 0)} per domain, so where no node offered keeps to that, tidb-steward places the member within the limit of ${step} members (${maxPerDomain('pd', step, 0)} per domain), a layout that survives the loss of any one domain once member ${step} joins`
      : `PD of cluster ${cluster} tolerates no loss of a failure domain${scaling}: ${why}; add nodes in other domains (and move a member there) to survive one`;
  return { tolerates: false, reason: 'NoDomainLossTolerated', message, weakest: { key, value, members } };
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
