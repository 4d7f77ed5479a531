// Composition root: configuration → logger → certificates → caches → services → HTTPS server.
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { objectKey, TIDB_SELECTOR } from './domain/model.ts';
import { buildApp } from './http/app.ts';
import { createMetrics } from './http/metrics.ts';
import { kubeBinder } from './k8s/binder.ts';
import { advancedStatefulSetSource, allStatefulSetSource, claimSource, makeClients, nodeSource, pingcapTidbClusterSource, podSource, volumeSource } from './k8s/client.ts';
import { Reflector } from './k8s/reflector.ts';
import { claimView, nodeViewFor, pingcapClusterView, podView, statefulSetView, volumeView } from './k8s/views.ts';
import { kubeLeaseStore, leaseLock, localOnly, sweepBindLeases } from './k8s/leases.ts';
import { PlacementService } from './services/placement.ts';
import { DrainService } from './services/drain.ts';
import { PdRegistry } from './pd/registry.ts';
import { PdAccess } from './pd/facts.ts';
import { emptyLedger, kubeLedger, updateLedger } from './k8s/disruptions.ts';
import { DisruptionAuthority } from './services/authority.ts';
import { kubeLivePods, kubeTeardown, readPdTlsSecret } from './k8s/teardown.ts';
import { kubeEvents } from './k8s/events.ts';
import { followCaBundle } from './k8s/webhooks.ts';
import { runController } from './controller/run.ts';
import { readFile } from 'node:fs/promises';
import { ReservationLedger } from './state/ledger.ts';
import { ClusterObservations } from './state/observations.ts';
import { MapStore, NodeStore, PodStore, StatefulSetStore } from './state/stores.ts';
import type { ClaimView, VolumeView } from './domain/model.ts';
import type { Server as TlsServer } from 'node:tls';
import { generateCertificates, readPair, reloadOnChange, validateCaBundle, validatePair, watchCaFile, type ServingPair } from './tls/certs.ts';

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

