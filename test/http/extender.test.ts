import t from 'tap';
import { fixture, post, testApp } from './harness.ts';
import { makePod } from '../builders.ts';

const pdOn = (name: string, node: string, uid?: string) => {
  const b = makePod(name).of('db', 'basic', 'pd').on(node);
  if (uid) b.uid(uid);
  return b.view();
};

t.test('filter (NodeNames mode, recorded shape): refuses the node holding a PD member, with the reason', async (t) => {
  const { app } = testApp({ pods: [pdOn('basic-pd-0', 'node-a')] });
  const res = await app.inject(post('/scheduler/filter', fixture('filter-pd-nodenames.json')));
  t.equal(res.statusCode, 200);
  t.same(res.json(), {
    Nodes: null,
    NodeNames: ['node-b', 'node-c'],
    FailedNodes: {},
    FailedAndUnresolvableNodes: { 'node-a': 'node node-a already holds 1 of 3 PD members of cluster db/basic (at most 1 per kubernetes.io/hostname)' },
    Error: '',
  });
});

t.test('filter (full Nodes mode): echoes the surviving Node objects', async (t) => {
  const { app } = testApp({ pods: [pdOn('basic-pd-0', 'node-a'), pdOn('basic-pd-2', 'node-c')] });
  const body = fixture('filter-pd-nodes.json');
  const res = await app.inject(post('/scheduler/filter', body));
  const out = res.json();
  t.equal(out.NodeNames, null);
  t.same(out.Nodes.items.map((n: { metadata: { name: string } }) => n.metadata.name), ['node-b']);
  const sent = (body.Nodes as { items: Array<{ metadata: { name: string } }> }).items[1];
  t.same(out.Nodes.items[0], sent, 'the object comes back unchanged');
  t.same(Object.keys(out.FailedAndUnresolvableNodes), ['node-a', 'node-c']);
});

