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
  t.same(kustomization.resources.sort(), ['crd-tidbcluster.yaml', 'disruptionledger-crd.yaml', 'namespace.yaml', 'networkpolicy.yaml', 'rbac-controller.yaml', 'rbac.yaml', 'scheduler.yaml', 'steward.yaml', 'webhook.yaml']);
  t.equal(kustomization.namespace, undefined, 'no namespace override: a RoleBinding lives in kube-system');
  for (const file of ['rbac.yaml', 'steward.yaml', 'scheduler.yaml']) {
    for (const o of load(file)) {
      if (['ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) continue;
      t.ok(o.metadata.namespace, `${o.kind} ${o.metadata.name} has a namespace`);
    }
  }
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

t.test('RBAC grants only reads plus Bindings, Events, eviction-record ConfigMaps and its own webhook configuration', async (t) => {
  const role = rbac.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'tidb-steward');
  const writes = role.rules.filter((r: any) => r.verbs.some((v: string) => !['get', 'list', 'watch'].includes(v)));
  t.same(writes.flatMap((r: any) => r.resources).sort(), ['events', 'pods/binding', 'validatingwebhookconfigurations']);
  const ledgerRole = rbac.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'tidb-steward-ledger');
  const ledger = ledgerRole.rules.find((r: any) => r.resources.includes('disruptionledgers'));
  t.same(ledger.apiGroups, ['tidb-steward.dev']);
  t.same(ledger.verbs, ['get', 'create', 'update'], 'per namespace; never deletes a ledger');
  const secrets = ledgerRole.rules.find((r: any) => r.resources.includes('secrets'));
  t.same(secrets.verbs, ['get'], 'Secrets by name only: no list or watch');
  const vwc = role.rules.find((r: any) => r.resources.includes('validatingwebhookconfigurations'));
  t.same(vwc.resourceNames, ['tidb-steward'], 'only its own webhook configuration');
});

t.test('webhooks: v1 reviews, dry-run safe, short timeouts, served paths, own namespace excluded', async (t) => {
  const [vwc] = load('webhook.yaml');
  const src = readFileSync(new URL('../src/http/admission.ts', import.meta.url), 'utf8');
  const byName = Object.fromEntries(vwc.webhooks.map((w: any) => [w.name.split('.')[0], w]));
  t.same(Object.keys(byName).sort(), ['evictions', 'nodes', 'pods', 'tidbclusters']);
  for (const w of vwc.webhooks) {
    t.same(w.admissionReviewVersions, ['v1']);
    // The drain webhooks act (leader transfers) except on dry runs; the TidbCluster one never acts.
    t.equal(w.sideEffects, w.name === 'tidbclusters.tidb-steward.dev' ? 'None' : 'NoneOnDryRun');
    t.ok(w.timeoutSeconds <= 5, `${w.name} timeoutSeconds ${w.timeoutSeconds}`);
    t.match(src, `'${w.clientConfig.service.path}'`, `${w.name} path is served`);
  }
  t.equal(byName.nodes.failurePolicy, 'Ignore', 'a node update is never refused');
  t.same(byName.evictions.rules[0].resources, ['pods/eviction']);
  t.same(byName.pods.rules[0].operations, ['DELETE']);
  t.ok(byName.pods.namespaceSelector.matchExpressions[0].values.includes('tidb-steward'), 'does not gate its own pods');
  t.ok(byName.pods.matchConditions.length > 0);
});

t.test('the DisruptionLedger CRD matches what the code reads and writes', async (t) => {
  const [crd] = load('disruptionledger-crd.yaml');
  const src = readFileSync(new URL('../src/k8s/disruptions.ts', import.meta.url), 'utf8');
  t.equal(crd.spec.scope, 'Namespaced');
  t.match(src, `group: '${crd.spec.group}'`);
  t.match(src, `plural: '${crd.spec.names.plural}'`);
  t.match(src, `kind: '${crd.spec.names.kind}'`);
  const v = crd.spec.versions.find((x: any) => x.storage);
  t.match(src, `version: '${v.name}'`);
  t.same(Object.keys(v.schema.openAPIV3Schema.properties.spec.properties).sort(), ['cluster', 'evictions', 'leaving', 'seenEvictions']);
});

