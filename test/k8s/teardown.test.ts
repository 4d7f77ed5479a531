// Teardown lookups against an in-process API server: the owner is read from its own API group (an
// Advanced StatefulSet from apps.pingcap.com, not apps/v1), only a NotFound naming the object means
// "gone", and an API that is not served (CRD missing) says nothing about teardown.
import t from 'tap';
import { kubeLivePods, kubeTeardown, readPdTlsSecret } from '../../src/k8s/teardown.ts';
import { PdRegistry } from '../../src/pd/registry.ts';
import { DrainService, type StatefulSetKind } from '../../src/services/drain.ts';
import { makeNode, makePod, stores } from '../builders.ts';
import { FakeEvents, silentLogger } from '../fakes.ts';
import { DrainFakePd, FakeLivePods, FakeTeardown, MemoryLedger } from '../drain-fakes.ts';
import { fakeApiServer, forbidden, notFound, notServed, type ApiReply } from './fake-apiserver.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
interface World {
  /** Objects by API path. */
  objects: Record<string, unknown>;
  /** API groups whose resources are served ('apps' always; 'apps.pingcap.com' when the CRD is installed). */
  served: Set<string>;
  /** How an unserved API answers: a Status (current API servers) or plain text (older ones). */
  unserved?: 'status' | 'text';
}

function apiOf(world: World) {
  return fakeApiServer(({ path }): ApiReply => {
    if (path in world.objects) return { status: 200, body: world.objects[path] };
    const ns = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path);
    if (ns) return notFound('', 'namespaces', ns[1]!);
    const named = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/[^/]+\/([^/]+)\/([^/]+)$/.exec(path);
    const group = named?.[1] ?? '';
    if (named && (group === '' || world.served.has(group))) return notFound(group, named[2]!, named[3]!);
    return world.unserved === 'text' ? { status: 404, body: '404 page not found\n' } : notServed;
  });
}

