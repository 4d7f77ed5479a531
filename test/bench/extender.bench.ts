// npm run bench:extender — the real HTTPS extender over caches holding 5000 nodes and 150,000 TiDB
// pods (10,000 clusters), beside a bare Fastify HTTPS route that receives the same body in the same
// run. The last line printed is one JSON object with every case.
import Fastify from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { PlacementService } from '../../src/services/placement.ts';
import { ReservationLedger } from '../../src/state/ledger.ts';
import { NodeStore, PodStore, StatefulSetStore } from '../../src/state/stores.ts';
import { generateCertificates } from '../../src/tls/certs.ts';
import type { Component } from '../../src/domain/model.ts';
import { log, runCase, serverUrl, startLoadClient, ROUNDS, DURATION_MS, CONCURRENCY, type Case, type Row } from './harness.ts';

const NODES = 5000;
const ZONES = 10;
const CLUSTERS = 10_000;
const PD_PER_CLUSTER = 5;
const TIKV_PER_CLUSTER = 10;
const nodeName = (i: number) => `node-${String(i).padStart(5, '0')}`;

// --- caches, filled through the same store API the reflectors use -----------------------------
const nodes = new NodeStore(['kubernetes.io/hostname']);
nodes.replace(Array.from({ length: NODES }, (_, i) => [nodeName(i), { name: nodeName(i), labels: { 'kubernetes.io/hostname': nodeName(i), 'topology.kubernetes.io/zone': `zone-${i % ZONES}` }, unschedulable: false }]));
const pods = new PodStore();
const statefulSets = new StatefulSetStore();
let seed = 42;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
for (let c = 0; c < CLUSTERS; c++) {
  const ns = `tenant-${c}`;
  const cluster = `db${c}`;
  for (const [component, count] of [['pd', PD_PER_CLUSTER], ['tikv', TIKV_PER_CLUSTER]] as Array<[Component, number]>) {
    statefulSets.upsert(`${ns}/${cluster}-${component}`, { namespace: ns, name: `${cluster}-${component}`, replicas: count });
    for (let i = 0; i < count; i++) {
      const name = `${cluster}-${component}-${i}`;
      pods.upsert(`${ns}/${name}`, { uid: `${c}-${component}-${i}-0000-0000-000000000000`, namespace: ns, name, cluster, component, nodeName: nodeName(rand(NODES)), terminal: false, deleting: false, owner: `${cluster}-${component}`, running: true, skipDrainCheck: false });
    }
  }
}
log(`rss after filling caches: ${Math.round(process.memoryUsage().rss / 1048576)} MB, heap used ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB`);
log(`caches: ${nodes.size} nodes, ${pods.size} TiDB pods in ${CLUSTERS} clusters, ${statefulSets.size} StatefulSets`);