// Exact expectations: flipping a failure policy, an operator, a timeout or a match condition is a
// change of safety behaviour and must fail here, not only in review.
const PROTECTED_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease', 'tidb-steward'];
const NAMESPACE_SELECTOR = {
  matchExpressions: [
    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: PROTECTED_NAMESPACES },
    { key: 'tidb-steward.dev/guard', operator: 'NotIn', values: ['disabled'] },
    { key: 'tidb-steward.pingcap.com/guard', operator: 'NotIn', values: ['disabled'] },
  ],
};
const PD_OR_TIKV = "has(oldObject.metadata.labels) && 'app.kubernetes.io/component' in oldObject.metadata.labels && oldObject.metadata.labels['app.kubernetes.io/component'] in ['pd', 'tikv']";
const PD_OR_TIKV_NAME = "request.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?-(pd|tikv)-[0-9]+$')";
const SPEC_SET_OR_CHANGED = "request.operation == 'CREATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec";
const UNSCHEDULABLE_CHANGED = '(has(object.spec.unschedulable) && object.spec.unschedulable) != (has(oldObject.spec.unschedulable) && oldObject.spec.unschedulable)';

// loadAllYaml returns client-node's typed classes; compare their plain JSON.
const plain = (o: unknown): any => JSON.parse(JSON.stringify(o));

t.test('webhooks: exact failure policies, selectors, timeouts, rules and match conditions', async (t) => {
  const vwc = plain(load('webhook.yaml')[0]);
  const byName = Object.fromEntries(vwc.webhooks.map((w: any) => [w.name, w]));
  const service = (path: string) => ({ service: { namespace: 'tidb-steward', name: 'tidb-steward', path, port: 443 } });
  const common = { admissionReviewVersions: ['v1'], sideEffects: 'NoneOnDryRun' };
  t.same(vwc.webhooks.map((w: any) => w.name), ['pods.tidb-steward.dev', 'evictions.tidb-steward.dev', 'nodes.tidb-steward.dev', 'tidbclusters.tidb-steward.dev']);
  t.strictSame(byName['pods.tidb-steward.dev'], {
    name: 'pods.tidb-steward.dev',
    ...common,
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    clientConfig: service('/admission/pods'),
    rules: [{ operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
    namespaceSelector: NAMESPACE_SELECTOR,
    matchConditions: [{ name: 'tidb-pd-or-tikv', expression: PD_OR_TIKV }],
  });
  t.strictSame(byName['evictions.tidb-steward.dev'], {
    name: 'evictions.tidb-steward.dev',
    ...common,
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    clientConfig: service('/admission/pods'),
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/eviction'], scope: 'Namespaced' }],
    namespaceSelector: NAMESPACE_SELECTOR,
    matchConditions: [{ name: 'tidb-pd-or-tikv-pod-name', expression: PD_OR_TIKV_NAME }],
  }, 'an Eviction carries no pod labels: selected by the pod name');
  t.strictSame(byName['nodes.tidb-steward.dev'], {
    name: 'nodes.tidb-steward.dev',
    ...common,
    failurePolicy: 'Ignore',
    timeoutSeconds: 3,
    clientConfig: service('/admission/nodes'),
    rules: [{ operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['nodes'], scope: 'Cluster' }],
    matchConditions: [{ name: 'unschedulable-changed', expression: UNSCHEDULABLE_CHANGED }],
  }, 'no namespaceSelector: nodes are cluster-scoped');
  t.strictSame(byName['tidbclusters.tidb-steward.dev'], {
    name: 'tidbclusters.tidb-steward.dev',
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Ignore',
    timeoutSeconds: 3,
    clientConfig: service('/admission/tidbclusters'),
    rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['tidb-steward.dev'], apiVersions: ['v1alpha1'], resources: ['tidbclusters'], scope: 'Namespaced' }],
    matchConditions: [{ name: 'spec-set-or-changed', expression: SPEC_SET_OR_CHANGED }],
  }, 'Ignore: the reconciler re-checks every spec; every namespace: validation has no opt-out');
});

