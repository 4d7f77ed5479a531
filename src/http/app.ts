// buildApp wires routes onto one Fastify instance and does not listen: tests use inject(), main()
// calls listen() with TLS.
import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
import type { TLSSocket } from 'node:tls';
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
  /** The drain checks behind the pods and nodes webhooks; without it those routes are absent (the TidbCluster one stays). */
  drain?: DrainService | undefined;
  admissionBodyLimitBytes?: number;
  /**
   * Client certificates (mTLS) required on the extender and webhook routes, verified against `ca`
   * (PEM); health, readiness and metrics stay open for probes. Needs `tls`.
   */
  clientAuth?: ClientAuth | undefined;
}

export interface ClientAuth {
  ca: string;
  /** When non-empty, the certificate's CN or one of its DNS SANs must be one of these. */
  allowedNames: readonly string[];
}

/** Routes anyone may call: kubelet probes and Prometheus do not present client certificates. */
const OPEN_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** Why this connection may not call a guarded route, or null when its certificate is good. */
export function clientRefusal(socket: TLSSocket, allowedNames: readonly string[]): string | null {
  if (!socket.encrypted) return 'a client certificate is required (TLS with mTLS)';
  if (!socket.authorized) {
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return 'a client certificate is required: the extender and webhooks serve only the scheduler and the API server';
    return `the client certificate is not trusted (${String(socket.authorizationError ?? 'unknown error')}); it must be signed by the configured client CA`;
  }
  if (allowedNames.length === 0) return null;
  const cert = socket.getPeerCertificate();
  const names = [cert.subject?.CN, ...(cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4))].flat().filter((n): n is string => typeof n === 'string');
  if (names.some((n) => allowedNames.includes(n))) return null;
  return `the client certificate (${names.join(', ') || 'no names'}) is not one of the allowed callers`;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Per-request access logs would dominate the extender's cost; decisions are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Go clients (kube-scheduler, kube-apiserver) keep idle connections for 90 s: outlive that.
    keepAliveTimeout: 120_000,
    ...(deps.tls
      ? {
          https: {
            key: deps.tls.key,
            cert: deps.tls.cert,
            // Verified per route (probes have no certificate): the handshake asks, the hook decides.
            ...(deps.clientAuth ? { ca: deps.clientAuth.ca, requestCert: true, rejectUnauthorized: false } : {}),
          },
        }
      : {}),
  }) as unknown as FastifyInstance;

  if (deps.clientAuth) {
    if (!deps.tls) throw new Error('client certificates (mTLS) need a serving certificate');
    const allowed = deps.clientAuth.allowedNames;
    // onRequest runs before the body is read: an unauthenticated caller cannot make us buffer anything.
    app.addHook('onRequest', (request, reply, done) => {
      if (OPEN_ROUTES.has(request.routeOptions.url ?? '')) return done();
      const refusal = clientRefusal(request.raw.socket as TLSSocket, allowed);
      if (refusal === null) return done();
      deps.metrics.unauthenticated?.inc({ route: request.routeOptions.url ?? 'unmatched' });
      request.log.warn({ url: request.url, remote: request.ip, reason: refusal }, 'caller refused');
      reply.code(401).header('connection', 'close').send({ statusCode: 401, error: 'Unauthorized', message: `tidb-steward: ${refusal}`, Error: `tidb-steward: ${refusal}` });
    });
  }

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
    reply.code(404).send({ statusCode: 404, message: `no route ${request.method} ${request.url}; see docs/install.md for the endpoints` });
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
  const counters = new Map<string, { inc(): void }>();
  registerAdmission(app, {
    drain: deps.drain,
    bodyLimitBytes: deps.admissionBodyLimitBytes ?? 2 * 1024 * 1024,
    count: (webhook, outcome) => {
      const key = `${webhook}|${outcome}`;
      let c = counters.get(key);
      if (!c) counters.set(key, (c = deps.metrics.admissions.labels(webhook, outcome)));
      c.inc();
    },
  });
  return app;
}
