// The pending-pod diagnosis reads scoped, paged and bounded lists (against an in-process API server
// that records every call): schedulable nodes and pods bound to nodes by field selector, page by page
// with limit and continue; StorageClasses and PersistentVolumes only for a claim that is not bound, a
// volume the claim names read by name; and a clear error past a cap instead of a whole-cluster LIST.
import t from 'tap';
import { DiagnosisLimitError, diagnosisFactsReader, type DiagnosisLimits } from '../../src/k8s/tidbclusters.ts';
import { controllerClients } from '../../src/k8s/tidbclusters.ts';
import { fakeApiServer, listReply, notFound, type ApiReply, type FakeApi } from './fake-apiserver.ts';

const node = (name: string, cpu: string, unschedulable = false) => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: unschedulable ? { unschedulable: true } : {}, status: { allocatable: { cpu, memory: '8Gi' } } });
const pod = (ns: string, name: string, nodeName: string | null, phase: string, cpu: string) => ({
  metadata: { name, namespace: ns },
  spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', resources: { requests: { cpu, memory: '1Gi' } } }] },
  status: { phase },
});
const pv = (name: string, cls: string, phase: string, size: string) => ({ metadata: { name }, spec: { storageClassName: cls, capacity: { storage: size } }, status: { phase } });
const claim = (name: string, phase: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'db' },
  spec: { storageClassName: 'local', resources: { requests: { storage: '5Gi' } }, ...extra },
  status: { phase },
});

const world = {
  nodes: [node('n1', '4'), node('n2', '8'), node('n3', '16', true), node('n4', '2')],
  pods: [
    pod('db', 'a', 'n1', 'Running', '1'),
    pod('web', 'b', 'n1', 'Running', '500m'),
    pod('web', 'c', 'n2', 'Running', '2'),
    pod('web', 'done', 'n2', 'Succeeded', '3'),
    pod('web', 'failed', 'n4', 'Failed', '1'),
    pod('db', 'waiting', null, 'Pending', '7'),
    pod('web', 'cordoned', 'n3', 'Running', '1'),
    pod('web', 'starting', 'n4', 'Pending', '250m'),
  ],
  classes: [{ metadata: { name: 'local' } }, { metadata: { name: 'fast', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } }],
  volumes: [pv('pv-a', 'local', 'Available', '10Gi'), pv('pv-b', 'local', 'Bound', '10Gi'), pv('pv-c', 'fast', 'Available', '5Gi'), pv('pv-d', 'local', 'Available', '1Gi'), pv('pv-named', 'local', 'Available', '20Gi')],
  claims: [claim('data-bound', 'Bound', { volumeName: 'pv-b' }), claim('data-unbound', 'Pending'), claim('data-prebound', 'Pending', { volumeName: 'pv-named' })],
};

async function api(): Promise<FakeApi> {
  return fakeApiServer(({ path, query }): ApiReply => {
    if (path === '/api/v1/nodes') return listReply(world.nodes, query);
    if (path === '/api/v1/pods') return listReply(world.pods, query);
    if (path === '/apis/storage.k8s.io/v1/storageclasses') return listReply(world.classes, query);
    if (path === '/api/v1/persistentvolumes') return listReply(world.volumes, query);
    const volume = /^\/api\/v1\/persistentvolumes\/(.+)$/.exec(path);
    if (volume) return ((v) => (v ? { status: 200, body: v } : notFound('', 'persistentvolumes', volume[1]!)))(world.volumes.find((v) => v.metadata.name === volume[1]));
    const pvc = /^\/api\/v1\/namespaces\/db\/persistentvolumeclaims\/(.+)$/.exec(path);
    if (pvc) return ((c) => (c ? { status: 200, body: c } : notFound('', 'persistentvolumeclaims', pvc[1]!)))(world.claims.find((c) => c.metadata.name === pvc[1]));
    return { status: 404, body: '404 page not found' };
  });
}

const LIMITS: DiagnosisLimits = { pageSize: 2, maxNodes: 10, maxPods: 10, maxVolumes: 10, maxStorageClasses: 10 };
const lists = (a: FakeApi) => a.requests.filter((r) => ['/api/v1/nodes', '/api/v1/pods', '/apis/storage.k8s.io/v1/storageclasses', '/api/v1/persistentvolumes'].includes(r.path));
const call = (r: FakeApi['requests'][number]) => `${r.path}?${[...r.query].map(([k, v]) => `${k}=${v}`).sort().join('&')}`;

