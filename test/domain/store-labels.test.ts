import t from 'tap';
import {
  DEFAULT_LABEL_SOURCES,
  decideLocationLabels,
  decideStoreLabels,
  locationLabelsFor,
  nodeLabelFor,
  parseLabelSources,
  pdKeyOf,
  type StoreLabelsInput,
} from '../../src/domain/store-labels.ts';

const ZONE = 'topology.kubernetes.io/zone';
const HOST = 'kubernetes.io/hostname';
const REGION = 'topology.kubernetes.io/region';

t.test('locationLabelsFor: zone and host always, the cluster\'s keys under their PD names, largest first', async (t) => {
  const table: Array<[string[] | undefined, string[]]> = [
    [undefined, ['zone', 'host']],
    [[], ['zone', 'host']],
    [[ZONE], ['zone', 'host']],
    [[HOST], ['zone', 'host']],
    [[HOST, ZONE], ['zone', 'host']],
    [[REGION, ZONE], ['region', 'zone', 'host']],
    [['failure-domain.beta.kubernetes.io/zone'], ['zone', 'host']],
    [['example.com/rack', ZONE], ['zone', 'example.com/rack', 'host']],
    [['rack', 'example.com/row', REGION], ['region', 'zone', 'rack', 'example.com/row', 'host']],
  ];
  for (const [keys, want] of table) t.same(locationLabelsFor(keys), want, JSON.stringify(keys));
  t.same(locationLabelsFor(['example.com/rack'], { ...DEFAULT_LABEL_SOURCES, rack: ['example.com/rack'] }), ['zone', 'rack', 'host'], 'a configured mapping gives the short name');
});

t.test('pdKeyOf and nodeLabelFor follow the mapping; a node label named like the PD key wins', async (t) => {
  t.equal(pdKeyOf(ZONE), 'zone');
  t.equal(pdKeyOf(HOST), 'host');
  t.equal(pdKeyOf('example.com/rack'), 'example.com/rack');
  t.same(nodeLabelFor('zone', { [ZONE]: 'a', 'failure-domain.beta.kubernetes.io/zone': 'old' }), { value: 'a', from: ZONE });
  t.same(nodeLabelFor('zone', { 'failure-domain.beta.kubernetes.io/zone': 'old' }), { value: 'old', from: 'failure-domain.beta.kubernetes.io/zone' });
  t.same(nodeLabelFor('zone', { zone: 'mine', [ZONE]: 'a' }), { value: 'mine', from: 'zone' });
  t.same(nodeLabelFor('zone', { [ZONE]: '' }), null, 'an empty label is no zone');
  t.same(nodeLabelFor('rack', { rack: 'r1' }), { value: 'r1', from: 'rack' });
  t.equal(nodeLabelFor('rack', { 'example.com/rack': 'r1' }), null);
});

t.test('parseLabelSources: overrides over the defaults, clear errors', async (t) => {
  t.same(parseLabelSources(''), DEFAULT_LABEL_SOURCES);
  t.same(parseLabelSources('rack=example.com/rack, zone = example.com/zone|topology.kubernetes.io/zone'), {
    ...DEFAULT_LABEL_SOURCES,
    rack: ['example.com/rack'],
    zone: ['example.com/zone', ZONE],
  });
  for (const bad of ['rack', 'rack=', '=example.com/rack', 'ra ck=x', '-rack=x']) {
    t.equal(parseLabelSources(bad), `store label mapping "${bad}" is not <PD label key>=<node label key>[|<node label key>...], e.g. zone=topology.kubernetes.io/zone`, bad);
  }
});

const base: StoreLabelsInput = {
  storeId: '4',
  pod: 'db/basic-tikv-0',
  nodeName: 'n1',
  nodeLabels: { [HOST]: 'n1', [ZONE]: 'z1', 'kubernetes.io/os': 'linux' },
  locationLabels: ['zone', 'host'],
  current: {},
};

