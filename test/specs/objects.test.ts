// Desired objects of a TidbCluster: tables of the properties that matter, and snapshots of the whole.
import t from 'tap';
import { componentObjects, configHash, configMapData, podDisruptionBudget, services, statefulSet, tikvCapacity } from '../../src/specs/objects.ts';
import { initialCluster, pdStartScript } from '../../src/specs/scripts.ts';
import { makeTc } from '../tidbcluster.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const tc = makeTc('basic').obj();

t.test('snapshots of every object of a default cluster', async (t) => {
  for (const c of ['pd', 'tikv', 'tidb'] as const) {
    t.matchSnapshot(componentObjects(tc, c, { replicas: tc.spec[c].replicas, pdBootstrapped: false, pdInitialMembers: 3 }), c);
  }
});

t.test('every object is owned by the TidbCluster and labelled as ours', async (t) => {
  for (const c of ['pd', 'tikv', 'tidb'] as const) {
    for (const o of componentObjects(tc, c, { replicas: 1 })) {
      t.same(o.metadata.ownerReferences, [{ apiVersion: 'tidb-steward.dev/v1alpha1', kind: 'TidbCluster', name: 'basic', uid: 'uid-basic', controller: true }], `${o.kind} ${o.metadata.name}`);
      t.match(o.metadata.labels, { 'app.kubernetes.io/managed-by': 'tidb-steward', 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/component': c });
      t.equal(o.metadata.namespace, 'db');
    }
  }
});

t.test('Services: a headless peer Service per component, client Services of the chosen type', async (t) => {
  const custom = makeTc('basic').spec({ tidb: { replicas: 2, service: { type: 'NodePort' } } }).obj();
  const table: Array<[string, string, any]> = [
    ['pd', 'basic-pd', { type: 'ClusterIP', ports: [2379] }],
    ['pd', 'basic-pd-peer', { clusterIP: 'None', publishNotReadyAddresses: true, ports: [2380, 2379] }],
    ['tikv', 'basic-tikv-peer', { clusterIP: 'None', ports: [20160, 20180] }],
    ['tidb', 'basic-tidb', { type: 'NodePort', ports: [4000, 10080] }],
    ['tidb', 'basic-tidb-peer', { clusterIP: 'None', ports: [10080] }],
  ];
  for (const [c, name, want] of table) {
    const svc = services(custom, c as 'pd').find((s) => s.metadata.name === name);
    t.ok(svc, name);
    const { ports, ...rest } = want;
    t.match(svc!.spec, rest, name);
    t.same(svc!.spec.ports.map((p: any) => p.port), ports, `${name} ports`);
  }
});

t.test('StatefulSets: scheduler, start-up arguments on stable DNS names, storage', async (t) => {
  const pd = statefulSet(tc, 'pd', { replicas: 3 });
  const tikv = statefulSet(tc, 'tikv', { replicas: 3 });
  const tidb = statefulSet(tc, 'tidb', { replicas: 2 });
  t.equal(pd.spec.template.spec.schedulerName, 'tidb-scheduler');
  t.equal(tikv.spec.template.spec.schedulerName, 'tidb-scheduler');
  t.equal(tidb.spec.template.spec.schedulerName, undefined, 'TiDB uses the default scheduler');
  t.equal(pd.spec.serviceName, 'basic-pd-peer');
  t.equal(pd.spec.podManagementPolicy, 'Parallel');
  const tikvArgs = tikv.spec.template.spec.containers[0].args;
  t.ok(tikvArgs.includes('--pd=http://basic-pd.db.svc:2379'), 'TiKV finds PD through its client Service');
  t.ok(tikvArgs.includes('--advertise-addr=$(POD_NAME).basic-tikv-peer.db.svc:20160'), 'TiKV advertises its pod DNS name');
  t.ok(tikvArgs.includes('--capacity=100GB'));
  const tidbArgs = tidb.spec.template.spec.containers[0].args;
  t.ok(tidbArgs.includes('--path=basic-pd.db.svc:2379'), 'TiDB finds PD through its client Service');
  t.ok(tidbArgs.includes('--advertise-address=$(POD_NAME).basic-tidb-peer.db.svc'));
  t.same(tikv.spec.volumeClaimTemplates[0].spec.resources.requests, { storage: '100Gi' });
  t.equal(tidb.spec.volumeClaimTemplates, undefined);
  t.same(pd.spec.template.spec.containers[0].env[0], { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
});

t.test('PD start script: initial members bootstrap, later ones join, restarts use their data', async (t) => {
  const script = pdStartScript('basic', 'db');
  t.match(script, '--advertise-peer-urls=http://${POD_NAME}.basic-pd-peer.db.svc:2380');
  t.match(script, '--advertise-client-urls=http://${POD_NAME}.basic-pd-peer.db.svc:2379');
  t.match(script, '--join=http://basic-pd.db.svc:2379');
  t.match(script, 'if [ -d /var/lib/pd/member/wal ]');
  t.equal(initialCluster('basic', 'db', 3), 'basic-pd-0=http://basic-pd-0.basic-pd-peer.db.svc:2380,basic-pd-1=http://basic-pd-1.basic-pd-peer.db.svc:2380,basic-pd-2=http://basic-pd-2.basic-pd-peer.db.svc:2380');
  t.equal(configMapData(tc, 'pd', { replicas: 3, pdBootstrapped: false }).mode, 'initial');
  t.equal(configMapData(tc, 'pd', { replicas: 5, pdBootstrapped: true }).mode, 'join');
});

t.test('a config change rolls pods; the bootstrap mode and the replica count do not', async (t) => {
  const hash = (x: typeof tc, plan: { replicas: number; pdBootstrapped?: boolean }) => statefulSet(x, 'pd', plan).spec.template.metadata.annotations['tidb-steward.dev/config-hash'];
  const changed = makeTc('basic').spec({ pd: { replicas: 3, config: '[schedule]\nleader-schedule-limit = 8\n' } }).obj();
  t.not(hash(changed, { replicas: 3 }), hash(tc, { replicas: 3 }));
  t.equal(hash(tc, { replicas: 3, pdBootstrapped: true }), hash(tc, { replicas: 5, pdBootstrapped: false }));
  t.equal(configHash({ 'config-file': 'a' }), configHash({ 'config-file': 'a', mode: 'join' }));
});

t.test('volume reclaim follows spec.pvReclaimPolicy, but a suspended cluster keeps its volumes', async (t) => {
  const table: Array<[string, boolean, string, string]> = [
    ['Retain', false, 'Retain', 'Retain'],
    ['Delete', false, 'Delete', 'Delete'],
    ['Delete', true, 'Delete', 'Retain'],
  ];
  for (const [policy, suspend, whenDeleted, whenScaled] of table) {
    const x = makeTc('basic').spec({ pvReclaimPolicy: policy as 'Delete', suspend }).obj();
    t.same(statefulSet(x, 'tikv', { replicas: 3 }).spec.persistentVolumeClaimRetentionPolicy, { whenDeleted, whenScaled }, `${policy} suspend=${suspend}`);
  }
});

t.test('requests, limits, placement constraints and images carry over', async (t) => {
  const x = makeTc('basic').spec({
    version: 'v8.1.0',
    tikv: { replicas: 3, requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4' }, nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'tikv', effect: 'NoSchedule' }], affinity: { podAntiAffinity: {} }, storageClassName: 'fast', storageSize: '500Mi' },
    tidb: { replicas: 1, image: 'registry.example/tidb:custom' },
  }).obj();
  const sts = statefulSet(x, 'tikv', { replicas: 3 });
  const pod = sts.spec.template.spec;
  t.same(pod.containers[0].resources, { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4' } });
  t.same(pod.nodeSelector, { disk: 'ssd' });
  t.equal(pod.tolerations[0].key, 'dedicated');
  t.ok(pod.affinity.podAntiAffinity);
  t.equal(pod.containers[0].image, 'pingcap/tikv:v8.1.0');
  t.equal(sts.spec.volumeClaimTemplates[0].spec.storageClassName, 'fast');
  t.ok(pod.containers[0].args.includes('--capacity=500MB'));
  t.equal(statefulSet(x, 'tidb', { replicas: 1 }).spec.template.spec.containers[0].image, 'registry.example/tidb:custom');
  t.equal(tikvCapacity('1Ti'), '1024GB');
});

t.test('PodDisruptionBudgets: one member at a time', async (t) => {
  for (const c of ['pd', 'tikv'] as const) {
    const pdb = podDisruptionBudget(tc, c);
    t.equal(pdb.spec.maxUnavailable, 1);
    t.same(pdb.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'tidb-cluster', 'app.kubernetes.io/component': c, 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-steward' });
  }
});