/** Client CA (mTLS) for the extender and webhook callers; without it anyone reaching the port may call. */
let clientCa: string | undefined;
if (config.clientCaFile) {
  try {
    clientCa = await readFile(config.clientCaFile, 'utf8');
    const certs = validateCaBundle(clientCa);
    logger.info({ clientCaFile: config.clientCaFile, subjects: certs.map((c) => c.subject), allowedNames: config.clientAllowedNames }, 'client certificates required on the extender and webhooks');
  } catch (err) {
    logger.fatal({ err, clientCaFile: config.clientCaFile }, `cannot use the client CA ${config.clientCaFile}: ${(err as Error).message}`);
    process.exit(1);
  }
} else {
  const banner = '!'.repeat(100);
  logger.warn(banner);
  logger.warn(
    { setting: '--client-ca-file / STEWARD_CLIENT_CA_FILE' },
    'CALLS ARE NOT AUTHENTICATED: no client CA is configured, so anyone who can reach this port can call /scheduler/bind (bind pending pods to any node) and the admission webhooks (start PD leader transfers and leader evictions). Set --client-ca-file to the CA of the scheduler\'s and the API server\'s client certificates',
  );
  logger.warn(banner);
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
const advancedStatefulSets = new StatefulSetStore();
const claims = new MapStore<ClaimView>();
const volumes = new MapStore<VolumeView>();
const pingcapClusters = new MapStore<{ topologyKeys: string[] }>();
const ledger = new ReservationLedger();
// Once the cache shows a pod bound, its reservation has done its job.
pods.onChange = (pod) => {
  if (pod.nodeName) ledger.settle(pod.uid);
};
metrics.watchCaches(() => ({ pods: pods.size, nodes: nodes.size, statefulsets: statefulSets.size + advancedStatefulSets.size, claims: claims.size, volumes: volumes.size, reservations: ledger.size }));

const reflectorDefaults = {
  logger,
  relistIntervalMs: config.relistIntervalSeconds * 1000,
  staleAfterMs: config.staleAfterSeconds * 1000,
};
const restarts = (reflector: string) => (reason: string) => metrics.reflectorRestarts.inc({ reflector, reason });
const reflectors = [
  new Reflector({ ...reflectorDefaults, name: 'pods', source: podSource(clients, TIDB_SELECTOR), transform: podView, store: pods, onRestart: restarts('pods') }),
  new Reflector({ ...reflectorDefaults, name: 'nodes', source: nodeSource(clients), transform: nodeViewFor(config.drainTaints), store: nodes, onRestart: restarts('nodes') }),
  // All StatefulSets, kept only when their pod template carries the TiDB labels: a StatefulSet needs no
  // labels of its own to be found.
  new Reflector({ ...reflectorDefaults, name: 'statefulsets', source: allStatefulSetSource(clients), transform: statefulSetView, store: statefulSets, onRestart: restarts('statefulsets') }),
  new Reflector({ ...reflectorDefaults, name: 'persistentvolumeclaims', source: claimSource(clients), transform: claimView, store: claims, onRestart: restarts('persistentvolumeclaims') }),
  new Reflector({ ...reflectorDefaults, name: 'persistentvolumes', source: volumeSource(clients), transform: volumeView, store: volumes, onRestart: restarts('persistentvolumes') }),
  ...(config.pingcapTidbClusters === 'on'
    ? [new Reflector({ ...reflectorDefaults, name: 'pingcap tidbclusters', source: pingcapTidbClusterSource(clients), transform: pingcapClusterView, store: pingcapClusters, optional: true, onRestart: restarts('pingcaptidbclusters') })]
    : []),
  ...(config.advancedStatefulSets === 'on'
    ? [new Reflector({ ...reflectorDefaults, name: 'advanced statefulsets', source: advancedStatefulSetSource(clients), transform: statefulSetView, store: advancedStatefulSets, optional: true, onRestart: restarts('advancedstatefulsets') })]
    : []),
];
const names = reflectors.map((r) => r.name);
const isSynced = () => reflectors.every((r) => r.hasSynced());

const events = kubeEvents(clients, logger);
const leaseStore = kubeLeaseStore(clients, config.leaseNamespace);
const placement = new PlacementService({
  pods,
  nodes,
  statefulSets,
  advancedStatefulSets,
  claims,
  volumes,
  ledger,
  topologyKeys: config.topologyKeys,
  clusterTopologyKeys: (namespace, cluster) => pingcapClusters.get(objectKey(namespace, cluster))?.topologyKeys,
  binder: kubeBinder(clients),
  schedulerName: config.schedulerName,
  events,
  bindDelayMs: config.bindDelayMs,
  // The scheduler's httpTimeout is a few seconds: wait at most 2 s for another replica's bind.
  lock: config.bindLease === 'on' ? leaseLock({ store: leaseStore, leaseSeconds: config.bindLeaseSeconds, waitMs: 2000 }) : localOnly,
  reservationTtlMs: config.reservationTtlSeconds * 1000,
  isSynced,
  now: Date.now,
  logger,
});

// One PD client per TiDB cluster (over TLS when the cluster has its client Secret), one shared
// snapshot of PD's facts, one ledger and one disruption authority: the drain webhooks and the
// controller judge every member that goes by the same facts and the same rule.
const pdRegistry = new PdRegistry({
  overrides: config.pdEndpoints,
  timeoutMs: config.pdTimeoutMs,
  memberTimeoutMs: config.pdMemberTimeoutMs,
  tlsFor: (namespace, cluster) => readPdTlsSecret(clients, namespace, config.pdTlsSecret.replaceAll('{cluster}', cluster), config.kubeTimeoutMs),
  now: Date.now,
});
// What PD and the ledger last said about each cluster, for the per-cluster metrics (no call at scrape).
const observations = new ClusterObservations({ keepMs: 10 * 60_000, now: Date.now });
metrics.watchClusters(() => observations.samples());
const pdAccess = new PdAccess({ client: (namespace, cluster) => pdRegistry.get(namespace, cluster), ttlMs: config.pdFactsTtlMs, now: Date.now, onFacts: (ns, c, f) => observations.pd(ns, c, f) });
const disruptionLedger = kubeLedger(clients, config.kubeTimeoutMs, (ns, c, l) => observations.ledger(ns, c, l));
const authority = new DisruptionAuthority({ pods, nodes, pd: pdAccess, ledger: disruptionLedger, now: Date.now, logger });
const drain = new DrainService({
  pods,
  nodes,
  pdFor: (namespace, cluster) => pdRegistry.get(namespace, cluster),
  authority,
  ledger: disruptionLedger,
  teardown: kubeTeardown(clients, config.kubeTimeoutMs),
  livePods: kubeLivePods(clients),
  budgetMs: config.admissionBudgetMs,
  events,
  metrics: {
    decision: (component, outcome) => metrics.drainDecisions.inc({ component, outcome }),
    waited: (component, seconds) => metrics.drainWaitSeconds.observe({ component }, seconds),
  },
  logger,
  now: Date.now,
  evictTimeoutMs: config.evictLeaderTimeoutSeconds * 1000,
  abandonAfterMs: config.evictLeaderAbandonSeconds * 1000,
});

// Cordons and autoscaler drain taints seen by the node watch start (or end) the early hand-over; the
// node webhook reports cordons a moment sooner, and each change is acted on once.
nodes.onChange = (before, after) => {
  if (!isSynced()) return;
  void drain.nodeViewChanged(before, after)?.catch((err: Error) => logger.warn({ node: after.name, err: err.message }, 'acting on the drain of a node failed'));
};

const app = buildApp({
  logger,
  metrics,
  placement,
  readiness: { pending: () => reflectors.flatMap((r, i) => (r.hasSynced() ? [] : [`${names[i]} cache`])) },
  extenderBodyLimitBytes: config.extenderBodyLimitMb * 1024 * 1024,
  admissionBodyLimitBytes: config.admissionBodyLimitMb * 1024 * 1024,
  drain,
  tls,
  clientAuth: clientCa ? { ca: clientCa, allowedNames: config.clientAllowedNames } : undefined,
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

// Bind Leases of TiDB clusters that are gone (no pod left, idle an hour) are deleted now and then.
const leaseSweep = setInterval(() => {
  if (config.bindLease !== 'on' || !isSynced()) return;
  sweepBindLeases(leaseStore, { idleMs: 3_600_000, hasMembers: (ns, cluster, component) => pods.members(ns, cluster, component).size > 0 })
    .then((n) => n > 0 && logger.info({ deleted: n }, 'bind Leases of deleted TiDB clusters removed'))
    .catch((err: Error) => logger.warn({ err: err.message }, 'bind Lease cleanup failed; will retry'));
}, 600_000);
leaseSweep.unref();

const stoppers: Array<() => void> = [];
if (config.webhookConfigName) {
  if (!caPem) logger.warn({ webhookConfiguration: config.webhookConfigName }, 'no CA known (set --tls-ca-file): the webhook caBundle is left as it is');
  else {
    // The caBundle follows the CA file (a rotated CA, e.g. by cert-manager) and is re-asserted every
    // minute in case someone overwrote it.
    stoppers.push(followCaBundle(clients, config.webhookConfigName, caPem, logger, { caFile: config.tlsCaFile }));
  }
}

for (const r of reflectors) r.start();

let servingPair = tls;
// TidbCluster controller: every replica campaigns for the Lease; the holder reconciles.
const controller = config.controller
  ? runController({
      clients,
      logger,
      events,
      pdFor: (namespace, cluster) => pdRegistry.get(namespace, cluster),
      nodeLabels: (node) => nodes.get(node)?.labels,
      disruptions: {
        facts: (namespace, cluster) => pdAccess.facts(namespace, cluster),
        invalidate: (namespace, cluster) => pdAccess.invalidate(namespace, cluster),
        ledger: async (namespace, cluster) => (await disruptionLedger.read(namespace, cluster)).ledger,
        admit: async (req) => authority.admit(req),
        recordEviction: (namespace, cluster, record, pod) => disruptionLedger.put(namespace, cluster, record, pod),
        dropRecords: (namespace, cluster) =>
          // Emptied, not deleted: the DisruptionLedger goes with its namespace or stays empty.
          updateLedger(disruptionLedger, namespace, cluster, (l) => (l.evictions.length + l.leaving.length + l.seenEvictions.length ? emptyLedger() : null)),
      },
      leaseNamespace: config.leaseNamespace,
      leaseName: 'tidb-steward-controller',
      ...(config.identity ? { identity: config.identity } : {}),
      workers: config.controllerWorkers,
      evictTimeoutMs: config.evictLeaderTimeoutSeconds * 1000,
      pendingGraceMs: config.pendingGraceSeconds * 1000,
      relistIntervalMs: config.relistIntervalSeconds * 1000,
      staleAfterMs: config.staleAfterSeconds * 1000,
    })
  : null;

let stopWatchingCerts = () => {};
if (config.tlsCertFile && config.tlsKeyFile) {
  stopWatchingCerts = reloadOnChange(app.server as unknown as TlsServer, { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }, tls, {
    clientCa: () => clientCa,
    onReload(pair) {
      servingPair = pair;
      metrics.certReloads.inc({ result: 'ok' });
      logger.info({ certFile: config.tlsCertFile }, 'serving certificate reloaded');
    },
    onError(err) {
      metrics.certReloads.inc({ result: 'error' });
      logger.error({ err, certFile: config.tlsCertFile }, `new serving certificate not used: ${err.message}; still serving the previous one`);
    },
  });
}

if (config.clientCaFile && clientCa) {
  // A rotated client CA (or a bundle of old and new during the rotation) applies to new connections.
  const file = config.clientCaFile;
  stoppers.push(
    watchCaFile(file, clientCa, {
      onChange(pem) {
        clientCa = pem;
        (app.server as unknown as TlsServer).setSecureContext({ key: servingPair.key, cert: servingPair.cert, ca: pem });
        logger.info({ clientCaFile: file }, 'client CA reloaded');
      },
      onError: (err) => logger.error({ err: err.message, clientCaFile: file }, 'new client CA not usable; still verifying with the previous one'),
    }),
  );
}

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an unexpected error');
  else logger.info({ signal }, 'shutting down');
  stopWatchingCerts();
  for (const stop of stoppers) stop();
  clearInterval(reconcileTimer);
  clearInterval(leaseSweep);
  await app.close();
  await controller?.stop();
  await Promise.all(reflectors.map((r) => r.stop()));
});

try {
  await app.listen({ host: config.listenHost, port: config.port });
  logger.info({ host: config.listenHost, port: config.port, topologyKeys: config.topologyKeys }, 'tidb-steward listening');
  if (config.bindDelayMs) logger.warn({ bindDelayMs: config.bindDelayMs }, 'fault injection is on: every bind waits between its read and the Binding (tests only)');
} catch (err) {
  logger.fatal({ err }, `cannot listen on ${config.listenHost}:${config.port}: ${(err as Error).message}`);
  process.exit(1);
}
