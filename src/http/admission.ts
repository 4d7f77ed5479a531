// Validating admission webhooks: pod DELETE and pods/eviction CREATE (may this PD/TiKV pod go now?),
// node UPDATE (a cordon starts moving leaders away; never refused) and TidbCluster CREATE/UPDATE (is
// the spec valid, and can a running cluster take the change?). Every reply, even to a body
// that cannot be read, is a well-formed admission.k8s.io/v1 AdmissionReview on HTTP 200 that echoes
// the request uid; "not yet" is status code 429 so that kubectl drain retries.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { skipDrainCheckOf } from '../domain/model.ts';
import { reviewTidbCluster } from '../domain/tidbcluster-admission.ts';
import { GROUP, KIND, PLURAL } from '../cluster/schema.ts';
import type { DrainService, Review } from '../services/drain.ts';
import { describeIssues } from './schemas.ts';

const Meta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
  deletionTimestamp: z.string().nullish(),
});
const AnyObject = z.looseObject({ kind: z.string().optional(), metadata: Meta.optional(), spec: z.looseObject({}).nullish() }).nullish();

export const AdmissionReviewRequest = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('AdmissionReview', 'kind must be AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1, 'request.uid is empty'),
    kind: z.looseObject({ group: z.string().optional(), version: z.string().optional(), kind: z.string() }),
    resource: z.looseObject({ group: z.string().optional(), version: z.string().optional(), resource: z.string() }),
    subResource: z.string().optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    operation: z.string(),
    dryRun: z.boolean().nullish(),
    object: AnyObject,
    oldObject: AnyObject,
  }),
});
type AdmissionRequest = z.infer<typeof AdmissionReviewRequest>['request'];

export interface StatusDetails {
  retryAfterSeconds?: number;
  name?: string;
  group?: string;
  kind?: string;
  causes?: Array<{ type: string; field: string; message: string }>;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string; details?: StatusDetails };
  warnings?: string[];
}

export function reviewReply(apiVersion: string | undefined, response: AdmissionResponse) {
  return { apiVersion: apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

function fromReview(uid: string, review: Review): AdmissionResponse {
  if (review.allowed) return { uid, allowed: true, ...(review.warnings.length ? { warnings: review.warnings } : {}) };
  return {
    uid,
    allowed: false,
    status: {
      code: review.code,
      reason: review.reason,
      message: review.message,
      ...(review.retryAfterSeconds ? { details: { retryAfterSeconds: review.retryAfterSeconds } } : {}),
    },
  };
}

/** The uid of a body we could not fully read, if it has one, so the API server can match the reply. */
function uidOf(body: unknown): string {
  const uid = (body as { request?: { uid?: unknown } } | null)?.request?.uid;
  return typeof uid === 'string' ? uid : '';
}

/** A text/plain body may still be a JSON AdmissionReview: its uid is worth echoing. */
function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { request: { uid: uidFromText(text) } };
  }
}

/**
 * The request uid of a body that is not valid JSON (truncated, bad bytes), when it can be seen: the API
 * server writes it first in `request`. Best effort; '' otherwise.
 */