t.test('bound claims: schedulable nodes and the pods bound to them, by field selector and page by page; no storage read', async (t) => {
  const a = await api();
  t.teardown(() => a.close());
  const read = diagnosisFactsReader(a.clients, controllerClients(a.clients), { limits: LIMITS });
  const facts = await read('db', ['data-bound']);
  t.same(
    facts.nodes.map((n) => [n.name, n.requested.cpu]),
    [['n1', 1.5], ['n2', 2], ['n4', 0.25]],
    'cordoned n3 left out; finished and unscheduled pods count on no node',
  );
  t.same([...facts.claims.keys()], ['data-bound']);
  t.same(lists(a).map(call), [
    '/api/v1/nodes?fieldSelector=spec.unschedulable=false&limit=2',
    '/api/v1/nodes?continue=2&fieldSelector=spec.unschedulable=false&limit=2',
    '/api/v1/pods?fieldSelector=spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed&limit=2',
    '/api/v1/pods?continue=2&fieldSelector=spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed&limit=2',
    '/api/v1/pods?continue=4&fieldSelector=spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed&limit=2',
  ]);
  t.notOk(a.requests.some((r) => r.path.includes('persistentvolumes') || r.path.includes('storageclasses')), 'no StorageClass or PersistentVolume read while every claim is bound');
});

t.test('an unbound claim naming no volume: StorageClasses and Available volumes of its class, paged', async (t) => {
  const a = await api();
  t.teardown(() => a.close());
  const facts = await diagnosisFactsReader(a.clients, controllerClients(a.clients), { limits: LIMITS })('db', ['data-unbound']);
  t.same(facts.storage.classes, ['local', 'fast']);
  t.equal(facts.storage.defaultClass, 'fast');
  t.same(facts.storage.freeVolumes, [{ storageClassName: 'local', capacity: 10 * 2 ** 30 }, { storageClassName: 'local', capacity: 2 ** 30 }, { storageClassName: 'local', capacity: 20 * 2 ** 30 }]);
  const volumeLists = lists(a).filter((r) => r.path === '/api/v1/persistentvolumes');
  t.equal(volumeLists.length, 3, 'five volumes in pages of two');
  t.ok(lists(a).every((r) => r.query.get('limit') === '2'), 'every LIST is paged');
});

t.test('an unbound claim naming its volume: that volume read by name, no volume LIST', async (t) => {
  const a = await api();
  t.teardown(() => a.close());
  const facts = await diagnosisFactsReader(a.clients, controllerClients(a.clients), { limits: LIMITS })('db', ['data-prebound', 'missing']);
  t.same(facts.storage.freeVolumes, [{ storageClassName: 'local', capacity: 20 * 2 ** 30 }]);
  t.ok(a.requests.some((r) => r.path === '/api/v1/persistentvolumes/pv-named'));
  t.notOk(a.requests.some((r) => r.path === '/api/v1/persistentvolumes'), 'no LIST of every volume');
  t.same([...facts.claims.keys()], ['data-prebound'], 'a claim that does not exist is left out');
});

t.test('past a cap: a clear error, and never more than the cap read', async (t) => {
  const table: Array<[string, Partial<DiagnosisLimits>, RegExp, string]> = [
    ['pods', { maxPods: 3 }, /^more than 3 pods bound to nodes: the pending-pod diagnosis reads at most 3 .* the scheduler's message on the pod says why it waits$/, '/api/v1/pods'],
    ['nodes', { maxNodes: 2 }, /^more than 2 schedulable nodes: the pending-pod diagnosis reads at most 2 /, '/api/v1/nodes'],
    ['volumes', { maxVolumes: 4 }, /^more than 4 PersistentVolumes: /, '/api/v1/persistentvolumes'],
  ];
  for (const [what, limit, message, path] of table) {
    const a = await api();
    try {
      const read = diagnosisFactsReader(a.clients, controllerClients(a.clients), { limits: { ...LIMITS, ...limit } });
      const err = await read('db', ['data-unbound']).then(
        () => null,
        (e: Error) => e,
      );
      t.ok(err instanceof DiagnosisLimitError, `${what}: refused`);
      t.match(err?.message, message, `${what}: says why`);
      const asked = a.requests.filter((r) => r.path === path).reduce((n, r) => n + Number(r.query.get('limit')), 0);
      t.equal(asked, Object.values(limit)[0]! + 1, `${what}: asked for one item past the cap, no more`);
    } finally {
      await a.close();
    }
  }
});

t.test('node facts are shared for a while, then read again', async (t) => {
  const a = await api();
  t.teardown(() => a.close());
  let now = 0;
  const read = diagnosisFactsReader(a.clients, controllerClients(a.clients), { limits: LIMITS, maxAgeMs: 30_000, now: () => now });
  await read('db', ['data-bound']);
  const first = lists(a).length;
  now = 29_000;
  await read('db', ['data-bound']);
  t.equal(lists(a).length, first, 'within 30 s: no LIST');
  now = 31_000;
  await read('db', ['data-bound']);
  t.equal(lists(a).length, first * 2, 'after 30 s: read again');
});