t.test('the TidbCluster webhook judges the CRD the code serves', async (t) => {
  const [crd] = load('crd-tidbcluster.yaml');
  const [w] = plain(load('webhook.yaml')[0]).webhooks.filter((x: any) => x.name === 'tidbclusters.tidb-steward.dev');
  t.same(w.rules[0].apiGroups, [crd.spec.group]);
  t.same(w.rules[0].apiVersions, crd.spec.versions.map((v: any) => v.name));
  t.same(w.rules[0].resources, [crd.spec.names.plural]);
  t.equal(w.rules[0].scope, crd.spec.scope);
});

t.test('the match conditions select what the README says they do', async (t) => {
  // The CEL is small enough to read by eye; here it is held to the labels the server itself reads.
  const model = readFileSync(new URL('../src/domain/model.ts', import.meta.url), 'utf8');
  t.match(model, "LABEL_COMPONENT = 'app.kubernetes.io/component'");
  t.match(model, "component !== 'pd' && component !== 'tikv'");
});

t.test('the e2e control plane registers the shipped webhook policy', async (t) => {
  const { webhookManifest } = await import('./cluster/controlplane.ts');
  const local = JSON.parse(webhookManifest('ca'));
  const shipped = plain(load('webhook.yaml')[0]);
  const essentials = (w: any) => ({ name: w.name, failurePolicy: w.failurePolicy, timeoutSeconds: w.timeoutSeconds, rules: w.rules, matchConditions: w.matchConditions, sideEffects: w.sideEffects, path: w.clientConfig.service?.path ?? new URL(w.clientConfig.url).pathname });
  t.strictSame(local.webhooks.map(essentials), shipped.webhooks.map(essentials), 'e2e tests exercise the same policies as production');
  // Loopback clusters have no tidb-steward namespace, so fewer namespaces are excluded there.
  for (const w of local.webhooks.filter((x: any) => x.name === 'pods.tidb-steward.dev' || x.name === 'evictions.tidb-steward.dev')) {
    t.ok(w.namespaceSelector.matchExpressions.every((e: any) => e.operator === 'NotIn'), `${w.name} excludes with NotIn`);
  }
});

t.test('tidb-scheduler: the extender cannot be skipped, and fails fast', async (t) => {
  const [ext] = schedConfig.extenders;
  t.equal(ext.ignorable, false, 'an unreachable extender leaves PD pods Pending instead of placing them unchecked');
  t.equal(ext.httpTimeout, '3s');
  t.equal(ext.weight, 1);
  t.equal(schedConfig.leaderElection.leaderElect, true, 'two scheduler replicas: one active');
  const sched = scheduler.find((o) => o.kind === 'Deployment');
  t.same(sched.spec.selector.matchLabels, sched.spec.template.metadata.labels);
});

t.test('the steward Deployment, PDB and Service select the same pods', async (t) => {
  const deploy = steward.find((o) => o.kind === 'Deployment');
  const pdb = steward.find((o) => o.kind === 'PodDisruptionBudget');
  const svc = steward.find((o) => o.kind === 'Service');
  const podLabels = deploy.spec.template.metadata.labels;
  t.same(deploy.spec.selector.matchLabels, podLabels);
  t.same(pdb.spec.selector.matchLabels, podLabels);
  t.same(svc.spec.selector, podLabels);
  t.equal(pdb.spec.maxUnavailable, 1);
  t.equal(deploy.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  t.same(deploy.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels, podLabels);
  const env = Object.fromEntries(deploy.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
  t.equal(env.STEWARD_WEBHOOK_CONFIG_NAME, load('webhook.yaml')[0].metadata.name, 'keeps the caBundle of the webhook configuration the manifests create');
});