export function uidFromText(text: string): string {
  const m = /"request"\s*:\s*\{\s*"uid"\s*:\s*"([A-Za-z0-9._:-]{1,128})"/.exec(text.slice(0, 4096));
  return m?.[1] ?? '';
}

export type Webhook = 'pods' | 'nodes' | 'tidbclusters';

export interface AdmissionDeps {
  /** The drain checks behind the pods and nodes webhooks; without it only the TidbCluster route is served. */
  drain?: DrainService | undefined;
  bodyLimitBytes: number;
  /** Which webhook answered what, for the metrics. */
  count(webhook: Webhook, outcome: 'allowed' | 'denied' | 'invalid'): void;
  /** The drain service's clock: a pod removal's budgets count from the request's arrival. Default Date.now. */
  now?: () => number;
}

/** The least body the TidbCluster route accepts, whatever the configured admission limit. */
export const TIDBCLUSTER_BODY_LIMIT = 4 * 1024 * 1024;

/** The webhook a route serves, for the metrics and the reply to a body that cannot be read. */
function webhookOf(url: string): Webhook {
  if (url.endsWith('/nodes')) return 'nodes';
  if (url.endsWith('/tidbclusters')) return 'tidbclusters';
  return 'pods';
}

export function registerAdmission(app: FastifyInstance, deps: AdmissionDeps): void {
  // In a scope of their own: the JSON parser below applies to the webhook routes only.
  void app.register(async (scope) => registerRoutes(scope, deps));
}

const arrivals = new WeakMap<FastifyRequest, number>();

function registerRoutes(app: FastifyInstance, deps: AdmissionDeps): void {
  const now = deps.now ?? Date.now;
  // Stamped before the body is read: a removal's wait budget counts from here.
  app.addHook('onRequest', async (request) => {
    arrivals.set(request, now());
  });
  // Fastify's own JSON parser; "__proto__" and "constructor.prototype" keys are dropped rather than
  // refused, so such a body still gets its own reply with its uid (a fuzz run found a poisoned body
  // whose long uid the text fallback could not recover). A body it cannot parse keeps the uid we can
  // still see in it, so even that reply can be matched by the API server.
  const json = app.getDefaultJsonParser('remove', 'remove') as unknown as (req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => void;
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: deps.bodyLimitBytes }, (req, body, done) => {
    json(req, body as string, (err, value) => {
      if (err) Object.assign(err, { uid: uidFromText(body as string) });
      done(err, value);
    });
  });
  // application/json with parameters (charset) goes through the same parser.
  app.addContentTypeParser(/^application\/json\s*;/, { parseAs: 'string', bodyLimit: deps.bodyLimitBytes }, (req, body, done) => {
    json(req, body as string, (err, value) => {
      if (err) Object.assign(err, { uid: uidFromText(body as string) });
      done(err, value);
    });
  });
  // Any other content type is read too (within the limit) and refused as 415, with the uid if the
  // body shows one.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: deps.bodyLimitBytes }, (req, body, done) => {
    let uid = '';
    try {
      uid = uidOf(JSON.parse(body as string));
    } catch {
      uid = uidFromText(body as string);
    }
    const type = req.headers['content-type'];
    done(Object.assign(new Error(type ? `unsupported Content-Type ${String(type).slice(0, 100)}` : 'no Content-Type'), { statusCode: 415, uid }), undefined);
  });
  // Errors raised before the handler (not JSON, wrong content type, too large) still get an
  // AdmissionReview; a node update is never refused, not even an unreadable one.
  const errorHandler = (error: FastifyError & { uid?: string }, request: FastifyRequest, reply: FastifyReply) => {
    const code = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const webhook = webhookOf(request.url);
    deps.count(webhook, 'invalid');
    request.log.warn({ url: request.url, code, reason: error.message.slice(0, 500) }, 'unreadable admission request');
    const message = `tidb-steward: ${code === 415 ? `${error.message}; send Content-Type: application/json` : error.message}`.slice(0, 1000);
    const uid = typeof error.uid === 'string' ? error.uid : '';
    if (webhook === 'nodes') return reply.code(200).send(reviewReply(undefined, { uid, allowed: true, warnings: [message] }));
    return reply.code(200).send(reviewReply(undefined, { uid, allowed: false, status: { code, reason: code === 500 ? 'InternalError' : 'BadRequest', message } }));
  };
  const opts = { bodyLimit: deps.bodyLimitBytes, errorHandler };

  const parse = (request: FastifyRequest) => {
    const parsed = AdmissionReviewRequest.safeParse(request.body);
    if (parsed.success) return { ok: true as const, review: parsed.data };
    return { ok: false as const, uid: uidOf(typeof request.body === 'string' ? parseOrNull(request.body) : request.body), message: `tidb-steward could not read the AdmissionReview: ${describeIssues(parsed.error)}` };
  };

  // An UPDATE review carries two TidbClusters (object and oldObject), each up to etcd's 1.5 MiB.
  app.post('/admission/tidbclusters', { ...opts, bodyLimit: Math.max(deps.bodyLimitBytes, TIDBCLUSTER_BODY_LIMIT) }, async (request) => {
    const parsed = parse(request);
    if (!parsed.ok) {
      deps.count('tidbclusters', 'invalid');
      request.log.warn({ uid: parsed.uid, reason: parsed.message.slice(0, 500) }, 'unreadable TidbCluster admission request');
      return reviewReply(undefined, { uid: parsed.uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: parsed.message } });
    }
    const { apiVersion, request: req } = parsed.review;
    const name = req.name || req.object?.metadata?.name || '';
    const log = request.log.child({ uid: req.uid, tidbcluster: `${req.namespace ?? ''}/${name}` });
    const ours = req.kind.kind === KIND && req.kind.group === GROUP && req.resource.resource === PLURAL && !req.subResource;
    if (!ours || (req.operation !== 'CREATE' && req.operation !== 'UPDATE')) {
      // A misrouted request (check the webhook's rules): judging something else could block it for nothing.
      deps.count('tidbclusters', 'allowed');
      log.warn({ operation: req.operation, kind: req.kind.kind, resource: req.resource.resource, subResource: req.subResource }, 'unexpected request on the tidbclusters webhook; allowed (check the webhook rules)');
      return reviewReply(apiVersion, { uid: req.uid, allowed: true, warnings: [`tidb-steward does not judge ${req.operation} ${req.resource.resource}${req.subResource ? `/${req.subResource}` : ''} (${req.kind.kind})`] });
    }
    const verdict = reviewTidbCluster({ operation: req.operation, namespace: req.namespace ?? '', name, spec: req.object?.spec, oldSpec: req.oldObject?.spec, storedRefused: refusedByReconciler(req.oldObject) });
    const warnings = verdict.warnings.length ? { warnings: verdict.warnings } : {};
    if (verdict.allowed) {
      deps.count('tidbclusters', 'allowed');
      return reviewReply(apiVersion, { uid: req.uid, allowed: true, ...warnings });
    }
    deps.count('tidbclusters', 'denied');
    log.info({ operation: req.operation, reason: verdict.reason }, 'TidbCluster refused');
    // 422 Invalid with one cause per field, as the API server's own validation answers: kubectl then
    // prints 'The TidbCluster "x" is invalid:' and one line per field path.
    return reviewReply(apiVersion, {
      uid: req.uid,
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message: `tidb-steward: ${verdict.reason}`,
        details: { name, group: GROUP, kind: KIND, causes: verdict.violations.map((v) => ({ type: v.type, field: v.path, message: v.message })) },
      },
      ...warnings,
    });
  });

  const drain = deps.drain;
  if (!drain) return;

  app.post('/admission/pods', opts, async (request, reply) => {
    const parsed = parse(request);
    if (!parsed.ok) {
      deps.count('pods', 'invalid');
      return reviewReply(undefined, { uid: parsed.uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: parsed.message } });
    }
    const { apiVersion, request: req } = parsed.review;
    // Built only when there is something to log: the fast path answers thousands of calls a second.
    const log = () => request.log.child({ uid: req.uid, pod: `${req.namespace ?? ''}/${req.name || req.oldObject?.metadata?.name || ''}` });
    const removal = classify(req);
    if (!removal) {
      deps.count('pods', 'allowed');
      log().warn({ operation: req.operation, resource: req.resource.resource, subResource: req.subResource }, 'unexpected request on the pods webhook; allowed (check the webhook rules)');
      return reviewReply(apiVersion, { uid: req.uid, allowed: true, warnings: [`tidb-steward does not judge ${req.operation} ${req.resource.resource}${req.subResource ? `/${req.subResource}` : ''}`] });
    }
    // A call held for a hand-over stops waiting when the API server gives up on it.
    const gone = new AbortController();
    const onClose = () => reply.raw.writableEnded || gone.abort();
    reply.raw.once('close', onClose);
    let review: Review;
    try {
      review = await drain.reviewRemoval({ ...removal, arrivedAt: arrivals.get(request) ?? now(), signal: gone.signal });
    } finally {
      reply.raw.off('close', onClose);
    }
    deps.count('pods', review.allowed ? 'allowed' : 'denied');
    if (!review.allowed) log().info({ reason: review.message }, 'not yet');
    return reviewReply(apiVersion, fromReview(req.uid, review));
  });

  app.post('/admission/nodes', opts, async (request) => {
    const parsed = parse(request);
    if (!parsed.ok) {
      // Never refuse a node update, even one we cannot read.
      deps.count('nodes', 'invalid');
      return reviewReply(undefined, { uid: parsed.uid, allowed: true, warnings: [parsed.message] });
    }
    const { apiVersion, request: req } = parsed.review;
    deps.count('nodes', 'allowed');
    if (req.resource.resource === 'nodes' && req.operation === 'UPDATE' && !req.dryRun) {
      const now = Boolean(req.object?.spec?.unschedulable);
      const before = Boolean(req.oldObject?.spec?.unschedulable);
      const node = req.name ?? req.object?.metadata?.name ?? '';
      if (now !== before) {
        request.log.info({ uid: req.uid, node }, now ? 'node cordoned: moving PD and TiKV leaders away' : 'node uncordoned: ending leader evictions');
        void drain.nodeDrainChanged(node, now).catch((err: Error) => request.log.error({ node, err: err.message }, now ? 'preparing the drain failed' : 'ending leader evictions failed'));
      }
    }
    return reviewReply(apiVersion, { uid: req.uid, allowed: true });
  });
}

