import t from 'tap';
import { PlacementService, peerNodes } from '../../src/services/placement.ts';
import { ReservationLedger } from '../../src/state/ledger.ts';
import { PodStore } from '../../src/state/stores.ts';
import { makeNodes, makePod, stores } from '../builders.ts';
import { fakeBinder, silentLogger } from '../fakes.ts';

function setup(opts: { nodes: number; replicas: number; delayMs?: number; synced?: boolean; now?: () => number }) {
  const pdPods = Array.from({ length: opts.replicas }, (_, i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd'));
  const s = stores({ nodes: makeNodes(opts.nodes), pods: pdPods.map((p) => p.view()), statefulSets: [{ namespace: 'db', name: 'basic-pd', replicas: opts.replicas }] });
  // The "API server": the cache lags behind it, as an informer would.
  const api = new PodStore();
  api.replace(pdPods.map((p) => [`db/${p.view().name}`, p.view()]));
  const binder = fakeBinder(api, { delayMs: opts.delayMs ?? 1 });
  const ledger = new ReservationLedger();
  const service = new PlacementService({
    ...s,
    ledger,
    topologyKeys: ['kubernetes.io/hostname'],
    binder,
    reservationTtlMs: 60_000,
    isSynced: () => opts.synced ?? true,
    now: opts.now ?? (() => 1000),
    logger: silentLogger,
  });
  return { service, pdPods, api, binder, ledger, ...s };
}

const ref = (p: ReturnType<typeof makePod>) => {
  const v = p.view();
  return { namespace: v.namespace, name: v.name, uid: v.uid, labels: p.labels(), owner: v.owner };
};

t.test('peerNodes counts bound live pods and unseen reservations once each', async (t) => {
  const a = makePod('a').on('n1').uid('a').view();
  const b = makePod('b').on('n2').uid('b').terminal().view();
  const c = makePod('c').on(null).uid('c').view();
  const self = makePod('self').on('n3').uid('self').view();
  const peers = peerNodes(
    { members: [a, b, c, self], reservations: [{ podUid: 'a', nodeName: 'n1' }, { podUid: 'c', nodeName: 'n4' }, { podUid: 'self', nodeName: 'n5' }] },
    'self',
  );
  t.same(peers, ['n1', 'n4']);
});

t.test('filters judged before any binding is visible cannot break the rule: bind is the commit point', async (t) => {
  const { service, pdPods, binder } = setup({ nodes: 3, replicas: 3 });
  // The scheduler filters all three PD pods before any binding lands (async binding).
  const plans = pdPods.map((p) => service.plan(ref(p)));
  for (const plan of plans) t.equal(plan.kind, 'plan');
  // Worst case: it picks the same node for all of them, concurrently.
  const results = await Promise.all(pdPods.map((p) => service.bind({ namespace: 'db', name: p.view().name, uid: p.view().uid, node: 'n1' })));
  t.equal(results.filter((r) => r.refusal === null).length, 1, 'exactly one bind to n1 succeeds');
  for (const r of results.filter((r) => r.refusal !== null)) t.match(r.refusal, /binding refused: node n1 already holds 1 of 3 PD members of cluster db\/basic/);
  t.equal(binder.binds.length, 1, 'one Binding reached the API server');
  t.equal(binder.binds[0]?.[1], 'n1');
});

t.test('after a bind, filter sees the reservation before the cache does', async (t) => {
  const { service, pdPods } = setup({ nodes: 3, replicas: 3 });
  const [p0, p1] = pdPods;
  t.same(await service.bind({ namespace: 'db', name: 'basic-pd-0', uid: p0!.view().uid, node: 'n2' }), { component: 'pd', refusal: null });
  const planned = service.plan(ref(p1!));
  if (planned.kind !== 'plan') throw new Error('expected a plan');
  const out = service.filter(planned.plan, ['n1', 'n2', 'n3']);
  t.same(out.fits, ['n1', 'n3']);
  t.match(out.refused.n2, /already holds 1 of 3/);
});

t.test('reservations expire, and a failed binding releases its reservation', async (t) => {
  let now = 0;
  const { service, pdPods, ledger, api } = setup({ nodes: 3, replicas: 3, now: () => now });
  await service.bind({ namespace: 'db', name: 'basic-pd-0', uid: pdPods[0]!.view().uid, node: 'n1' });
  t.equal(ledger.size, 1);
  now = 61_000;
  t.same(ledger.forMembers('db', 'basic', 'pd', now), []);
  // A bind the API refuses leaves nothing behind.
  const failing = setup({ nodes: 3, replicas: 3 });
  const svc = new PlacementService({ ...failing, binder: fakeBinder(api, { failBind: true }), ledger: failing.ledger, topologyKeys: ['kubernetes.io/hostname'], reservationTtlMs: 1000, isSynced: () => true, now: () => 0, logger: silentLogger });
  await t.rejects(svc.bind({ namespace: 'db', name: 'basic-pd-1', uid: pdPods[1]!.view().uid, node: 'n2' }), /conflict/);
  t.equal(failing.ledger.size, 0);
});

t.test('plan explains what it cannot know', async (t) => {
  const { service } = setup({ nodes: 3, replicas: 3, synced: false });
  t.match(service.plan(ref(makePod('basic-pd-0').of('db', 'basic', 'pd'))), { kind: 'error', message: /caches have not synced/ });
  const ready = setup({ nodes: 3, replicas: 3 });
  t.match(ready.service.plan(ref(makePod('x').of('db', 'other', 'pd'))), { kind: 'error', message: /StatefulSet db\/other-pd is not in tidb-steward's cache/ });
  const bare = makePod('bare');
  t.match(ready.service.plan({ ...ref(bare), owner: null }), { kind: 'error', message: /no owning StatefulSet/ });
  t.same(ready.service.plan({ namespace: 'x', name: 'web', uid: 'u', labels: { app: 'web' }, owner: null }), { kind: 'ignore' });
  t.same(ready.service.plan(ref(makePod('y').of('db', 'basic', 'pd').managed('someone-else'))), { kind: 'ignore' }, 'other managers are not ours');
});

t.test('bind of a pod the cache has not seen asks the API server', async (t) => {
  const { service, api, binder } = setup({ nodes: 3, replicas: 3 });
  const fresh = makePod('basic-pd-9').of('db', 'basic', 'pd').view();
  api.upsert('db/basic-pd-9', fresh);
  t.same(await service.bind({ namespace: 'db', name: 'basic-pd-9', uid: fresh.uid, node: 'n3' }), { component: 'pd', refusal: null });
  t.same(await service.bind({ namespace: 'db', name: 'missing', uid: 'u', node: 'n3' }), { component: 'other', refusal: 'pod db/missing no longer exists' });
  t.match(await service.bind({ namespace: 'db', name: 'basic-pd-9', uid: 'old', node: 'n3' }), { refusal: /was replaced/ });
  t.ok(binder.binds.some(([n]) => n === 'basic-pd-9'));
});
