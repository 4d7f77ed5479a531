// The controller's StatefulSet view keeps the data volume's claim template: the reconciler compares the
// spec's storage with it (the template is immutable, so it is what the spec said at creation).
import t from 'tap';
import { controllerPodView, controllerStsView } from '../../src/k8s/tidbclusters.ts';

const sts = (component: string, template?: unknown) => ({
  metadata: { name: `basic-${component}`, namespace: 'db', labels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': 'basic' } },
  spec: { replicas: 3, ...(template === undefined ? {} : { volumeClaimTemplates: [template] }) },
  status: { readyReplicas: 3 },
});

t.test('claim template: size and class when set, nothing when absent or malformed', async (t) => {
  t.same(controllerStsView(sts('tikv', { metadata: { name: 'tikv' }, spec: { storageClassName: 'fast', resources: { requests: { storage: '100Gi' } } } })).value?.volume, { storageClassName: 'fast', storageSize: '100Gi' });
  t.same(controllerStsView(sts('pd', { spec: { resources: { requests: { storage: '10Gi' } } } })).value?.volume, { storageSize: '10Gi' }, 'the cluster default class');
  t.equal(controllerStsView(sts('tidb')).value?.volume, undefined, 'TiDB has no volume');
  t.equal(controllerStsView(sts('pd', { spec: { resources: { requests: { storage: 10 } } } })).value?.volume, undefined, 'a size that is not a string is not trusted');
  t.equal(controllerStsView(sts('pd', null)).value?.volume, undefined);
});

t.test("the controller's pod view keeps the pod's uid (the ledger records what it allowed for that very pod)", async (t) => {
  const pod = { metadata: { name: 'basic-tikv-2', namespace: 'db', uid: 'u-42', labels: { 'app.kubernetes.io/component': 'tikv', 'app.kubernetes.io/instance': 'basic' } }, spec: {}, status: { phase: 'Running' } };
  t.equal(controllerPodView(pod).value?.uid, 'u-42');
});