t.test('decideStoreLabels table', async (t) => {
  const table: Array<{ name: string; input: Partial<StoreLabelsInput>; want: ReturnType<typeof decideStoreLabels> }> = [
    {
      name: 'a new store gets its zone and host',
      input: {},
      want: { kind: 'set', labels: { zone: 'z1', host: 'n1' }, reason: `store 4 (db/basic-tikv-0) on node n1: zone=z1 from node label ${ZONE}; host=n1 from node label ${HOST}` },
    },
    {
      name: 'already right: nothing to do (other store labels are not ours)',
      input: { current: { zone: 'z1', host: 'n1', engine: 'tikv' } },
      want: { kind: 'unchanged', labels: null, reason: 'store 4 (db/basic-tikv-0) already carries the location labels of node n1' },
    },
    {
      name: 'PD compares keys without regard to case',
      input: { current: { Zone: 'z1', HOST: 'n1' } },
      want: { kind: 'unchanged', labels: null, reason: 'store 4 (db/basic-tikv-0) already carries the location labels of node n1' },
    },
    {
      name: 'the pod moved to another node (a network volume)',
      input: { current: { zone: 'z2', host: 'n2' } },
      want: { kind: 'set', labels: { zone: 'z1', host: 'n1' }, reason: `store 4 (db/basic-tikv-0) on node n1: zone=z1 from node label ${ZONE} (was z2); host=n1 from node label ${HOST} (was n2)` },
    },
    {
      name: 'the node lost its zone label: the stale zone is removed',
      input: { nodeLabels: { [HOST]: 'n1' }, current: { zone: 'z1', host: 'n1' } },
      want: { kind: 'set', labels: { zone: '', host: 'n1' }, reason: `store 4 (db/basic-tikv-0) on node n1: zone z1 removed (node n1 has no zone or ${ZONE} or failure-domain.beta.kubernetes.io/zone label)` },
    },
    {
      name: 'a node without a zone and a store without one: only host',
      input: { nodeLabels: { [HOST]: 'n1' } },
      want: { kind: 'set', labels: { host: 'n1' }, reason: `store 4 (db/basic-tikv-0) on node n1: host=n1 from node label ${HOST}` },
    },
    {
      name: 'PD\'s own keys, read through a configured mapping',
      input: { locationLabels: ['zone', 'rack', 'host'], nodeLabels: { [HOST]: 'n1', [ZONE]: 'z1', 'example.com/rack': 'r7' }, current: { zone: 'z1', host: 'n1' }, sources: { ...DEFAULT_LABEL_SOURCES, rack: ['example.com/rack'] } },
      want: { kind: 'set', labels: { zone: 'z1', rack: 'r7', host: 'n1' }, reason: 'store 4 (db/basic-tikv-0) on node n1: rack=r7 from node label example.com/rack' },
    },
    {
      name: 'the node is not in the cache: unknown, do nothing',
      input: { nodeLabels: undefined },
      want: { kind: 'unknown', labels: null, reason: "node n1 of store 4 (db/basic-tikv-0) is not in tidb-steward's node cache yet; its labels are left as PD has them until it is" },
    },
    {
      name: 'the pod is not bound: unknown',
      input: { nodeName: null, nodeLabels: undefined },
      want: { kind: 'unknown', labels: null, reason: 'the node of store 4 (db/basic-tikv-0) is not known: its pod is not bound to a node; its labels are left as PD has them' },
    },
    {
      name: 'PD has no location labels',
      input: { locationLabels: [] },
      want: { kind: 'unchanged', labels: null, reason: 'PD has no replication.location-labels, so labels on store 4 (db/basic-tikv-0) would not separate replicas; set location-labels first' },
    },
  ];
  for (const row of table) t.same(decideStoreLabels({ ...base, ...row.input }), row.want, row.name);
});

t.test('decideStoreLabels: a value PD would refuse is not sent', async (t) => {
  // Kubernetes label values are a subset of PD's; a hand-made mapping to an annotation-like key is not.
  const d = decideStoreLabels({ ...base, locationLabels: ['rack'], nodeLabels: { rack: 'a b' } });
  t.same(d, { kind: 'unknown', labels: null, reason: 'node n1 label rack="a b" is not a value PD accepts for rack; store 4 (db/basic-tikv-0) keeps its labels' });
});

t.test('decideLocationLabels table', async (t) => {
  const table: Array<[string[] | null, string[], ReturnType<typeof decideLocationLabels>]> = [
    [null, ['zone', 'host'], { set: null, reason: "PD's replication.location-labels are not known yet; they are checked again on the next reconcile" }],
    [[], ['zone', 'host'], { set: ['zone', 'host'], reason: 'PD had no location labels: replicas of a region could share a zone; set to zone, host' }],
    [['zone', 'host'], ['zone', 'host'], { set: null, reason: 'PD separates replicas by zone, host already' }],
    [
      ['zone', 'rack', 'host'],
      ['zone', 'host'],
      { set: null, reason: 'PD separates replicas by zone, rack, host, not the zone, host tidb-steward would set; left as it is (set on purpose, or before a topology change: change it with pd-ctl), and store labels follow PD\'s' },
    ],
  ];
  for (const [current, desired, want] of table) t.same(decideLocationLabels(current, desired), want, JSON.stringify(current));
});
