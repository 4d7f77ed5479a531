// The manifests and the server must agree: routes, ports, probes, verbs and security settings.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';

/* eslint-disable @typescript-eslint/no-explicit-any */
const load = (file: string): any[] => loadAllYaml(readFileSync(new URL(`../manifests/${file}`, import.meta.url), 'utf8'));
const kustomization = load('kustomization.yaml')[0];
const steward = load('steward.yaml');
const scheduler = load('scheduler.yaml');
const schedConfig = load('tidb-scheduler-config.yaml')[0];
const rbac = load('rbac.yaml');

t.test('kustomization lists every manifest file', async (t) => {
  t.same(kustomization.resources.sort(), ['namespace.yaml', 'rbac.yaml', 'scheduler.yaml', 'steward.yaml']);
  t.equal(kustomization.namespace, 'tidb-steward');
});

t.test('the scheduler extender points at routes the server serves', async (t) => {
  const [ext] = schedConfig.extenders;
  t.equal(schedConfig.apiVersion, 'kubescheduler.config.k8s.io/v1');
  t.equal(schedConfig.profiles[0].schedulerName, 'tidb-scheduler');
  t.match(ext.urlPrefix, /^https:\/\/tidb-steward\.tidb-steward\.svc:443\/scheduler$/);
  t.same([ext.filterVerb, ext.prioritizeVerb, ext.bindVerb], ['filter', 'prioritize', 'bind']);
  t.equal(ext.enableHTTPS, true);
  t.equal(ext.nodeCacheCapable, true);
  t.ok(Number.parseFloat(ext.httpTimeout) <= 5, 'short httpTimeout');
  const src = readFileSync(new URL('../src/http/extender.ts', import.meta.url), 'utf8');
  for (const verb of ['filter', 'prioritize', 'bind']) t.match(src, `'/scheduler/${verb}'`);
  const mounts = scheduler[0].spec.template.spec.containers[0].volumeMounts.map((m: any) => m.mountPath);
  t.ok(mounts.includes('/etc/tidb-scheduler/tls'), 'caFile directory is mounted');
});

t.test('the steward Deployment is hardened and probed on served paths', async (t) => {
  const deploy = steward.find((o) => o.kind === 'Deployment');
  const pod = deploy.spec.template.spec;
  const c = pod.containers[0];
  t.equal(deploy.spec.replicas, 3);
  t.equal(pod.securityContext.runAsNonRoot, true);
  t.equal(c.securityContext.readOnlyRootFilesystem, true);
  t.same(c.resources.requests, c.resources.limits, 'requests = limits');
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  t.equal(c.livenessProbe.httpGet.path, '/healthz');
  t.ok(pod.affinity.podAntiAffinity, 'spread over nodes');
  t.ok(steward.find((o) => o.kind === 'PodDisruptionBudget'));
  const svc = steward.find((o) => o.kind === 'Service');
  t.equal(svc.spec.ports[0].port, 443);
  t.equal(svc.spec.sessionAffinity, 'ClientIP');
});

t.test('RBAC grants only reads plus Bindings and Events to the service', async (t) => {
  const role = rbac.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'tidb-steward');
  const writes = role.rules.filter((r: any) => r.verbs.some((v: string) => !['get', 'list', 'watch'].includes(v)));
  t.same(writes.flatMap((r: any) => r.resources).sort(), ['events', 'pods/binding']);
});
