// PD 3 → 5 over 3 zones through the extender's use cases (issue 14, finding 8): the controller adds
// one member at a time, so the StatefulSet has 4 replicas on the way, and 4 members allow 1 per zone.
// The StatefulSet carries the target (tidb-steward.dev/pd-target-replicas), read from the cache.
import t from 'tap';
import { PlacementService } from '../../src/services/placement.ts';
import { ReservationLedger } from '../../src/state/ledger.ts';
import { PodStore } from '../../src/state/stores.ts';
import { statefulSetView } from '../../src/k8s/views.ts';
import { makeNode, makeNodes, makePod, stores, ZONE } from '../builders.ts';
import { FakeEvents, fakeBinder, silentLogger } from '../fakes.ts';

const NODES = makeNodes(6, 3); // n1,n4 → z1; n2,n5 → z2; n3,n6 → z3
const ALL = NODES.map((n) => n.name);

/** pd-0..2 on n1..n3 (one per zone), pd-3 Pending; the StatefulSet at `replicas`, maybe with a target. */
function setup(sts: { replicas: number; targetReplicas?: number }, nodes = NODES, keys: string[] = [ZONE]) {
  const running = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`));
  const pending = makePod('basic-pd-3').of('db', 'basic', 'pd');
  const all = [...running, pending].map((p) => p.view());
  const s = stores({ nodes, pods: all, statefulSets: [{ namespace: 'db', name: 'basic-pd', ...sts }], keys });
  const api = new PodStore();
  api.replace(all.map((p) => [`db/${p.name}`, p]));
  const binder = fakeBinder(api);
  const events = new FakeEvents();
  const service = new PlacementService({ ...s, ledger: new ReservationLedger(), topologyKeys: keys, binder, events, reservationTtlMs: 60_000, isSynced: () => true, now: () => 1000, logger: silentLogger });
  const v = pending.view();
  const ref = { namespace: v.namespace, name: v.name, uid: v.uid, labels: pending.labels(), owner: v.owner };
  return { service, ref, binder, events, api, uid: v.uid };
}

t.test('the 4th of 5 PD members over 3 zones is placed, bound, and the window is told in an Event', async (t) => {
  const { service, ref, binder, events, uid } = setup({ replicas: 4, targetReplicas: 5 });
  const planned = service.plan(ref);
  if (planned.kind !== 'plan') throw new Error(`expected a plan, got ${JSON.stringify(planned)}`);
  const out = service.filter(planned.plan, ALL);
  t.same(out.fits, ALL, 'every zone holds 1 member, and 5 members allow 2 per zone');
  t.same(out.refused, {});
  t.same(await service.bind({ namespace: 'db', name: 'basic-pd-3', uid, node: 'n4' }), { component: 'pd', refusal: null });
  t.same(binder.binds, [['basic-pd-3', 'n4']]);
  t.equal(events.events.length, 1);
  const e = events.events[0]!;
  t.same([e.ref.name, e.type, e.reason], ['basic-pd-3', 'Warning', 'PlacedForScaleOut']);
  t.equal(
    e.message,
    'topology.kubernetes.io/zone=z1 (node n4) already holds 1 of 4 PD members of cluster db/basic (at most 1 per topology.kubernetes.io/zone); ' +
      'placed there within the limit of the next PD member count. ' +
      'PD of cluster db/basic tolerates no loss of a failure domain until its next member joins: topology.kubernetes.io/zone=z1 holds 2 of 4 members, and losing it would leave 2, fewer than the 3 a quorum of 4 needs. ' +
      'The scale-out to 5 adds one member at a time; 4 members allow only 1 per domain, so where no node offered keeps to that, tidb-steward places the member within the limit of 5 members (2 per domain), a layout that survives the loss of any one domain once member 5 joins',
  );
});

t.test('without a target (a StatefulSet tidb-steward did not write) the 4th stays refused, as before', async (t) => {
  const { service, ref, uid, events } = setup({ replicas: 4 });
  const planned = service.plan(ref);
  if (planned.kind !== 'plan') throw new Error('expected a plan');
  const out = service.filter(planned.plan, ALL);
  t.same(out.fits, []);
  t.equal(out.refused.n4, 'topology.kubernetes.io/zone=z1 (node n4) already holds 1 of 4 PD members of cluster db/basic (at most 1 per topology.kubernetes.io/zone)');
  t.match(await service.bind({ namespace: 'db', name: 'basic-pd-3', uid, node: 'n4' }), { refusal: /^binding refused: .*already holds 1 of 4 PD members/ });
  t.same(events.events, []);
});

t.test('the step limit is a fallback: with a 4th zone offered, the 4th member goes there', async (t) => {
  const nodes = [...NODES, makeNode('n7', { [ZONE]: 'z4' })];
  const { service, ref, uid, events } = setup({ replicas: 4, targetReplicas: 5 }, nodes);
  const planned = service.plan(ref);
  if (planned.kind !== 'plan') throw new Error('expected a plan');
  const out = service.filter(planned.plan, nodes.map((n) => n.name));
  t.same(out.fits, ['n7'], 'the interim rule still has a node: it is kept, and every 4-member layout survives a zone loss');
  t.equal(out.underTarget, false);
  t.same(await service.bind({ namespace: 'db', name: 'basic-pd-3', uid, node: 'n7' }), { component: 'pd', refusal: null });
  t.same(events.events, [], 'nothing to tell');
});

t.test('the step limit is the next count\'s, never the target\'s: scaling 4 → 7, a zone with 2 of 4 is full', async (t) => {
  const { service, ref, uid, api } = setup({ replicas: 4, targetReplicas: 7 });
  const planned = service.plan(ref);
  if (planned.kind !== 'plan') throw new Error('expected a plan');
  t.same(service.filter(planned.plan, ALL).fits, ALL);
  t.same(await service.bind({ namespace: 'db', name: 'basic-pd-3', uid, node: 'n4' }), { component: 'pd', refusal: null });
  // A second pending member (as if two were pending at once): z1 now holds 2.
  const fifth = makePod('basic-pd-4').of('db', 'basic', 'pd').view();
  api.upsert('db/basic-pd-4', fifth);
  const planned5 = service.plan({ namespace: 'db', name: 'basic-pd-4', uid: fifth.uid, labels: makePod('x').of('db', 'basic', 'pd').labels(), owner: 'basic-pd' });
  if (planned5.kind !== 'plan') throw new Error('expected a plan');
  // Still 4 replicas in the StatefulSet: the limit of 5 (2 per zone) is the most allowed, not 7's 3.
  const out = service.filter(planned5.plan, ALL);
  t.same(out.fits, ['n2', 'n3', 'n5', 'n6']);
  const full = 'topology.kubernetes.io/zone=z1 (node n1) already holds 2 of 4 PD members of cluster db/basic (at most 2 per topology.kubernetes.io/zone, the limit for 5 members while PD scales out to 7)';
  t.equal(out.refused.n1, full);
  t.same(await service.bind({ namespace: 'db', name: 'basic-pd-4', uid: fifth.uid, node: 'n1' }), { component: 'pd', refusal: `binding refused: ${full}` }, 'bind, the commit point, holds the same limit');
});

t.test('the StatefulSet view reads the target from the StatefulSet annotation only', async (t) => {
  const sts = (annotations?: Record<string, string>) => ({
    metadata: { namespace: 'db', name: 'basic-pd', ...(annotations ? { annotations } : {}) },
    spec: { replicas: 4, template: { metadata: { labels: { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-steward' } } } },
  });
  t.same(statefulSetView(sts({ 'tidb-steward.dev/pd-target-replicas': '5' })).value, { namespace: 'db', name: 'basic-pd', replicas: 4, targetReplicas: 5 });
  t.same(statefulSetView(sts()).value, { namespace: 'db', name: 'basic-pd', replicas: 4 });
  for (const bad of ['', '0', '-1', '5.5', 'five', '1000', '05']) {
    t.same(statefulSetView(sts({ 'tidb-steward.dev/pd-target-replicas': bad })).value, { namespace: 'db', name: 'basic-pd', replicas: 4 }, `"${bad}" is no target`);
  }
});
