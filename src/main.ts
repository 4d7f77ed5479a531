// Composition root: configuration → logger → certificates → caches → services → HTTPS server.
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { TIDB_SELECTOR } from './domain/model.ts';
import { buildApp } from './http/app.ts';
import { createMetrics } from './http/metrics.ts';
import { kubeBinder } from './k8s/binder.ts';
import { makeClients, nodeSource, podSource, statefulSetSource } from './k8s/client.ts';
import { Reflector } from './k8s/reflector.ts';
import { nodeViewFor, podView, statefulSetView } from './k8s/views.ts';
import { PlacementService } from './services/placement.ts';
import { DrainService } from './services/drain.ts';
import { PdClient, pdEndpointsFor } from './pd/client.ts';
import { kubeEvictionRecords } from './k8s/evictions.ts';
import { kubeEvents } from './k8s/events.ts';
import { injectCaBundle } from './k8s/webhooks.ts';
import { readFile } from 'node:fs/promises';
import { ReservationLedger } from './state/ledger.ts';
import { NodeStore, PodStore, StatefulSetStore } from './state/stores.ts';
import type { Server as TlsServer } from 'node:tls';
import { generateCertificates, readPair, reloadOnChange, validatePair, type ServingPair } from './tls/certs.ts';

let config: Config;
try {
  config = loadConfig(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`tidb-steward: ${err.message}\n`);
  process.exit(2);
}

const logger = pino({ level: config.logLevel, base: { service: 'tidb-steward' } });
const metrics = createMetrics();

/** The CA that signs our serving certificate, when we know it (for the webhook caBundle). */
let caPem: string | undefined;

async function servingCertificate(): Promise<ServingPair> {
  if (config.tlsCertFile && config.tlsKeyFile) {
    const files = { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile };
    const pair = await readPair(files).catch((err: Error) => {
      throw new Error(`cannot read the serving certificate (${config.tlsCertFile}, ${config.tlsKeyFile}): ${err.message}`);
    });
    const cert = validatePair(pair, new Date());
    logger.info({ certFile: config.tlsCertFile, subjectAltName: cert.subjectAltName, validTo: cert.validTo }, 'serving certificate loaded');
    if (config.tlsCaFile) caPem = await readFile(config.tlsCaFile, 'utf8');
    return pair;
  }
  const generated = await generateCertificates({ dnsNames: config.tlsDnsNames, ipAddresses: config.tlsIpAddresses });
  logger.warn(
    { caData: Buffer.from(generated.caCert).toString('base64'), sans: [...config.tlsDnsNames, ...config.tlsIpAddresses] },
    'no certificate files given: generated a CA and a serving certificate for this process only; put caData into the scheduler tlsConfig.caData and the webhook caBundle, or mount a Secret with --tls-cert-file/--tls-key-file',
  );
  caPem = generated.caCert;
  return { cert: generated.cert, key: generated.key };
}

let tls: ServingPair;
try {
  tls = await servingCertificate();
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exit(1);
}

let clients;
try {
  clients = makeClients(config.kubeconfig, process.env);
} catch (err) {
  logger.fatal({ err }, `cannot reach Kubernetes: ${(err as Error).message}`);
  process.exit(1);
}

const pods = new PodStore();
const nodes = new NodeStore(config.topologyKeys);
const statefulSets = new StatefulSetStore();
const ledger = new ReservationLedger();
// Once the cache shows a pod bound, its reservation has done its job.
pods.onChange = (pod) => {
  if (pod.nodeName) ledger.settle(pod.uid);
};
metrics.watchCaches(() => ({ pods: pods.size, nodes: nodes.size, statefulsets: statefulSets.size, reservations: ledger.size }));

const reflectorDefaults = {
  logger,
  relistIntervalMs: config.relistIntervalSeconds * 1000,
  staleAfterMs: config.staleAfterSeconds * 1000,
};
const reflectors = [
  new Reflector({ ...reflectorDefaults, name: 'pods', source: podSource(clients, TIDB_SELECTOR), transform: podView, store: pods, onRestart: (reason) => metrics.reflectorRestarts.inc({ reflector: 'pods', reason }) }),
  new Reflector({ ...reflectorDefaults, name: 'nodes', source: nodeSource(clients), transform: nodeViewFor(config.topologyKeys), store: nodes, onRestart: (reason) => metrics.reflectorRestarts.inc({ reflector: 'nodes', reason }) }),
  new Reflector({ ...reflectorDefaults, name: 'statefulsets', source: statefulSetSource(clients, TIDB_SELECTOR), transform: statefulSetView, store: statefulSets, onRestart: (reason) => metrics.reflectorRestarts.inc({ reflector: 'statefulsets', reason }) }),
];
const names = ['pods', 'nodes', 'statefulsets'];
const isSynced = () => reflectors.every((r) => r.hasSynced());