/** Ready=False InvalidSpec on the stored TidbCluster: the reconciler refuses its spec. */
function refusedByReconciler(obj: unknown): boolean {
  const conditions = (obj as { status?: { conditions?: unknown } } | null | undefined)?.status?.conditions;
  if (!Array.isArray(conditions)) return false;
  return conditions.some((c: { type?: unknown; status?: unknown; reason?: unknown } | null) => c?.type === 'Ready' && c.status === 'False' && c.reason === 'InvalidSpec');
}

/**
 * DELETE of a pod (alone or as one pod of a DeleteCollection) or CREATE of its eviction, as a removal
 * request; null for anything else. A DeleteCollection sends one review per pod with an empty `name`:
 * the pod's name is in oldObject.
 */
function classify(req: AdmissionRequest) {
  if (req.resource.resource !== 'pods' || !req.namespace) return null;
  const dryRun = Boolean(req.dryRun);
  if (req.operation === 'DELETE' && !req.subResource) {
    const meta = req.oldObject?.metadata;
    const skip = skipDrainCheckOf(meta?.annotations);
    const name = req.name || meta?.name;
    if (!name) return null;
    return {
      namespace: req.namespace,
      name,
      dryRun,
      via: req.name ? ('delete' as const) : ('deletecollection' as const),
      fromRequest: meta
        ? { labels: meta.labels ?? null, deleting: Boolean(meta.deletionTimestamp), skipDrainCheck: skip !== null, ...(skip === 'legacy' ? { skipDrainCheckLegacy: true } : {}), uid: meta.uid ?? '' }
        : undefined,
    };
  }
  if (req.operation === 'CREATE' && req.subResource === 'eviction' && req.name) {
    // kubectl drain --dry-run=server puts the dry run inside the Eviction's deleteOptions.
    const inEviction = (req.object as { deleteOptions?: { dryRun?: unknown } } | null | undefined)?.deleteOptions?.dryRun;
    const evictionDryRun = Array.isArray(inEviction) && inEviction.includes('All');
    return { namespace: req.namespace, name: req.name, dryRun: dryRun || evictionDryRun, via: 'eviction' as const };
  }
  return null;
}
