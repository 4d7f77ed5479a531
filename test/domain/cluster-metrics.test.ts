// Per-cluster metrics: tables of PD snapshots and ledgers → samples, and the exporter's scrape of
// what was last seen (series of a store or cluster that is gone disappear).
import t from 'tap';
import { ledgerSamples, pdSamples, type Sample } from '../../src/domain/cluster-metrics.ts';
import type { PdFacts } from '../../src/pd/facts.ts';
import type { StoreInfo } from '../../src/pd/client.ts';
import { ClusterObservations } from '../../src/state/observations.ts';
import { createMetrics } from '../../src/http/metrics.ts';

const member = (name: string, healthy = true) => ({ name, healthy, member: { name, member_id: 1, client_urls: [] } as never });
const store = (id: string, state: string, leaders: number): StoreInfo => ({ store: { id, address: `tikv-${id}`, state_name: state, labels: [] }, status: { leader_count: leaders, region_count: leaders * 3 } }) as StoreInfo;

function facts(over: Partial<PdFacts> = {}): PdFacts {
  return { at: 1_000, members: [member('pd-0'), member('pd-1'), member('pd-2')], leader: 'pd-0', stores: [], evicting: [], maxReplicas: 3, regionChecks: new Map(), locationLabels: [], unknown: {}, ...over };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

t.test('PD quorum margin: members that may still fail', async (t) => {
  const table: Array<[string, PdFacts['members'], number | undefined]> = [
    ['3 of 3 healthy', [member('a'), member('b'), member('c')], 1],
    ['2 of 3', [member('a'), member('b'), member('c', false)], 0],
    ['1 of 3: quorum lost', [member('a'), member('b', false), member('c', false)], -1],
    ['5 of 5', ['a', 'b', 'c', 'd', 'e'].map((n) => member(n)), 2],
    ['4 of 4 (an even count buys nothing)', ['a', 'b', 'c', 'd'].map((n) => member(n)), 1],
    ['no member listed', [], -1],
    ['members unknown: no series', null, undefined],
  ];
  for (const [name, members, margin] of table) t.equal(value(pdSamples('db', 'basic', facts({ members }), 1_000), 'tidb_steward_pd_quorum_margin'), margin, name);
});

t.test('PD samples: members, leader, stores by state, leaders per live store, evictions, unknown facts, age', async (t) => {
  const s = pdSamples('db', 'basic', facts({ stores: [store('1', 'Up', 10), store('2', 'Up', 0), store('3', 'Tombstone', 0), store('4', 'Offline', 2)], evicting: ['2'] }), 4_500);
  t.equal(value(s, 'tidb_steward_pd_members'), 3);
  t.equal(value(s, 'tidb_steward_pd_members_healthy'), 3);
  t.equal(value(s, 'tidb_steward_pd_leader', { member: 'pd-0' }), 1);
  t.same([value(s, 'tidb_steward_tikv_stores', { state: 'Up' }), value(s, 'tidb_steward_tikv_stores', { state: 'Tombstone' }), value(s, 'tidb_steward_tikv_stores', { state: 'Offline' })], [2, 1, 1]);
  t.same(s.filter((x) => x.name === 'tidb_steward_tikv_store_leaders').map((x) => [x.labels.store, x.value]), [['1', 10], ['2', 0], ['4', 2]], 'Tombstone stores have no leader series');
  t.equal(value(s, 'tidb_steward_pd_evict_leader_entries'), 1);
  t.equal(value(s, 'tidb_steward_pd_snapshot_age_seconds'), 3.5);
  t.ok(s.every((x) => x.labels.namespace === 'db' && x.labels.cluster === 'basic'), 'every series names its cluster');
  const unknown = pdSamples('db', 'basic', facts({ stores: null, evicting: null, unknown: { stores: 'timeout', evicting: 'timeout' } }), 1_000);
  t.same(unknown.filter((x) => x.name === 'tidb_steward_pd_fact_unknown').map((x) => x.labels.fact).sort(), ['evicting', 'stores']);
  t.equal(value(unknown, 'tidb_steward_tikv_stores'), undefined, 'an unknown fact is no series, not a zero');
});

t.test('ledger samples: disruptions in flight by component and act, leader evictions by cause, oldest ages', async (t) => {
  const s = ledgerSamples('db', 'basic', {
    leaving: [
      { component: 'pd', member: 'pd-1', pod: 'basic-pd-1', podUid: 'u1', since: 10_000, act: 'drain' },
      { component: 'tikv', member: '4', pod: 'basic-tikv-3', podUid: 'u2', since: 40_000, act: 'scale-in' },
      { component: 'tikv', member: '5', pod: 'basic-tikv-4', podUid: 'u3', since: 20_000, act: 'scale-in' },
      { component: 'tikv', member: '6', pod: 'basic-tikv-5', podUid: 'u4', since: 50_000 },
    ],
    evictions: [
      { storeId: '4', podUid: 'u2', beganAt: 30_000, cause: 'cordon' },
      { storeId: '5', podUid: 'u3', beganAt: 45_000, cause: 'removal' },
    ],
  }, 60_000);
  t.equal(value(s, 'tidb_steward_disruptions_in_flight', { component: 'tikv', act: 'scale-in' }), 2);
  t.equal(value(s, 'tidb_steward_disruptions_in_flight', { component: 'tikv', act: 'eviction' }), 1, 'entries written before acts were recorded read as an eviction');
  t.equal(value(s, 'tidb_steward_disruptions_in_flight', { component: 'pd', act: 'drain' }), 1);
  t.equal(value(s, 'tidb_steward_disruption_oldest_seconds', { component: 'tikv' }), 40);
  t.equal(value(s, 'tidb_steward_disruption_oldest_seconds', { component: 'pd' }), 50);
  t.same([value(s, 'tidb_steward_leader_evictions', { cause: 'cordon' }), value(s, 'tidb_steward_leader_evictions', { cause: 'removal' })], [1, 1]);
  t.equal(value(s, 'tidb_steward_leader_eviction_oldest_seconds'), 30);
  t.same(ledgerSamples('db', 'basic', { leaving: [], evictions: [] }, 60_000), [], 'an empty ledger: no series');
});

t.test('the scrape shows what was last seen; a store or a cluster that is gone disappears', async (t) => {
  let now = 1_000;
  const obs = new ClusterObservations({ keepMs: 60_000, now: () => now });
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.watchClusters(() => obs.samples());
  obs.pd('db', 'basic', facts({ at: now, stores: [store('1', 'Up', 7), store('2', 'Up', 3)] }));
  obs.ledger('db', 'basic', { leaving: [{ component: 'tikv', member: '2', pod: 'basic-tikv-1', podUid: 'u', since: now, act: 'drain' }], evictions: [] });
  let text = await metrics.registry.metrics();
  t.match(text, 'tidb_steward_pd_quorum_margin{namespace="db",cluster="basic"} 1');
  t.match(text, 'tidb_steward_tikv_store_leaders{namespace="db",cluster="basic",store="2"} 3');
  t.match(text, 'tidb_steward_disruptions_in_flight{namespace="db",cluster="basic",component="tikv",act="drain"} 1');
  now += 1_000;
  obs.pd('db', 'basic', facts({ at: now, stores: [store('1', 'Up', 10)] }));
  text = await metrics.registry.metrics();
  t.notMatch(text, 'store="2"', 'the store that is gone has no series');
  now += 61_000;
  text = await metrics.registry.metrics();
  t.notMatch(text, 'cluster="basic"', 'nothing seen for longer than keepMs: the cluster has no series');
  t.equal(obs.size, 0, 'and nothing is kept for it');
});
