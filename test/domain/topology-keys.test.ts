// Per-cluster PD topology keys: spec.pd.topologyKeys, written on the PD pods as an annotation, replace
// the extender's configured keys for that cluster's PD members. The pure parts as tables, then the
// node cache, the placement service and the filter verb over them.
import t from 'tap';
import { ANNOTATION_TOPOLOGY_KEYS, filterNodes, isLabelKey, parseTopologyKeys, planPlacement, topologyKeysFor } from '../../src/domain/placement.ts';
import type { TidbIdentity } from '../../src/domain/model.ts';
import { pingcapClusterView, podView, PINGCAP_HA_TOPOLOGY_KEY } from '../../src/k8s/views.ts';
import { HOST, ZONE, makeNode, makePod, nodeStore } from '../builders.ts';
import { post, testApp } from '../http/harness.ts';

t.test('parseTopologyKeys: label keys in order, without repeats; null when none or any is malformed', async (t) => {
  const rows: Array<[string | undefined | null, string[] | null]> = [
    [undefined, null],
    [null, null],
    ['', null],
    [' , ', null],
    [ZONE, [ZONE]],
    [`${ZONE},${HOST}`, [ZONE, HOST]],
    [` ${ZONE} , ${ZONE},${HOST} `, [ZONE, HOST]],
    ['rack', ['rack']],
    ['example.com/rack_row.1', ['example.com/rack_row.1']],
    [`${ZONE},not a key`, null],
    ['/rack', null],
    ['Example.com/rack', null],
    [`x/${'a'.repeat(64)}`, null],
    [`x/${'a'.repeat(63)}`, [`x/${'a'.repeat(63)}`]],
    ['-rack', null],
    [`${ZONE},,${HOST}`, [ZONE, HOST]],
    ['a', ['a']],
    ['a.b-c/d', ['a.b-c/d']],
    ['a.b/c', ['a.b/c']],
    ['x/a.b-c_D', ['x/a.b-c_D']],
    ['x/y/z', null],
    ['x/', null],
    ['a_b/c', null],
    ['ab-/c', null],
    ['.a/c', null],
    ['a..b/c', null],
    ['x/a_', null],
    ['x/_a', null],
    [`${'a'.repeat(253)}/x`, [`${'a'.repeat(253)}/x`]],
    [`${'a'.repeat(254)}/x`, null],
  ];
  for (const [value, want] of rows) t.same(parseTopologyKeys(value), want, JSON.stringify(value));
  t.ok(isLabelKey(HOST));
  t.notOk(isLabelKey(''));
  t.equal(ANNOTATION_TOPOLOGY_KEYS, 'tidb-steward.dev/topology-keys', 'the name the controller writes and the README gives');
});

t.test('topologyKeysFor: a PD member follows its cluster\'s keys, everything else the configured ones', async (t) => {
  const configured = [HOST];
  const rows: Array<[string, 'pd' | 'tikv', readonly string[] | undefined, readonly string[], string]> = [
    ['PD with its own keys', 'pd', [ZONE], [ZONE], 'cluster'],
    ['PD with two keys of its own', 'pd', [HOST, ZONE], [HOST, ZONE], 'cluster'],
    ['PD without keys of its own', 'pd', undefined, configured, 'configured'],
    ['PD with an empty list', 'pd', [], configured, 'configured'],
    ['TiKV ignores the annotation (spec.pd.topologyKeys is PD\'s)', 'tikv', [ZONE], configured, 'configured'],
  ];
  for (const [name, component, own, keys, source] of rows) t.same(topologyKeysFor(component, own, configured), { keys, source }, name);
});

// 4 nodes in 2 zones: node-a, node-b in zone-a; node-c, node-d in zone-b.
const nodes = [makeNode('node-a', { [ZONE]: 'zone-a' }), makeNode('node-b', { [ZONE]: 'zone-a' }), makeNode('node-c', { [ZONE]: 'zone-b' }), makeNode('node-d', { [ZONE]: 'zone-b' })];
const pd: TidbIdentity = { namespace: 'db', cluster: 'basic', component: 'pd' };