t.test('filter passes every node for a pod that is not a TiDB PD/TiKV pod', async (t) => {
  const { app, metrics } = testApp({ pods: [pdOn('basic-pd-0', 'node-a')] });
  const res = await app.inject(post('/scheduler/filter', fixture('filter-plain-nodenames.json')));
  t.same(res.json(), { Nodes: null, NodeNames: ['node-a', 'node-b', 'node-c'], FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' });
  t.match(await metrics.registry.metrics(), /tidb_steward_extender_filter_decisions_total\{component="other",outcome="passthrough"\} 1/);
});

t.test('bad input gets a clear answer, never a crash', async (t) => {
  const { app } = testApp({ bodyLimitBytes: 64 * 1024 });
  const table: Array<{ name: string; req: ReturnType<typeof post>; status: number; match: RegExp }> = [
    { name: 'not JSON', req: post('/scheduler/filter', '{"Pod":'), status: 400, match: /not valid JSON|Unexpected end|JSON/ },
    { name: 'empty body', req: post('/scheduler/filter', ''), status: 400, match: /empty/i },
    { name: 'wrong content type', req: post('/scheduler/filter', 'Pod=x', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, match: /Content-Type: application\/json/ },
    { name: 'huge body', req: post('/scheduler/filter', JSON.stringify({ Pod: {}, pad: 'x'.repeat(100 * 1024) })), status: 413, match: /nodeCacheCapable/ },
  ];
  for (const row of table) {
    const res = await app.inject(row.req);
    t.equal(res.statusCode, row.status, `${row.name}: HTTP ${row.status}`);
    t.match(res.json().Error, row.match, `${row.name}: says what is wrong`);
  }
  const answers: Array<{ name: string; body: unknown; match: RegExp }> = [
    { name: 'missing Pod', body: { NodeNames: ['a'] }, match: /Pod/ },
    { name: 'Pod without name', body: { Pod: { metadata: {} }, NodeNames: ['a'] }, match: /Pod\.metadata\.name/ },
    { name: 'no node list', body: { Pod: { metadata: { name: 'p' } } }, match: /neither NodeNames nor Nodes/ },
    { name: 'NodeNames not strings', body: { Pod: { metadata: { name: 'p' } }, NodeNames: [1, 2] }, match: /NodeNames: must be a list of node names/ },
    { name: 'JSON array', body: [], match: /expected object/ },
  ];
  for (const row of answers) {
    const res = await app.inject(post('/scheduler/filter', row.body));
    t.equal(res.statusCode, 200, `${row.name}: answered in the Error field`);
    t.match(res.json(), { Error: row.match, NodeNames: null }, row.name);
  }
});

t.test('every extender verb reads bodies up to the configured limit, not Fastify\'s 1 MiB default', async (t) => {
  // A CI fuzz run met a 413 (and a dropped connection) on /scheduler/bind for a 2 MB body under a 2 MiB limit.
  const { app } = testApp({ bodyLimitBytes: 2 * 1024 * 1024 });
  for (const path of ['/scheduler/filter', '/scheduler/prioritize', '/scheduler/bind']) {
    const res = await app.inject(post(path, JSON.stringify({ pad: 'x'.repeat(1_500_000) })));
    t.not(res.statusCode, 413, `${path}: a 1.5 MB body is read`);
    t.match(res.body, /could not read Extender(Binding)?Args/, `${path}: and answered on its content`);
  }
  const over = await app.inject(post('/scheduler/bind', JSON.stringify({ pad: 'x'.repeat(2_200_000) })));
  t.equal(over.statusCode, 413, 'over the configured limit: 413');
});

t.test('unknown cluster replica count and unsynced caches are scheduler-visible errors', async (t) => {
  const { app, setSynced } = testApp();
  const args = fixture('filter-pd-nodenames.json') as { Pod: { metadata: { ownerReferences: Array<{ name: string }> } } };
  args.Pod.metadata.ownerReferences[0]!.name = 'unknown-pd';
  t.match((await app.inject(post('/scheduler/filter', args))).json().Error, /StatefulSet db\/unknown-pd is not in tidb-steward's cache/);
  setSynced(false);
  t.match((await app.inject(post('/scheduler/filter', fixture('filter-pd-nodenames.json')))).json().Error, /not synced|have not synced/);
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.same(ready.json().waitingFor, ['pods cache']);
});

t.test('prioritize scores emptier nodes higher, and 0 for other pods', async (t) => {
  const { app } = testApp({ pods: [pdOn('basic-pd-0', 'node-a')] });
  const res = await app.inject(post('/scheduler/prioritize', fixture('filter-pd-nodenames.json')));
  t.same(res.json(), [{ Host: 'node-a', Score: 5 }, { Host: 'node-b', Score: 10 }, { Host: 'node-c', Score: 10 }]);
  t.same((await app.inject(post('/scheduler/prioritize', fixture('filter-plain-nodenames.json')))).json(), []);
  t.equal((await app.inject(post('/scheduler/prioritize', { nope: 1 }))).statusCode, 400);
});

t.test('bind records the placement and refuses one that breaks the rule', async (t) => {
  const uid = (fixture('bind-pd.json') as { PodUID: string }).PodUID;
  const { app, api, binder } = testApp({ pods: [pdOn('basic-pd-0', 'node-a'), { ...pdOn('basic-pd-1', '', uid), nodeName: null }] });
  const ok = await app.inject(post('/scheduler/bind', fixture('bind-pd.json')));
  t.same(ok.json(), { Error: '' });
  t.equal(api.get('db/basic-pd-1')?.nodeName, 'node-b');
  t.same(binder.binds, [['basic-pd-1', 'node-b']]);
  api.upsert('db/basic-pd-2', { ...pdOn('basic-pd-2', '', 'u2'), nodeName: null });
  const refused = await app.inject(post('/scheduler/bind', { PodName: 'basic-pd-2', PodNamespace: 'db', PodUID: 'u2', Node: 'node-b' }));
  t.match(refused.json().Error, /binding refused: node node-b already holds 1 of 3 PD members/);
  t.match((await app.inject(post('/scheduler/bind', { PodName: 'x' }))).json().Error, /ExtenderBindingArgs/);
});

t.test('health, readiness, metrics and unknown routes', async (t) => {
  const { app } = testApp();
  t.same((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  t.same((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready' });
  await app.inject(post('/scheduler/filter', fixture('filter-plain-nodenames.json')));
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /tidb_steward_http_request_duration_seconds_bucket\{le="0.001",route="\/scheduler\/filter",method="POST",code="200"\}/);
  t.match(metrics.body, /tidb_steward_cache_objects/);
  const missing = await app.inject({ method: 'GET', url: '/nope' });
  t.equal(missing.statusCode, 404);
});

t.test('payloads recorded from the real kube-scheduler v1.36 (filter, prioritize, bind)', async (t) => {
  const peer = makePod('basic-pd-1').of('record', 'basic', 'pd').on('node-a').view();
  const recorded = fixture('recorded-filter-pd-nodenames.json') as { Pod: { metadata: { uid: string } } };
  const self = { ...makePod('basic-pd-0').of('record', 'basic', 'pd').view(), uid: recorded.Pod.metadata.uid };
  const { app, api } = testApp({ pods: [peer, self], statefulSets: [{ namespace: 'record', name: 'basic-pd', replicas: 3 }] });
  const filtered = (await app.inject(post('/scheduler/filter', recorded))).json();
  t.same(filtered.NodeNames, ['node-b', 'node-c']);
  t.match(filtered.FailedAndUnresolvableNodes['node-a'], /node node-a already holds 1 of 3 PD members of cluster record\/basic/);
  const scores = (await app.inject(post('/scheduler/prioritize', fixture('recorded-prioritize-pd.json')))).json();
  t.same(scores.map((s: { Host: string }) => s.Host), ['node-a', 'node-b', 'node-c']);
  const bound = (await app.inject(post('/scheduler/bind', { ...fixture('recorded-bind-pd.json'), Node: 'node-b' }))).json();
  t.same(bound, { Error: '' });
  t.equal(api.get('record/basic-pd-0')?.nodeName, 'node-b');
});