const placement = new PlacementService({
  pods,
  nodes,
  statefulSets,
  ledger,
  topologyKeys: config.topologyKeys,
  binder: kubeBinder(clients),
  reservationTtlMs: config.reservationTtlSeconds * 1000,
  isSynced,
  now: Date.now,
  logger,
});

const pdClients = new Map<string, PdClient>();
const drain = new DrainService({
  pods,
  nodes,
  pdFor(namespace, cluster) {
    const key = `${namespace}/${cluster}`;
    let client = pdClients.get(key);
    if (!client) {
      client = new PdClient({ endpoints: pdEndpointsFor(namespace, cluster, config.pdEndpoints), timeoutMs: config.pdTimeoutMs });
      pdClients.set(key, client);
    }
    return client;
  },
  records: kubeEvictionRecords(clients),
  events: kubeEvents(clients, logger),
  metrics: {
    decision: (component, outcome) => metrics.drainDecisions.inc({ component, outcome }),
    waited: (component, seconds) => metrics.drainWaitSeconds.observe({ component }, seconds),
  },
  logger,
  now: Date.now,
  evictTimeoutMs: config.evictLeaderTimeoutSeconds * 1000,
  abandonAfterMs: config.evictLeaderAbandonSeconds * 1000,
});

const app = buildApp({
  logger,
  metrics,
  placement,
  readiness: { pending: () => reflectors.flatMap((r, i) => (r.hasSynced() ? [] : [`${names[i]} cache`])) },
  extenderBodyLimitBytes: config.extenderBodyLimitMb * 1024 * 1024,
  admissionBodyLimitBytes: config.admissionBodyLimitMb * 1024 * 1024,
  drain,
  tls,
});

// Level-triggered cleanup of leader evictions, from what PD and the cluster say (not from memory).
let reconciling = false;
const reconcileTimer = setInterval(() => {
  if (reconciling || !isSynced()) return;
  reconciling = true;
  drain
    .reconcileEvictions()
    .catch((err: Error) => logger.warn({ err: err.message }, 'leader eviction cleanup failed; will retry'))
    .finally(() => (reconciling = false));
}, config.reconcileIntervalSeconds * 1000);
reconcileTimer.unref();

if (config.webhookConfigName) {
  if (!caPem) logger.warn({ webhookConfiguration: config.webhookConfigName }, 'no CA known (set --tls-ca-file): the webhook caBundle is left as it is');
  else {
    const name = config.webhookConfigName;
    const ca = caPem;
    injectCaBundle(clients, name, ca, logger).catch((err: Error) =>
      logger.error({ err: err.message, webhookConfiguration: name }, 'could not set the webhook caBundle; the API server may not trust this server'),
    );
  }
}

for (const r of reflectors) r.start();

let stopWatchingCerts = () => {};
if (config.tlsCertFile && config.tlsKeyFile) {
  stopWatchingCerts = reloadOnChange(app.server as unknown as TlsServer, { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }, tls, {
    onReload() {
      metrics.certReloads.inc({ result: 'ok' });
      logger.info({ certFile: config.tlsCertFile }, 'serving certificate reloaded');
    },
    onError(err) {
      metrics.certReloads.inc({ result: 'error' });
      logger.error({ err, certFile: config.tlsCertFile }, `new serving certificate not used: ${err.message}; still serving the previous one`);
    },
  });
}

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an unexpected error');
  else logger.info({ signal }, 'shutting down');
  stopWatchingCerts();
  clearInterval(reconcileTimer);
  await app.close();
  await Promise.all(reflectors.map((r) => r.stop()));
});

try {
  await app.listen({ host: config.listenHost, port: config.port });
  logger.info({ host: config.listenHost, port: config.port, topologyKeys: config.topologyKeys }, 'tidb-steward listening');
} catch (err) {
  logger.fatal({ err }, `cannot listen on ${config.listenHost}:${config.port}: ${(err as Error).message}`);
  process.exit(1);
}