t.test('the decision: the cluster\'s zone key refuses what the configured hostname key allows', async (t) => {
  const index = nodeStore(nodes, [HOST]);
  const request = { identity: pd, replicas: 3, peerNodes: ['node-a'] };
  const byConfigured = filterNodes(planPlacement(request, topologyKeysFor('pd', undefined, [HOST]).keys, index), ['node-a', 'node-b', 'node-c', 'node-d'], index);
  t.same(byConfigured.fits, ['node-b', 'node-c', 'node-d'], 'hostname only: another node of zone-a is fine');
  const byCluster = filterNodes(planPlacement(request, topologyKeysFor('pd', [ZONE], [HOST]).keys, index), ['node-a', 'node-b', 'node-c', 'node-d'], index);
  t.same(byCluster.fits, ['node-c', 'node-d'], 'zone: only zone-b');
  t.same(byCluster.refused, {
    'node-a': 'topology.kubernetes.io/zone=zone-a (node node-a) already holds 1 of 3 PD members of cluster db/basic (at most 1 per topology.kubernetes.io/zone)',
    'node-b': 'topology.kubernetes.io/zone=zone-a (node node-b) already holds 1 of 3 PD members of cluster db/basic (at most 1 per topology.kubernetes.io/zone)',
  });
});

t.test('node cache: a key not configured is indexed on first use and kept up to date', async (t) => {
  const store = nodeStore(nodes, [HOST]);
  t.same(store.indexedKeys(), [HOST]);
  t.same([...store.inDomain(ZONE, 'zone-a')].map((n) => n.name).sort(), ['node-a', 'node-b']);
  t.same(store.indexedKeys(), [HOST, ZONE]);
  t.same([...store.missing('rack')].map((n) => n.name).sort(), ['node-a', 'node-b', 'node-c', 'node-d'], 'nodes without the label are known as such');
  store.upsert('node-e', makeNode('node-e', { [ZONE]: 'zone-a', rack: 'r1' }));
  store.upsert('node-b', makeNode('node-b', { [ZONE]: 'zone-b' }));
  store.remove('node-a');
  t.same([...store.inDomain(ZONE, 'zone-a')].map((n) => n.name), ['node-e']);
  t.same([...store.inDomain(ZONE, 'zone-b')].map((n) => n.name).sort(), ['node-b', 'node-c', 'node-d']);
  t.same([...store.inDomain('rack', 'r1')].map((n) => n.name), ['node-e']);
  t.same([...store.missing('rack')].map((n) => n.name).sort(), ['node-b', 'node-c', 'node-d']);
  store.replace([['node-x', makeNode('node-x', { [ZONE]: 'zone-c' })]]);
  t.same([...store.inDomain(ZONE, 'zone-c')].map((n) => n.name), ['node-x'], 'a relist keeps the learned keys indexed');
});

t.test('pod view: PD pods carry their cluster\'s keys; TiKV pods and malformed values do not', async (t) => {
  const wire = (component: 'pd' | 'tikv', value?: string) => {
    const w = makePod(`basic-${component}-0`).of('db', 'basic', component).wire() as { metadata: Record<string, unknown> };
    if (value !== undefined) w.metadata.annotations = { [ANNOTATION_TOPOLOGY_KEYS]: value };
    return w;
  };
  t.same(podView(wire('pd', `${ZONE},${HOST}`)).value?.topologyKeys, [ZONE, HOST]);
  t.equal(podView(wire('pd')).value?.topologyKeys, undefined);
  t.equal(podView(wire('pd', 'bad key')).value?.topologyKeys, undefined);
  t.equal(podView(wire('tikv', ZONE)).value?.topologyKeys, undefined);
});

