// What the caches keep for real clusters: StatefulSets found by their pod template, Advanced
// StatefulSet owners, local volumes, taints, the renamed escape hatch; and a CRD that is not served.
import t from 'tap';
import { claimView, nodeViewFor, podView, statefulSetOwner, statefulSetView, volumeView } from '../../src/k8s/views.ts';
import { Reflector, type ListWatchSource } from '../../src/k8s/reflector.ts';
import { ApiException } from '@kubernetes/client-node';
import { StatefulSetStore } from '../../src/state/stores.ts';
import { silentLogger } from '../fakes.ts';

const tidb = { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-steward' };

t.test('a StatefulSet is a TiDB one by its pod template, whatever labels it carries itself', async (t) => {
  const table: Array<[string, unknown, number | null]> = [
    ['no labels of its own', { metadata: { name: 'pd', namespace: 'db' }, spec: { replicas: 3, template: { metadata: { labels: tidb } } } }, 3],
    ['labels of its own only (older objects)', { metadata: { name: 'pd', namespace: 'db', labels: tidb }, spec: { replicas: 5 } }, 5],
    ['unrelated', { metadata: { name: 'web', namespace: 'db' }, spec: { replicas: 2, template: { metadata: { labels: { app: 'web' } } } } }, null],
    ['replicas defaulted', { metadata: { name: 'pd', namespace: 'db' }, spec: { template: { metadata: { labels: tidb } } } }, 1],
  ];
  for (const [name, obj, replicas] of table) t.equal(statefulSetView(obj).value?.replicas ?? null, replicas, name);
});

t.test('owners: apps/v1 and Advanced StatefulSets, nothing else', async (t) => {
  t.same(statefulSetOwner([{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'a', controller: true }]), { name: 'a', advanced: false });
  t.same(statefulSetOwner([{ apiVersion: 'apps.pingcap.com/v1', kind: 'StatefulSet', name: 'b', controller: true }]), { name: 'b', advanced: true });
  t.equal(statefulSetOwner([{ apiVersion: 'example.com/v1', kind: 'StatefulSet', name: 'c', controller: true }]), null);
  t.equal(statefulSetOwner([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'd', controller: true }]), null);
  t.equal(statefulSetOwner('nonsense'), null);
  const pod = podView({ metadata: { name: 'basic-pd-0', namespace: 'db', labels: tidb, ownerReferences: [{ apiVersion: 'apps.pingcap.com/v1', kind: 'StatefulSet', name: 'basic-pd', controller: true }] }, spec: {} });
  t.match(pod.value, { owner: 'basic-pd', ownerAdvanced: true });
});

t.test('the escape hatch under tidb-steward.dev, and the old key still honoured', async (t) => {
  const annotated = (annotations: Record<string, string>) => podView({ metadata: { name: 'p', namespace: 'db', labels: tidb, annotations }, spec: {} }).value!;
  t.match(annotated({ 'tidb-steward.dev/skip-drain-check': 'true' }), { skipDrainCheck: true });
  t.notOk(annotated({ 'tidb-steward.dev/skip-drain-check': 'true' }).skipDrainCheckLegacy);
  t.match(annotated({ 'tidb-steward.pingcap.com/skip-drain-check': 'true' }), { skipDrainCheck: true, skipDrainCheckLegacy: true });
  t.match(annotated({ 'tidb-steward.dev/skip-drain-check': 'false' }), { skipDrainCheck: false });
});

t.test('volumes pinned to nodes, bound claims, taints', async (t) => {
  const pv = (terms: unknown) => volumeView({ metadata: { name: 'v' }, spec: { nodeAffinity: { required: { nodeSelectorTerms: terms } } } }).value;
  t.same(pv([{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }]), { name: 'v', nodes: ['n1'] });
  t.same(pv([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }, { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n3'] }] }]), { name: 'v', nodes: ['n2', 'n3'] });
  t.equal(pv([{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] }]), null, 'a zonal volume pins no node');
  t.equal(volumeView({ metadata: { name: 'nfs' }, spec: {} }).value, null);
  t.same(claimView({ metadata: { name: 'c', namespace: 'db' }, spec: { volumeName: 'v' } }).value, { namespace: 'db', name: 'c', volumeName: 'v' });
  t.equal(claimView({ metadata: { name: 'c', namespace: 'db' }, spec: {} }).value, null, 'unbound');
  const node = nodeViewFor()({ metadata: { name: 'cp', labels: { 'kubernetes.io/hostname': 'cp' } }, spec: { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }, { key: 'x', effect: 'PreferNoSchedule' }] } });
  t.same(node.value?.taints, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
});

t.test('an optional resource that is not served counts as empty and synced, and is picked up once served', async (t) => {
  let served = false;
  let lists = 0;
  const source: ListWatchSource = {
    async list() {
      lists++;
      if (!served) throw new ApiException(404, 'NotFound', '{}', {});
      return { items: [{ metadata: { name: 'basic-pd', namespace: 'db' }, spec: { replicas: 3, template: { metadata: { labels: tidb } } } }], resourceVersion: '5' };
    },
    async watch(_rv, _onEvent, onDone) {
      return { abort: () => onDone(Object.assign(new Error('aborted'), { name: 'AbortError' })) };
    },
  };
  const store = new StatefulSetStore();
  const r = new Reflector({ name: 'advanced statefulsets', source, transform: statefulSetView, store, logger: silentLogger, relistIntervalMs: 60_000, staleAfterMs: 60_000, optional: true, absentRecheckMs: 20 });
  r.start();
  t.teardown(() => r.stop());
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 3000;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((res) => setTimeout(res, 5));
    }
  };
  await until(() => r.hasSynced());
  t.equal(store.size, 0);
  await until(() => lists >= 3);
  served = true;
  await until(() => store.size === 1);
  t.equal(store.get('db/basic-pd')?.replicas, 3);
});
