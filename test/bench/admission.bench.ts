// npm run bench:admission — the admission webhook's fast paths on the real HTTPS server (caches with
// 150,000 TiDB pods), beside a bare Fastify HTTPS route that reads the same AdmissionReview and allows
// it, in the same run. The last line printed is one JSON object with every case.
import Fastify from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { DrainService } from '../../src/services/drain.ts';
import { PlacementService } from '../../src/services/placement.ts';
import { ReservationLedger } from '../../src/state/ledger.ts';
import { NodeStore, PodStore, StatefulSetStore } from '../../src/state/stores.ts';
import { generateCertificates } from '../../src/tls/certs.ts';
import { log, runCase, serverUrl, startLoadClient, type Case, type Row } from './harness.ts';

const CLUSTERS = 10_000;
const nodes = new NodeStore(['kubernetes.io/hostname']);
for (let i = 0; i < 5000; i++) nodes.upsert(`node-${i}`, { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}` }, unschedulable: false });
const pods = new PodStore();
for (let c = 0; c < CLUSTERS; c++) {
  for (const [component, count] of [['pd', 5], ['tikv', 10]] as const) {
    for (let i = 0; i < count; i++) {
      const name = `db${c}-${component}-${i}`;
      pods.upsert(`tenant-${c}/${name}`, { uid: `${c}-${component}-${i}`, namespace: `tenant-${c}`, name, cluster: `db${c}`, component, nodeName: `node-${(c + i) % 5000}`, terminal: false, deleting: false, owner: `db${c}-${component}`, running: true, skipDrainCheck: false });
    }
  }
}
log(`caches: ${pods.size} TiDB pods, ${nodes.size} nodes`);

const logger = pino({ level: 'silent' });
const unreachable = () => {
  throw new Error('the fast paths must not call PD');
};
const drain = new DrainService({
  pods,
  nodes,
  pdFor: unreachable,
  ledger: { read: unreachable, write: unreachable, listLedgers: unreachable, forCluster: unreachable, put: unreachable, remove: unreachable, list: unreachable },
  teardown: { namespaceDeleting: unreachable, ownerDeleting: unreachable },
  // In a cluster the webhook's matchConditions keep other pods' evictions away; here the read says "not ours".
  livePods: { read: async () => null },
  events: { emit: () => undefined },
  metrics: { decision: () => undefined, waited: () => undefined },
  logger,
  now: Date.now,
  evictTimeoutMs: 600_000,
  abandonAfterMs: 300_000,
});
const placement = new PlacementService({
  pods, nodes, statefulSets: new StatefulSetStore(), ledger: new ReservationLedger(), topologyKeys: ['kubernetes.io/hostname'],
  binder: { getPod: async () => null,
    getNode: async () => null, listMembers: async () => [], bind: async () => undefined },
  reservationTtlMs: 60_000, isSynced: () => true, now: Date.now, logger,
});
const certs = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const app = buildApp({ logger, metrics: createMetrics(), placement, drain, readiness: { pending: () => [] }, extenderBodyLimitBytes: 1 << 20, tls: { cert: certs.cert, key: certs.key } });
await app.listen({ host: '127.0.0.1', port: 0 });
// The thinnest valid webhook: read the review, allow it, echo the uid.
const bare = Fastify({ https: { key: certs.key, cert: certs.cert }, keepAliveTimeout: 120_000 });
bare.post('/admission/pods', async (request) => {
  const uid = (request.body as { request: { uid: string } }).request.uid;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
});
await bare.listen({ host: '127.0.0.1', port: 0 });
const ours = { url: serverUrl(app as never), path: '/admission/pods' };
const baseline = { url: serverUrl(bare as never), path: '/admission/pods' };

// A realistic Pod (about 8 KB with managedFields, as the API server sends it in oldObject).
function pod(ns: string, name: string, labels: Record<string, string>, deleting: boolean) {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, namespace: ns, uid: `${name}-uid`, resourceVersion: '123456', creationTimestamp: '2026-11-22T00:00:00Z', labels,
      ...(deleting ? { deletionTimestamp: '2026-11-22T10:00:00Z', deletionGracePeriodSeconds: 30 } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
      managedFields: Array.from({ length: 4 }, (_, i) => ({ manager: `manager-${i}`, operation: 'Update', apiVersion: 'v1', time: '2026-11-22T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': Object.fromEntries(Object.keys(labels).map((k) => [`f:${k}`, {}])) }, 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:resources': {} } } } } })),
    },
    spec: {
      nodeName: 'node-1', schedulerName: 'default-scheduler', serviceAccountName: 'default', restartPolicy: 'Always', terminationGracePeriodSeconds: 30,
      containers: [{ name: 'app', image: 'registry.example.com/team/app:v1.2.3', ports: [{ containerPort: 8080, protocol: 'TCP' }], env: Array.from({ length: 12 }, (_, i) => ({ name: `ENV_${i}`, value: `value-${i}-${'x'.repeat(40)}` })), resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } }, volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] }],
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: { phase: 'Running', podIP: '10.0.0.7', hostIP: '10.0.1.2', qosClass: 'Burstable', startTime: '2026-11-22T00:00:01Z', conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: '2026-11-22T00:00:05Z' })) },
  };
}
const review = (request: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '7d1b8a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', userInfo: { username: 'system:serviceaccount:kube-system:generic-garbage-collector', groups: ['system:serviceaccounts', 'system:authenticated'] }, dryRun: false, ...request } });
const deleteOf = (ns: string, name: string, labels: Record<string, string>, deleting = false) =>
  review({ kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, name, namespace: ns, operation: 'DELETE', object: null, oldObject: pod(ns, name, labels, deleting), options: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1' } });
const evictionOf = (ns: string, name: string) =>
  review({ kind: { group: 'policy', version: 'v1', kind: 'Eviction' }, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'eviction', name, namespace: ns, operation: 'CREATE', object: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, deleteOptions: {} }, oldObject: null });
const tidbLabels = { 'app.kubernetes.io/component': 'tikv', 'app.kubernetes.io/instance': 'db7', 'app.kubernetes.io/managed-by': 'tidb-steward' };

const cases: Case[] = [
  { name: 'noop-delete-other-pod', ours, baseline, body: () => deleteOf('shop', 'web-7f9c-abcde', { app: 'web', 'pod-template-hash': '7f9c' }) },
  { name: 'noop-evict-other-pod', ours, baseline, body: () => evictionOf('shop', 'web-7f9c-abcde') },
  { name: 'allowed-delete-terminating-tikv', ours, baseline, body: () => deleteOf('tenant-7', 'db7-tikv-3', tidbLabels, true) },
];
const client = startLoadClient(certs.caCert);
const results: Row[] = [];
for (const c of cases) results.push(await runCase(client, c));
client.stop();
const rssMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
log(`server process RSS ${rssMb} MB with ${pods.size} pods cached`);
await app.close();
await bare.close();
process.stdout.write(`${JSON.stringify({ cases: results, rss_mb: rssMb })}\n`);
