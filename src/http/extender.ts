// The scheduler extender verbs. Filter and prioritize read caches only; bind is the commit point.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PlacementService, PodRef } from '../services/placement.ts';
import { claimsOf, statefulSetOwner } from '../k8s/binder.ts';
import { ANNOTATION_TOPOLOGY_KEYS, parseTopologyKeys } from '../domain/placement.ts';
import type { Metrics } from './metrics.ts';
import { ExtenderArgs, ExtenderBindingArgs, describeIssues } from './schemas.ts';

export interface ExtenderRouteDeps {
  placement: PlacementService;
  metrics: Metrics;
  bodyLimitBytes: number;
}

interface FilterResult {
  Nodes: unknown;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;

function errorResult(message: string): FilterResult {
  return { Nodes: null, NodeNames: null, FailedNodes: NONE, FailedAndUnresolvableNodes: NONE, Error: message };
}

function podRef(args: ExtenderArgs): PodRef {
  const meta = args.Pod.metadata;
  const owner = statefulSetOwner(meta.ownerReferences);
  // Read without a schema: annotations pass through the loose envelope untouched.
  const annotations = (meta as { annotations?: unknown }).annotations;
  const keys = annotations && typeof annotations === 'object' ? parseTopologyKeys((annotations as Record<string, unknown>)[ANNOTATION_TOPOLOGY_KEYS] as string | undefined) : null;
  return { namespace: meta.namespace, name: meta.name, uid: meta.uid, labels: meta.labels, owner: owner?.name ?? null, ownerAdvanced: owner?.advanced ?? false, claims: claimsOf(args.Pod), ...(keys ? { topologyKeys: keys } : {}) };
}

/** Candidate names, and how to hand the survivors back in the mode the scheduler asked in. */
function candidatesOf(args: ExtenderArgs) {
  if (args.NodeNames) {
    const names = args.NodeNames;
    return { names, answer: (fits: string[]) => ({ Nodes: null, NodeNames: fits }) };
  }
  const items = args.Nodes?.items ?? [];
  const names = items.map((n) => n.metadata.name);
  // Full-object mode: the scheduler takes the returned objects as its node list, so echo them whole.
  return {
    names,
    answer: (fits: string[]) => {
      if (fits.length === names.length) return { Nodes: args.Nodes, NodeNames: null };
      const keep = new Set(fits);
      return { Nodes: { items: items.filter((n) => keep.has(n.metadata.name)) }, NodeNames: null };
    },
  };
}

/**
 * Full-Node mode echoes the caller's objects: one nested deeper than JSON.stringify can go would fail
 * after the handler, as a 500. Serialise here and answer in the Error field instead.
 */
function echoNodes(reply: FastifyReply, result: FilterResult): FilterResult | string {
  let text: string;
  try {
    text = JSON.stringify(result);
  } catch (err) {
    return errorResult(`tidb-steward could not echo the Nodes it was sent: ${(err as Error).message}`);
  }
  reply.header('content-type', 'application/json; charset=utf-8');
  return text;
}

export function registerExtender(app: FastifyInstance, deps: ExtenderRouteDeps): void {
  const { placement, metrics } = deps;
  const limit = { bodyLimit: deps.bodyLimitBytes };

  app.post('/scheduler/filter', limit, async (request, reply) => {
    const parsed = ExtenderArgs.safeParse(request.body);
    if (!parsed.success) {
      metrics.filterDecisions.inc({ component: 'other', outcome: 'error' });
      return errorResult(`tidb-steward could not read ExtenderArgs: ${describeIssues(parsed.error)}`);
    }
    const args = parsed.data;
    if (!args.NodeNames && !args.Nodes) {
      metrics.filterDecisions.inc({ component: 'other', outcome: 'error' });
      return errorResult('tidb-steward could not read ExtenderArgs: neither NodeNames nor Nodes is set');
    }
    const { names, answer } = candidatesOf(args);
    const pod = podRef(args);
    const planned = placement.plan(pod);
    if (planned.kind === 'ignore') {
      metrics.filterDecisions.inc({ component: 'other', outcome: 'passthrough' });
      const result = { ...answer(names), FailedNodes: NONE, FailedAndUnresolvableNodes: NONE, Error: '' };
      return args.NodeNames ? result : echoNodes(reply, result);
    }
    if (planned.kind === 'error') {
      metrics.filterDecisions.inc({ component: 'unknown', outcome: 'error' });
      request.log.warn({ pod: `${pod.namespace}/${pod.name}`, reason: planned.message }, 'filter cannot decide');
      return errorResult(planned.message);
    }
    const component = planned.plan.request.identity.component;
    const outcome = placement.filter(planned.plan, names, planned.pin);
    const refused = names.length - outcome.fits.length;
    metrics.filterDecisions.inc({
      component,
      outcome: refused === 0 ? 'all_fit' : outcome.fits.length === 0 ? 'none_fit' : 'some_refused',
    });
    if (refused > 0) {
      metrics.nodesRefused.inc({ component }, refused);
      request.log.info(
        { pod: `${pod.namespace}/${pod.name}`, fits: outcome.fits.length, refused, example: Object.values(outcome.refused)[0] },
        'filter refused nodes',
      );
    }
    const result = { ...answer(outcome.fits), FailedNodes: NONE, FailedAndUnresolvableNodes: outcome.refused, Error: '' };
    return args.NodeNames ? result : echoNodes(reply, result);
  });

  app.post('/scheduler/prioritize', limit, async (request, reply) => {
    const parsed = ExtenderArgs.safeParse(request.body);
    if (!parsed.success) {
      // HostPriorityList has no error field; the scheduler ignores prioritize failures anyway.
      return reply.code(400).send({ error: `tidb-steward could not read ExtenderArgs: ${describeIssues(parsed.error)}` });
    }
    const { names } = candidatesOf(parsed.data);
    const planned = placement.plan(podRef(parsed.data));
    if (planned.kind !== 'plan') return [];
    return placement.score(planned.plan, names);
  });

  app.post('/scheduler/bind', limit, async (request) => {
    const parsed = ExtenderBindingArgs.safeParse(request.body);
    if (!parsed.success) {
      metrics.binds.inc({ component: 'other', outcome: 'error' });
      return { Error: `tidb-steward could not read ExtenderBindingArgs: ${describeIssues(parsed.error)}` };
    }
    const a = parsed.data;
    const pod = `${a.PodNamespace}/${a.PodName}`;
    try {
      const { component, refusal } = await placement.bind({ namespace: a.PodNamespace, name: a.PodName, uid: a.PodUID, node: a.Node });
      metrics.binds.inc({ component, outcome: refusal ? 'refused' : 'bound' });
      return { Error: refusal ?? '' };
    } catch (err) {
      metrics.binds.inc({ component: 'unknown', outcome: 'error' });
      request.log.error({ pod, node: a.Node, err }, 'bind failed');
      return { Error: `binding ${pod} to ${a.Node} failed: ${(err as Error).message}` };
    }
  });
}