const ASTS = '/apis/apps.pingcap.com/v1/namespaces/db/statefulsets/basic-pd';
const STS = '/apis/apps/v1/namespaces/db/statefulsets/basic-pd';
const TC = '/apis/pingcap.com/v1alpha1/namespaces/db/tidbclusters/basic';
const sts = (extra: Record<string, unknown> = {}) => ({ metadata: { name: 'basic-pd', namespace: 'db', ...extra } });
const ownedByTc = { ownerReferences: [{ apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', name: 'basic', uid: 'tc', controller: true }] };
const deleting = { deletionTimestamp: '2025-01-01T00:00:00Z' };

t.test('ownerDeleting reads the owner from its own API group, and a 404 means gone only when it names the object', async (t) => {
  const table: Array<[string, StatefulSetKind, World, boolean, string]> = [
    ['apps/v1 owner present', 'apps/v1', { objects: { [STS]: sts() }, served: new Set(['apps']) }, false, STS],
    ['apps/v1 owner gone', 'apps/v1', { objects: {}, served: new Set(['apps']) }, true, STS],
    ['apps/v1 owner being deleted', 'apps/v1', { objects: { [STS]: sts(deleting) }, served: new Set(['apps']) }, true, STS],
    // The finding: no apps/v1 StatefulSet of that name exists, yet the owner is alive.
    ['Advanced owner present (no apps/v1 StatefulSet of that name)', 'apps.pingcap.com/v1', { objects: { [ASTS]: sts() }, served: new Set(['apps', 'apps.pingcap.com']) }, false, ASTS],
    ['Advanced owner gone', 'apps.pingcap.com/v1', { objects: {}, served: new Set(['apps', 'apps.pingcap.com']) }, true, ASTS],
    ['Advanced owner being deleted', 'apps.pingcap.com/v1', { objects: { [ASTS]: sts(deleting) }, served: new Set(['apps', 'apps.pingcap.com']) }, true, ASTS],
    ['Advanced StatefulSet CRD not installed (Status 404)', 'apps.pingcap.com/v1', { objects: {}, served: new Set(['apps']) }, false, ASTS],
    ['Advanced StatefulSet CRD not installed (plain 404)', 'apps.pingcap.com/v1', { objects: {}, served: new Set(['apps']), unserved: 'text' }, false, ASTS],
    ['Advanced owner whose TidbCluster is being deleted', 'apps.pingcap.com/v1', { objects: { [ASTS]: sts(ownedByTc), [TC]: { metadata: { name: 'basic', ...deleting } } }, served: new Set(['apps', 'apps.pingcap.com', 'pingcap.com']) }, true, ASTS],
    ['Advanced owner whose TidbCluster is alive', 'apps.pingcap.com/v1', { objects: { [ASTS]: sts(ownedByTc), [TC]: { metadata: { name: 'basic' } } }, served: new Set(['apps', 'apps.pingcap.com', 'pingcap.com']) }, false, ASTS],
    ['TidbCluster gone', 'apps/v1', { objects: { [STS]: sts(ownedByTc) }, served: new Set(['apps', 'pingcap.com']) }, true, STS],
    ['TidbCluster API not served', 'apps/v1', { objects: { [STS]: sts(ownedByTc) }, served: new Set(['apps']) }, false, STS],
  ];
  for (const [name, kind, world, expected, path] of table) {
    const api = await apiOf(world);
    try {
      const answer = await kubeTeardown(api.clients, 2000).ownerDeleting('db', 'basic-pd', kind);
      t.equal(answer, expected, name);
      t.equal(api.requests[0]?.path, path, `${name}: asked ${path}`);
    } finally {
      await api.close();
    }
  }
});

t.test('an owner that cannot be read is an error that says which and why', async (t) => {
  const api = await fakeApiServer(() => forbidden('system:serviceaccount:tidb-steward:tidb-steward', 'get', 'apps.pingcap.com', 'statefulsets', 'db', 'basic-pd'));
  t.teardown(() => api.close());
  await t.rejects(kubeTeardown(api.clients, 2000).ownerDeleting('db', 'basic-pd', 'apps.pingcap.com/v1'), {
    message: 'cannot read apps.pingcap.com/v1 StatefulSet db/basic-pd: statefulsets.apps.pingcap.com "basic-pd" is forbidden: User "system:serviceaccount:tidb-steward:tidb-steward" cannot get resource "statefulsets" in API group "apps.pingcap.com" in the namespace "db" (HTTP 403)',
  });
});

t.test('a PD pod owned by an Advanced StatefulSet is judged like any other: no eviction while another member is down', async (t) => {
  const api = await apiOf({ objects: { [ASTS]: sts(), '/api/v1/namespaces/db': { metadata: { name: 'db' }, status: { phase: 'Active' } } }, served: new Set(['apps', 'apps.pingcap.com']) });
  t.teardown(() => api.close());
  const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n));
  const pdPods = [0, 1, 2].map((i) => ({ ...makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-${i}`).view(), ownerAdvanced: true }));
  const s = stores({ nodes, pods: pdPods });
  const pd = new DrainFakePd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  pd.unhealthy.add('basic-pd-2');
  const drain = new DrainService({
    ...s,
    pdFor: () => pd,
    ledger: new MemoryLedger(),
    teardown: kubeTeardown(api.clients, 2000),
    livePods: new FakeLivePods(),
    events: new FakeEvents(),
    metrics: { decision: () => undefined, waited: () => undefined },
    logger: silentLogger,
    now: () => 1_000_000,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  const review: any = await drain.reviewRemoval({ namespace: 'db', name: 'basic-pd-0', dryRun: false, via: 'eviction' });
  t.match(review, { allowed: false, code: 429, message: /db\/basic-pd-0 cannot go yet: .*basic-pd-2/ });
  t.same(pd.transfers, [], 'the leader is not handed over to a cluster that would lose quorum');
  t.ok(api.requests.some((r) => r.path === ASTS), 'the owner was read as an Advanced StatefulSet');
  t.notOk(api.requests.some((r) => r.path === STS), 'not as an apps/v1 StatefulSet');
});

t.test('a live read of a pod: its view, null for other pods, gone on 404, a clear error otherwise', async (t) => {
  const tidb = { 'app.kubernetes.io/component': 'tikv', 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-operator' };
  const wire = (name: string, labels: Record<string, string>) => ({
    metadata: { name, namespace: 'db', uid: `uid-${name}`, labels, ownerReferences: [{ apiVersion: 'apps.pingcap.com/v1', kind: 'StatefulSet', name: 'basic-tikv', uid: 'a', controller: true }] },
    spec: { nodeName: 'n1' },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const api = await fakeApiServer(({ path }): ApiReply => {
    if (path === '/api/v1/namespaces/db/pods/basic-tikv-0') return { status: 200, body: wire('basic-tikv-0', tidb) };
    if (path === '/api/v1/namespaces/db/pods/web-0') return { status: 200, body: wire('web-0', { app: 'web' }) };
    if (path === '/api/v1/namespaces/db/pods/secret-tikv-0') return forbidden('system:serviceaccount:tidb-steward:tidb-steward', 'get', '', 'pods', 'db', 'secret-tikv-0');
    if (path === '/api/v1/namespaces/db/pods/slow-tikv-0') return { status: 200, body: wire('slow-tikv-0', tidb), delayMs: 1000 };
    return notFound('', 'pods', path.split('/').pop()!);
  });
  t.teardown(() => api.close());
  const live = kubeLivePods(api.clients);
  t.match(await live.read('db', 'basic-tikv-0', 500), { uid: 'uid-basic-tikv-0', component: 'tikv', cluster: 'basic', nodeName: 'n1', running: true, ready: true, owner: 'basic-tikv', ownerAdvanced: true });
  t.equal(await live.read('db', 'web-0', 500), null, 'not a PD/TiKV pod');
  t.equal(await live.read('db', 'gone-tikv-0', 500), 'gone');
  await t.rejects(live.read('db', 'secret-tikv-0', 500), { message: 'pods "secret-tikv-0" is forbidden: User "system:serviceaccount:tidb-steward:tidb-steward" cannot get resource "pods" in API group "" in the namespace "db" (HTTP 403)' });
  const started = Date.now();
  await t.rejects(live.read('db', 'slow-tikv-0', 100), { message: 'no answer within 100 ms' });
  t.ok(Date.now() - started < 800, `gave up after ${Date.now() - started} ms`);
});

t.test('the PD client Secret: a 403 says which RoleBinding is missing, and the drain answers 429 with it', async (t) => {
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  const api = await fakeApiServer(({ path }): ApiReply => {
    if (path === '/api/v1/namespaces/db/secrets/basic-cluster-client-secret') return forbidden('system:serviceaccount:tidb-steward:tidb-steward', 'get', '', 'secrets', 'db', 'basic-cluster-client-secret');
    if (path === '/api/v1/namespaces/ok/secrets/tls-cluster-client-secret') return { status: 200, body: { metadata: { name: 'tls-cluster-client-secret' }, data: { 'ca.crt': b64('CA'), 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') } } };
    if (path === '/api/v1/namespaces/ok/secrets/broken-cluster-client-secret') return { status: 500, body: { kind: 'Status', message: 'etcdserver: request timed out', code: 500 } };
    return notFound('', 'secrets', path.split('/').pop()!);
  });
  t.teardown(() => api.close());
  const missingBinding =
    "tidb-steward may not read Secret db/basic-cluster-client-secret (the PD client certificate; HTTP 403): bind the ClusterRole tidb-steward-ledger to tidb-steward's service account in namespace db, e.g. kubectl -n db create rolebinding tidb-steward-ledger --clusterrole=tidb-steward-ledger --serviceaccount=tidb-steward:tidb-steward";
  await t.rejects(readPdTlsSecret(api.clients, 'db', 'basic-cluster-client-secret', 500), { message: missingBinding });
  t.same(await readPdTlsSecret(api.clients, 'ok', 'tls-cluster-client-secret', 500), { ca: 'CA', cert: 'CERT', key: 'KEY' });
  t.equal(await readPdTlsSecret(api.clients, 'ok', 'plain-cluster-client-secret', 500), null, 'no Secret: plain http');
  await t.rejects(readPdTlsSecret(api.clients, 'ok', 'broken-cluster-client-secret', 500), { message: 'cannot read Secret ok/broken-cluster-client-secret: etcdserver: request timed out (HTTP 500)' });

  const registry = new PdRegistry({ overrides: {}, timeoutMs: 500, memberTimeoutMs: 500, tlsFor: (ns, cluster) => readPdTlsSecret(api.clients, ns, `${cluster}-cluster-client-secret`, 500), now: Date.now });
  const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n));
  const s = stores({ nodes, pods: [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-${i}`).view()) });
  const drain = new DrainService({
    ...s,
    pdFor: (ns, cluster) => registry.get(ns, cluster),
    ledger: new MemoryLedger(),
    teardown: new FakeTeardown(),
    livePods: new FakeLivePods(),
    events: new FakeEvents(),
    metrics: { decision: () => undefined, waited: () => undefined },
    logger: silentLogger,
    now: Date.now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  t.same(await drain.reviewRemoval({ namespace: 'db', name: 'basic-pd-1', dryRun: false, via: 'eviction' }), {
    allowed: false,
    code: 429,
    reason: 'TooManyRequests',
    message: `db/basic-pd-1 cannot go yet: cannot check it with PD of cluster db/basic: ${missingBinding}; will retry`,
    retryAfterSeconds: 1,
  });
});