t.test('filter verb: the PD pod\'s annotation decides, from the request alone (configured key: hostname)', async (t) => {
  const peer = makePod('basic-pd-0').of('db', 'basic', 'pd').on('node-a').view();
  const { app } = testApp({ nodes, pods: [peer] });
  const args = (annotation?: string) => {
    const pod = makePod('basic-pd-1').of('db', 'basic', 'pd').wire() as { metadata: Record<string, unknown> };
    if (annotation) pod.metadata.annotations = { [ANNOTATION_TOPOLOGY_KEYS]: annotation, other: 'x' };
    return { Pod: pod, NodeNames: ['node-a', 'node-b', 'node-c', 'node-d'] };
  };
  const plain = (await app.inject(post('/scheduler/filter', args()))).json();
  t.same(plain.NodeNames, ['node-b', 'node-c', 'node-d'], 'without the annotation: the configured hostname key');
  const zoned = (await app.inject(post('/scheduler/filter', args(ZONE)))).json();
  t.same(zoned.NodeNames, ['node-c', 'node-d'], 'with it: the cluster\'s zone key');
  t.match(zoned.FailedAndUnresolvableNodes['node-b'], /^topology\.kubernetes\.io\/zone=zone-a \(node node-b\) already holds 1 of 3 PD members of cluster db\/basic/);
  const scores = (await app.inject(post('/scheduler/prioritize', args(ZONE)))).json() as Array<{ Host: string; Score: number }>;
  const score = Object.fromEntries(scores.map((s) => [s.Host, s.Score]));
  t.ok(score['node-c']! > score['node-b']!, `prioritize also spreads by zone: ${JSON.stringify(score)}`);
});

t.test('a cluster PingCAP\'s operator runs: its pingcap.com/ha-topology-key spreads its PD pods', async (t) => {
  const view = (annotations?: Record<string, string>) => pingcapClusterView({ metadata: { namespace: 'db', name: 'basic', ...(annotations ? { annotations } : {}) } });
  t.same(view({ [PINGCAP_HA_TOPOLOGY_KEY]: ZONE }), { key: 'db/basic', value: { topologyKeys: [ZONE] } }, 'kept with its key');
  t.same(view(), { key: 'db/basic', value: null }, 'no annotation: not kept (the configured keys apply)');
  t.same(view({ [PINGCAP_HA_TOPOLOGY_KEY]: 'not a key' }), { key: 'db/basic', value: null }, 'a malformed key: not kept');
  const peer = makePod('basic-pd-0').of('db', 'basic', 'pd').on('node-a').view();
  const keys = new Map([['db/basic', [ZONE]]]);
  const { app } = testApp({ nodes, pods: [peer], clusterTopologyKeys: (ns, c) => keys.get(`${ns}/${c}`) });
  const args = (annotation?: string) => {
    const pod = makePod('basic-pd-1').of('db', 'basic', 'pd').wire() as { metadata: Record<string, unknown> };
    if (annotation) pod.metadata.annotations = { [ANNOTATION_TOPOLOGY_KEYS]: annotation };
    return { Pod: pod, NodeNames: ['node-a', 'node-b', 'node-c', 'node-d'] };
  };
  t.same((await app.inject(post('/scheduler/filter', args()))).json().NodeNames, ['node-c', 'node-d'], 'the cluster\'s zone key, though the pod carries none');
  t.same((await app.inject(post('/scheduler/filter', args(HOST)))).json().NodeNames, ['node-b', 'node-c', 'node-d'], 'the pod\'s own annotation wins');
  keys.clear();
  t.same((await app.inject(post('/scheduler/filter', args()))).json().NodeNames, ['node-b', 'node-c', 'node-d'], 'annotation gone: the configured hostname key again');
});

t.test('bind verb: the live pod\'s annotation decides the re-check', async (t) => {
  const peer = makePod('basic-pd-0').of('db', 'basic', 'pd').on('node-a').view();
  const pending = { ...makePod('basic-pd-1').of('db', 'basic', 'pd').uid('pd-1').view(), topologyKeys: [ZONE] };
  const { app } = testApp({ nodes, pods: [peer, pending] });
  const bind = (node: string) => app.inject(post('/scheduler/bind', { PodName: 'basic-pd-1', PodNamespace: 'db', PodUID: 'pd-1', Node: node }));
  t.match((await bind('node-b')).json().Error, /binding refused: topology\.kubernetes\.io\/zone=zone-a \(node node-b\) already holds 1 of 3 PD members/);
  t.equal((await bind('node-c')).json().Error, '', 'bound in the other zone');
});
