// buildApp wires routes onto one Fastify instance and does not listen: tests use inject(), main()
// calls listen() with TLS.
import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
import type { Logger } from 'pino';
import type { PlacementService } from '../services/placement.ts';
import type { ServingPair } from '../tls/certs.ts';
import type { Metrics } from './metrics.ts';
import { registerExtender } from './extender.ts';
import { registerAdmission } from './admission.ts';
import type { DrainService } from '../services/drain.ts';

export interface Readiness {
  /** Names of what is not ready yet; empty when ready. */
  pending(): string[];
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  placement: PlacementService;
  readiness: Readiness;
  extenderBodyLimitBytes: number;
  /** Serving certificate; without it the app speaks plain HTTP (inject-based tests). */
  tls?: ServingPair | undefined;
  /** The drain checks behind the admission webhooks; without it the webhook routes are absent. */
  drain?: DrainService | undefined;
  admissionBodyLimitBytes?: number;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request access logs would dominate the extender's cost; decisions are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Go clients (kube-scheduler, kube-apiserver) keep idle connections for 90 s: outlive that.
    keepAliveTimeout: 120_000,
    ...(deps.tls ? { https: { key: deps.tls.key, cert: deps.tls.cert } } : {}),
  }) as unknown as FastifyInstance;

  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    const hint =
      status === 415 ? ' (send Content-Type: application/json)'
      : status === 413 ? ' (raise --extender-body-limit-mb, or use nodeCacheCapable: true so only node names are sent)'
      : '';
    const message = `${error.message}${hint}`;
    if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
    else request.log.warn({ url: request.url, status, reason: message }, 'bad request');
    // The Error field is what kube-scheduler would surface if it ever parsed a failed reply.
    return reply.code(status).send({ statusCode: status, error: error.code ?? 'Error', message, Error: message });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ statusCode: 404, message: `no route ${request.method} ${request.url}; see the README for the endpoints` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const pending = deps.readiness.pending();
    if (pending.length > 0) return reply.code(503).send({ status: 'not ready', waitingFor: pending });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  registerExtender(app, { placement: deps.placement, metrics: deps.metrics, bodyLimitBytes: deps.extenderBodyLimitBytes });
  if (deps.drain) {
    const counters = new Map<string, { inc(): void }>();
    registerAdmission(app, {
      drain: deps.drain,
      bodyLimitBytes: deps.admissionBodyLimitBytes ?? 7 * 1024 * 1024,
      count: (webhook, outcome) => {
        const key = `${webhook}|${outcome}`;
        let c = counters.get(key);
        if (!c) counters.set(key, (c = deps.metrics.admissions.labels(webhook, outcome)));
        c.inc();
      },
    });
  }
  return app;
}