// --- the two servers -------------------------------------------------------------------------
const certs = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const logger = pino({ level: 'silent' });
const placement = new PlacementService({
  pods, nodes, statefulSets,
  ledger: new ReservationLedger(),
  topologyKeys: ['kubernetes.io/hostname'],
  binder: { getPod: async () => null,
    getNode: async () => null, listMembers: async () => [], bind: async () => undefined },
  reservationTtlMs: 60_000,
  isSynced: () => true,
  now: Date.now,
  logger,
});
const bodyLimit = 96 * 1024 * 1024;
const app = buildApp({ logger, metrics: createMetrics(), placement, readiness: { pending: () => [] }, extenderBodyLimitBytes: bodyLimit, tls: { cert: certs.cert, key: certs.key } });
await app.listen({ host: '127.0.0.1', port: 0 });
// The baseline is the thinnest valid extender Fastify can serve: it parses the same body and hands
// the candidates back unchanged (the protocol requires the surviving names or Node objects in the
// reply). /noop answers an empty object, to show what the reply itself costs.
const bare = Fastify({ https: { key: certs.key, cert: certs.cert }, keepAliveTimeout: 120_000, bodyLimit });
bare.post('/scheduler/filter', async (request) => {
  const body = request.body as { Nodes: unknown; NodeNames: unknown };
  return { Nodes: body.Nodes, NodeNames: body.NodeNames, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' };
});
bare.post('/noop', async () => ({}));
await bare.listen({ host: '127.0.0.1', port: 0 });
const ours = { url: serverUrl(app as never), path: '/scheduler/filter' };
const baseline = { url: serverUrl(bare as never), path: '/scheduler/filter' };
const noop = { url: baseline.url, path: '/noop' };

// --- request bodies as kube-scheduler encodes them --------------------------------------------
function wirePod(ns: string, name: string, labels: Record<string, string>, owner?: string) {
  return {
    metadata: { name, namespace: ns, uid: `${name}-uid`, labels, ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: owner, uid: 'x', controller: true }] } : {}) },
    spec: { schedulerName: 'tidb-scheduler', containers: [{ name: 'c', image: 'pingcap/pd:v8.5.4', resources: {} }] },
    status: { phase: 'Pending' },
  };
}
const pdPod = wirePod('tenant-7', 'db7-pd-5', { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'db7', 'app.kubernetes.io/managed-by': 'tidb-steward' }, 'db7-pd');
const plainPod = wirePod('shop', 'web-1', { app: 'web' });
// PD members of db7 sit on some candidates, so the filter has refusals to explain.
const candidates = (n: number) => {
  const members = [...pods.members('tenant-7', 'db7', 'pd').values()].map((p) => p.nodeName!);
  const rest = Array.from({ length: NODES }, (_, i) => nodeName(i)).filter((x) => !members.includes(x));
  return [...members, ...rest].slice(0, n);
};
function fullNode(name: string) {
  return {
    metadata: { name, uid: `${name}-uid`, resourceVersion: '12345', creationTimestamp: '2026-11-22T00:00:00Z', labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'topology.kubernetes.io/zone': 'zone-1', 'node.kubernetes.io/instance-type': 'm6i.4xlarge' }, annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
    spec: { podCIDR: '10.244.1.0/24', providerID: `aws:///us-east-1a/${name}` },
    status: {
      capacity: { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '15800m', memory: '62Gi', pods: '110', 'ephemeral-storage': '95Gi' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({ type, status: type === 'Ready' ? 'True' : 'False', lastHeartbeatTime: '2026-11-22T10:00:00Z', lastTransitionTime: '2026-11-20T10:00:00Z', reason: `Kubelet${type}`, message: `kubelet reports ${type}` })),
      addresses: [{ type: 'InternalIP', address: '10.0.1.2' }, { type: 'Hostname', address: name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: { machineID: 'ec2'.padEnd(32, '0'), systemUUID: 'ec2'.padEnd(36, '0'), bootID: 'b'.repeat(36), kernelVersion: '6.1.0-amazon', osImage: 'Amazon Linux 2023', containerRuntimeVersion: 'containerd://1.7.20', kubeletVersion: 'v1.36.3', kubeProxyVersion: 'v1.36.3', operatingSystem: 'linux', architecture: 'amd64' },
      // The kubelet reports up to 50 images by default: most of a Node's bytes.
      images: Array.from({ length: 50 }, (_, i) => ({ names: [`registry.example.com/team/app-${i}@sha256:${'a'.repeat(64)}`, `registry.example.com/team/app-${i}:v1.${i}.0`], sizeBytes: 123456789 + i })),
    },
  };
}

// Bodies are made when their case runs, so that building the 11 MB full-Node bodies does not
// inflate the memory measured after the NodeNames cases.
const cases: Case[] = [];
for (const n of [100, 1000, 5000]) {
  cases.push({ name: 'pd-nodenames', nodes: n, ours, baseline, noop, body: () => JSON.stringify({ Pod: pdPod, Nodes: null, NodeNames: candidates(n) }) });
  cases.push({ name: 'plain-nodenames', nodes: n, ours, baseline, noop, body: () => JSON.stringify({ Pod: plainPod, Nodes: null, NodeNames: candidates(n) }) });
}
for (const [name, pod] of [['pd-fullnodes', pdPod], ['plain-fullnodes', plainPod]] as const) {
  cases.push({ name, nodes: 1000, ours, baseline, noop, slow: true, body: () => JSON.stringify({ Pod: pod, Nodes: { metadata: {}, items: candidates(1000).map(fullNode) }, NodeNames: null }) });
}

const client = startLoadClient(certs.caCert);
const results: Row[] = [];
let rssAfterNodeNamesMb = 0;
for (const c of cases) {
  if (c.slow && rssAfterNodeNamesMb === 0) rssAfterNodeNamesMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
  results.push(await runCase(client, c));
}
client.stop();
const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
log(`server process RSS ${rssAfterNodeNamesMb} MB after the NodeNames cases with ${pods.size} pods and ${nodes.size} nodes cached; peak ${peakMb} MB once full-Node bodies (~11 MB each) were parsed (concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${DURATION_MS} ms per server)`);
await app.close();
await bare.close();
process.stdout.write(`${JSON.stringify({ cases: results, rss_mb: rssAfterNodeNamesMb, rss_peak_mb: peakMb })}\n`);
