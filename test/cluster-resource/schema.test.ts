// TidbCluster defaults, validation with every error and its field path, and the generated CRD.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { validateTidbCluster, describeErrors } from '../../src/cluster/validate.ts';
import { generatedManifests } from '../../src/cluster/manifests.ts';
import { tidbClusterCrd } from '../../src/cluster/crd.ts';
import { parseQuantity } from '../../src/cluster/quantity.ts';

t.test('an empty spec gets PingCAP-like defaults', async (t) => {
  const v = validateTidbCluster('basic', {});
  t.ok(v.ok);
  if (!v.ok) return;
  t.equal(v.spec.version, 'v8.5.4');
  t.same([v.spec.pd.replicas, v.spec.tikv.replicas, v.spec.tidb.replicas], [3, 3, 2]);
  t.equal(v.spec.paused, false);
  t.equal(v.spec.suspend, false);
  t.equal(v.spec.pvReclaimPolicy, 'Retain');
  t.equal(v.spec.schedulerName, 'tidb-scheduler');
  t.equal(v.spec.pd.service.type, 'ClusterIP');
  t.equal(v.spec.tikv.storageSize, '100Gi');
});

t.test('validation collects every error with its path', async (t) => {
  const cases: Array<{ name: string; cluster?: string; spec: unknown; paths: string[] }> = [
    { name: 'several wrong fields at once', spec: { pd: { replicas: -1, requests: { cpu: 'lots' } }, tidb: { service: { type: 'External' } }, pvReclaimPolicy: 'Recycle' }, paths: ['spec.pd.replicas', 'spec.pd.requests.cpu', 'spec.tidb.service.type', 'spec.pvReclaimPolicy'] },
    { name: 'unknown field', spec: { pd: { replica: 3 } }, paths: ['spec.pd'] },
    { name: 'requests above limits, in two components', spec: { tikv: { requests: { cpu: '4', memory: '8Gi' }, limits: { cpu: '2', memory: '16Gi' } }, tidb: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } }, paths: ['spec.tikv.requests.cpu', 'spec.tidb.requests.memory'] },
    { name: 'no PD, no TiKV', spec: { pd: { replicas: 0 }, tikv: { replicas: 0 } }, paths: ['spec.pd.replicas', 'spec.tikv.replicas'] },
    { name: 'a name too long for pod DNS names', cluster: 'a'.repeat(40), spec: {}, paths: ['metadata.name'] },
    { name: 'a bad version and zero storage', spec: { version: 'latest', tikv: { storageSize: '0' } }, paths: ['spec.version'] },
    { name: 'zero storage', spec: { tikv: { storageSize: '0' } }, paths: ['spec.tikv.storageSize'] },
  ];
  for (const c of cases) {
    const v = validateTidbCluster(c.cluster ?? 'basic', c.spec);
    t.notOk(v.ok, c.name);
    if (v.ok) continue;
    t.same(v.errors.map((e) => e.path).sort(), [...c.paths].sort(), `${c.name}: ${describeErrors(v.errors)}`);
  }
});

t.test('an even PD member count is allowed with a warning', async (t) => {
  const v = validateTidbCluster('basic', { pd: { replicas: 4 } });
  t.ok(v.ok);
  if (v.ok) t.match(v.warnings[0], /even number of PD members/);
});

t.test('quantities', async (t) => {
  const table: Array<[string, number]> = [['500m', 0.5], ['2', 2], ['1Gi', 2 ** 30], ['1G', 1e9], ['1.5', 1.5], ['1e3', 1000]];
  for (const [q, v] of table) t.equal(parseQuantity(q), v, q);
  t.ok(Number.isNaN(parseQuantity('lots')));
});

t.test('manifests/ holds what npm run manifests generates', async (t) => {
  for (const [file, text] of Object.entries(generatedManifests())) {
    const committed = readFileSync(new URL(`../../manifests/${file}`, import.meta.url), 'utf8');
    t.equal(committed, text, `manifests/${file} is up to date (run npm run manifests)`);
  }
});

t.test('the CRD: names, printer columns, status subresource, a structural schema', async (t) => {
  const crd = load(generatedManifests()['crd-tidbcluster.yaml']!) as ReturnType<typeof tidbClusterCrd> & { spec: any };
  t.equal((crd as any).metadata.name, 'tidbclusters.tidb-steward.dev');
  t.same(crd.spec.names.shortNames, ['tc']);
  const v = crd.spec.versions[0];
  t.equal(v.name, 'v1alpha1');
  t.same(v.subresources, { status: {} });
  t.same(v.additionalPrinterColumns.filter((c: any) => !c.priority).map((c: any) => c.name), ['Ready', 'PD', 'TiKV', 'TiDB', 'Age']);
  // Structural: every node has a type, no additionalProperties next to properties, no $schema.
  const problems: string[] = [];
  const walk = (node: any, path: string) => {
    if (!node || typeof node !== 'object') return;
    // Kubernetes' rule: a type everywhere, except int-or-string and preserve-unknown-fields nodes (any value).
    if (!node.type && !node['x-kubernetes-int-or-string'] && node['x-kubernetes-preserve-unknown-fields'] !== true) problems.push(`${path}: no type`);
    if (node.anyOf && (node.type || node['x-kubernetes-preserve-unknown-fields'])) problems.push(`${path}: types under anyOf`);
    if (node.properties && node.additionalProperties !== undefined) problems.push(`${path}: properties and additionalProperties`);
    if (node.$schema || node.propertyNames) problems.push(`${path}: JSON Schema only keyword`);
    for (const [k, s] of Object.entries(node.properties ?? {})) walk(s, `${path}.${k}`);
    if (node.items) walk(node.items, `${path}[]`);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
  };
  walk(v.schema.openAPIV3Schema, '');
  t.same(problems, []);
  const spec = v.schema.openAPIV3Schema.properties.spec;
  t.same(spec.properties.pvReclaimPolicy.enum, ['Retain', 'Delete']);
  t.equal(spec.properties.pd.properties.affinity['x-kubernetes-preserve-unknown-fields'], true);
  t.same(spec.properties.tidb.properties.service.properties.type.enum, ['ClusterIP', 'NodePort', 'LoadBalancer']);
});

t.test('the samples in manifests/samples are valid TidbClusters', async (t) => {
  const { readdirSync } = await import('node:fs');
  const dir = new URL('../../manifests/samples/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 2);
  for (const f of files) {
    const doc = load(readFileSync(new URL(f, dir), 'utf8')) as { kind: string; metadata: { name: string }; spec: unknown };
    t.equal(doc.kind, 'TidbCluster', f);
    const v = validateTidbCluster(doc.metadata.name, doc.spec);
    t.ok(v.ok, `${f}: ${v.ok ? 'valid' : describeErrors(v.errors)}`);
  }
});
