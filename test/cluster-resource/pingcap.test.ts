// PingCAP's TidbCluster fields: each accepted with the meaning it has in PingCAP's operator (tables of
// one field at a time, checked on the objects the controller builds), refused naming what is missing,
// or accepted with a warning saying why it is not needed; PingCAP-shaped fixtures end to end.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { validateTidbCluster, describeErrors } from '../../src/cluster/validate.ts';
import { configText, parseDuration } from '../../src/cluster/normalize.ts';
import { componentObjects, type KubeObject } from '../../src/specs/objects.ts';
import type { ComponentName, TidbCluster } from '../../src/cluster/schema.ts';
import { selectorLabels } from '../../src/specs/names.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
function accepted(spec: unknown, name = 'basic') {
  const v = validateTidbCluster(name, spec);
  if (!v.ok) throw new Error(`refused: ${describeErrors(v.errors)}`);
  return v;
}

function objectsOf(spec: unknown, c: ComponentName): { sts: any; cm: any; svc: any[] } {
  const v = accepted(spec);
  const tc: TidbCluster = { metadata: { name: 'basic', namespace: 'db', uid: 'u1', generation: 1 }, spec: v.spec, status: {} };
  const all = componentObjects(tc, c, { replicas: v.spec[c].replicas, pdBootstrapped: false, pdInitialMembers: 3 });
  return { sts: all.find((o) => o.kind === 'StatefulSet')!, cm: all.find((o) => o.kind === 'ConfigMap')!, svc: all.filter((o: KubeObject) => o.kind === 'Service') };
}

const main = (sts: any) => sts.spec.template.spec.containers[0];

t.test('each PingCAP field alone does what it does in PingCAP\'s operator', async (t) => {
  const table: Array<{ name: string; spec: unknown; c: ComponentName; check: (o: ReturnType<typeof objectsOf>) => unknown; want: unknown }> = [
    { name: 'requests.storage sizes the data volume', spec: { tikv: { requests: { storage: '250Gi', cpu: '2' } } }, c: 'tikv', check: (o) => [o.sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, main(o.sts).resources.requests], want: ['250Gi', { cpu: '2' }] },
    { name: 'baseImage + spec.version', spec: { version: 'v8.5.5', pd: { baseImage: 'registry.example/pingcap/pd' } }, c: 'pd', check: (o) => main(o.sts).image, want: 'registry.example/pingcap/pd:v8.5.5' },
    { name: 'a component\'s own version', spec: { version: 'v8.5.4', tikv: { version: 'v8.5.5' } }, c: 'tikv', check: (o) => main(o.sts).image, want: 'pingcap/tikv:v8.5.5' },
    { name: 'image wins over baseImage', spec: { tidb: { image: 'mine/tidb:x', baseImage: 'pingcap/tidb' } }, c: 'tidb', check: (o) => main(o.sts).image, want: 'mine/tidb:x' },
    { name: 'config as a map is rendered to TOML', spec: { tikv: { config: { raftstore: { 'apply-pool-size': 2 }, server: { 'grpc-concurrency': 4 } } } }, c: 'tikv', check: (o) => parseToml(o.cm.data['config-file']), want: { raftstore: { 'apply-pool-size': 2 }, server: { 'grpc-concurrency': 4 } } },
    { name: 'config as a TOML string is kept as written', spec: { tidb: { config: '# ours\n[log]\nlevel = "warn"\n' } }, c: 'tidb', check: (o) => o.cm.data['config-file'], want: '# ours\n[log]\nlevel = "warn"\n' },
    { name: 'timezone is every container\'s TZ', spec: { timezone: 'Asia/Shanghai' }, c: 'pd', check: (o) => main(o.sts).env.find((e: any) => e.name === 'TZ')?.value, want: 'Asia/Shanghai' },
    { name: 'no timezone: no TZ (pods do not roll)', spec: {}, c: 'pd', check: (o) => main(o.sts).env.some((e: any) => e.name === 'TZ'), want: false },
    { name: 'cluster imagePullPolicy', spec: { imagePullPolicy: 'Always' }, c: 'tikv', check: (o) => main(o.sts).imagePullPolicy, want: 'Always' },
    { name: 'component imagePullPolicy wins', spec: { imagePullPolicy: 'Always', tikv: { imagePullPolicy: 'Never' } }, c: 'tikv', check: (o) => main(o.sts).imagePullPolicy, want: 'Never' },
    { name: 'pod annotations merged, ours kept', spec: { annotations: { a: '1', b: '1' }, pd: { annotations: { b: '2' } } }, c: 'pd', check: (o) => { const a = o.sts.spec.template.metadata.annotations; return [a.a, a.b, typeof a['tidb-steward.dev/config-hash']]; }, want: ['1', '2', 'string'] },
    { name: 'pod labels added, ours win', spec: { tikv: { labels: { tier: 'storage', 'app.kubernetes.io/component': 'x' } } }, c: 'tikv', check: (o) => [o.sts.spec.template.metadata.labels.tier, o.sts.spec.template.metadata.labels['app.kubernetes.io/component']], want: ['storage', 'tikv'] },
    { name: 'podSecurityContext', spec: { tidb: { podSecurityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '32768' }] } } }, c: 'tidb', check: (o) => o.sts.spec.template.spec.securityContext, want: { sysctls: [{ name: 'net.core.somaxconn', value: '32768' }] } },
    { name: 'cluster podSecurityContext applies to every component', spec: { podSecurityContext: { runAsNonRoot: true } }, c: 'tikv', check: (o) => o.sts.spec.template.spec.securityContext, want: { runAsNonRoot: true } },
    { name: 'readinessProbe tcp on TiDB', spec: { tidb: { readinessProbe: { type: 'tcp', initialDelaySeconds: 10 } } }, c: 'tidb', check: (o) => main(o.sts).readinessProbe, want: { tcpSocket: { port: 4000 }, periodSeconds: 5, initialDelaySeconds: 10 } },
    { name: 'readinessProbe command keeps the component\'s own check', spec: { tidb: { readinessProbe: { type: 'command', periodSeconds: 20 } } }, c: 'tidb', check: (o) => main(o.sts).readinessProbe, want: { httpGet: { path: '/status', port: 10080 }, periodSeconds: 20 } },
    { name: 'additionalContainers', spec: { pd: { additionalContainers: [{ name: 'debug', image: 'busybox' }] } }, c: 'pd', check: (o) => o.sts.spec.template.spec.containers.map((x: any) => x.name), want: ['pd', 'debug'] },
    { name: 'additionalVolumes and mounts', spec: { tikv: { additionalVolumes: [{ name: 's', emptyDir: {} }], additionalVolumeMounts: [{ name: 's', mountPath: '/s' }] } }, c: 'tikv', check: (o) => [o.sts.spec.template.spec.volumes.some((v: any) => v.name === 's'), main(o.sts).volumeMounts.some((m: any) => m.mountPath === '/s')], want: [true, true] },
    { name: 'storageVolumes: a claim per volume, mounted', spec: { tikv: { storageClassName: 'fast', storageVolumes: [{ name: 'wal', storageSize: '5Gi', mountPath: '/var/lib/wal' }] } }, c: 'tikv', check: (o) => [o.sts.spec.volumeClaimTemplates.map((c: any) => [c.metadata.name, c.spec.storageClassName, c.spec.resources.requests.storage]), main(o.sts).volumeMounts.find((m: any) => m.name === 'tikv-wal')?.mountPath], want: [[['tikv', 'fast', '100Gi'], ['tikv-wal', 'fast', '5Gi']], '/var/lib/wal'] },
    { name: 'separateSlowLog (default on): a sidecar prints the slow log', spec: {}, c: 'tidb', check: (o) => [o.sts.spec.template.spec.containers.map((x: any) => x.name), main(o.sts).args.includes('--log-slow-query=/var/log/tidb/slowlog')], want: [['tidb', 'slowlog'], true] },
    { name: 'separateSlowLog false: no sidecar', spec: { tidb: { separateSlowLog: false } }, c: 'tidb', check: (o) => o.sts.spec.template.spec.containers.length, want: 1 },
    { name: 'slowLogTailer image and limits', spec: { tidb: { slowLogTailer: { image: 'busybox:1.37', limits: { cpu: '100m' } } } }, c: 'tidb', check: (o) => { const s = o.sts.spec.template.spec.containers[1]; return [s.image, s.resources]; }, want: ['busybox:1.37', { limits: { cpu: '100m' } }] },
    { name: 'TiDB service settings', spec: { tidb: { service: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', annotations: { lb: 'nlb' }, loadBalancerSourceRanges: ['10.0.0.0/8'] } } }, c: 'tidb', check: (o) => { const s = o.svc.find((x) => x.metadata.name === 'basic-tidb')!; return [s.spec.type, s.spec.externalTrafficPolicy, s.metadata.annotations.lb, s.spec.loadBalancerSourceRanges]; }, want: ['LoadBalancer', 'Local', 'nlb', ['10.0.0.0/8']] },
    { name: 'exposeStatus false: no status port on the client Service', spec: { tidb: { service: { exposeStatus: false } } }, c: 'tidb', check: (o) => o.svc.find((x) => x.metadata.name === 'basic-tidb')!.spec.ports.map((p: any) => p.name), want: ['mysql-client'] },
    { name: 'enablePVReclaim deletes the claims of scaled-in members', spec: { enablePVReclaim: true }, c: 'tikv', check: (o) => o.sts.spec.persistentVolumeClaimRetentionPolicy, want: { whenDeleted: 'Retain', whenScaled: 'Delete' } },
    { name: 'topologySpreadConstraints over the component\'s pods', spec: { topologySpreadConstraints: [{ topologyKey: 'topology.kubernetes.io/zone' }] }, c: 'tikv', check: (o) => o.sts.spec.template.spec.topologySpreadConstraints, want: [{ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule', topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: selectorLabels('basic', 'tikv') } }] },
    { name: 'cluster nodeSelector merged with the component\'s', spec: { nodeSelector: { a: '1' }, pd: { nodeSelector: { b: '2' } } }, c: 'pd', check: (o) => o.sts.spec.template.spec.nodeSelector, want: { a: '1', b: '2' } },
    { name: 'terminationGracePeriodSeconds, serviceAccount, priorityClassName', spec: { tikv: { terminationGracePeriodSeconds: 300, serviceAccount: 'tikv', priorityClassName: 'high' } }, c: 'tikv', check: (o) => { const p = o.sts.spec.template.spec; return [p.terminationGracePeriodSeconds, p.serviceAccountName, p.priorityClassName]; }, want: [300, 'tikv', 'high'] },
  ];
  for (const row of table) t.same(row.check(objectsOf(row.spec, row.c)), row.want, row.name);
});

t.test('configUpdateStrategy: RollingUpdate rolls the pods on a config change, InPlace does not', async (t) => {
  const hash = (spec: any) => objectsOf(spec, 'tikv').sts.spec.template.metadata.annotations['tidb-steward.dev/config-hash'];
  t.not(hash({ tikv: { config: { a: 1 } } }), hash({ tikv: { config: { a: 2 } } }), 'default (RollingUpdate): the hash follows the config');
  t.equal(hash({ configUpdateStrategy: 'InPlace', tikv: { config: { a: 1 } } }), hash({ configUpdateStrategy: 'InPlace', tikv: { config: { a: 2 } } }), 'InPlace: same template');
  t.match(objectsOf({ configUpdateStrategy: 'InPlace', tikv: { config: { a: 2 } } }, 'tikv').cm.data['config-file'], /a = 2/, 'InPlace: the ConfigMap still changes');
});

t.test('evictLeaderTimeout is a Go duration; the controller uses it for the cluster', async (t) => {
  t.equal(accepted({ tikv: { evictLeaderTimeout: '1500m' } }).spec.tikv.evictLeaderTimeoutMs, 90_000_000);
  t.equal(accepted({ tikv: { evictLeaderTimeout: '1h30m' } }).spec.tikv.evictLeaderTimeoutMs, 5_400_000);
  const table: Array<[string, number]> = [['10m', 600_000], ['1.5s', 1500], ['1h2m3s', 3_723_000], ['250ms', 250], ['', Number.NaN], ['10', Number.NaN], ['5x', Number.NaN]];
  for (const [text, ms] of table) t.same(parseDuration(text), ms, JSON.stringify(text));
  const v = validateTidbCluster('basic', { tikv: { evictLeaderTimeout: 'soon' } });
  t.notOk(v.ok);
  if (!v.ok) t.same(v.errors.map((e) => e.path), ['spec.tikv.evictLeaderTimeout']);
});

t.test('broken TOML is refused with its line, not written into the ConfigMap', async (t) => {
  const v = validateTidbCluster('basic', { pd: { config: '[log]\nlevel = "info"\n[replication\nmax-replicas = 3\n' } });
  t.notOk(v.ok);
  if (v.ok) return;
  t.equal(v.errors[0]!.path, 'spec.pd.config');
  t.match(v.errors[0]!.message, /not valid TOML \(line 3, column \d+/);
  const dup = configText('spec.tikv.config', 'a = 1\na = 2\n');
  t.ok('error' in dup && /line 2/.test(dup.error.message), 'a key set twice names its line');
});

t.test('a map config survives the trip to TOML (property)', async (t) => {
  const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
  const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }));
  const table = fc.dictionary(key, scalar, { maxKeys: 4 });
  const config = fc.dictionary(key, fc.oneof(scalar, table), { maxKeys: 5 });
  fc.assert(
    fc.property(config, (c) => {
      const out = configText('spec.tikv.config', c);
      return 'text' in out && isDeepStrictEqual(JSON.parse(JSON.stringify(parseToml(out.text))), JSON.parse(JSON.stringify(c)));
    }),
    { numRuns: 300 },
  );
  t.pass('300 maps rendered and read back unchanged');
});

t.test('what tidb-steward does not run is refused naming it, never "unrecognized key"', async (t) => {
  const table: Array<{ spec: unknown; path: string; says: RegExp }> = [
    { spec: { tiflash: { replicas: 1 } }, path: 'spec.tiflash', says: /TiFlash is not run by tidb-steward/ },
    { spec: { ticdc: { replicas: 1 } }, path: 'spec.ticdc', says: /TiCDC is not run/ },
    { spec: { pump: { replicas: 1 } }, path: 'spec.pump', says: /Pump/ },
    { spec: { tiproxy: { replicas: 1 } }, path: 'spec.tiproxy', says: /TiProxy/ },
    { spec: { tlsCluster: { enabled: true } }, path: 'spec.tlsCluster', says: /TLS between PD, TiKV and TiDB/ },
    { spec: { cluster: { name: 'other' } }, path: 'spec.cluster', says: /joining another TidbCluster/ },
    { spec: { clusterDomain: 'cluster.local' }, path: 'spec.clusterDomain', says: /across Kubernetes clusters/ },
    { spec: { pd: { mode: 'ms' } }, path: 'spec.pd.mode', says: /microservices/ },
    { spec: { tidb: { tlsClient: { enabled: true } } }, path: 'spec.tidb.tlsClient', says: /MySQL client TLS/ },
    { spec: { tidb: { initializer: { createPassword: true } } }, path: 'spec.tidb.initializer', says: /initializer/ },
    { spec: { tikv: { separateRaftLog: true } }, path: 'spec.tikv.separateRaftLog', says: /raft or RocksDB log/ },
    { spec: { tikv: { storageSize: '10Gi', requests: { storage: '20Gi' } } }, path: 'spec.tikv.requests.storage', says: /both size the data volume; set one/ },
  ];
  for (const row of table) {
    const v = validateTidbCluster('basic', row.spec);
    t.notOk(v.ok, row.path);
    if (v.ok) continue;
    t.same(v.errors.map((e) => e.path), [row.path], `${row.path}: only that field`);
    t.match(v.errors[0]!.message, row.says, row.path);
    t.notMatch(describeErrors(v.errors), /Unrecognized/, `${row.path}: says why`);
  }
});

t.test('fields not needed here are accepted with a warning saying why', async (t) => {
  const table: Array<{ spec: unknown; says: RegExp }> = [
    { spec: { discovery: {} }, says: /spec\.discovery has no effect/ },
    { spec: { helper: { image: 'alpine' } }, says: /spec\.helper has no effect/ },
    { spec: { enableDynamicConfiguration: false }, says: /always advertises its status address/ },
    { spec: { tikv: { maxFailoverCount: 3 } }, says: /does not fail members over yet/ },
    { spec: { tidb: { requests: { storage: '1Gi' } } }, says: /TiDB keeps no data/ },
    { spec: { pd: { mountClusterClientSecret: true } }, says: /no effect without TLS/ },
  ];
  for (const row of table) t.match(accepted(row.spec).warnings.join('\n'), row.says, String(row.says));
  t.same(accepted({ enableDynamicConfiguration: true, pd: { maxFailoverCount: 0 } }).warnings, [], 'settings that mean what they say here: no warning');
});

t.test('PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason', async (t) => {
  const read = (f: string) => load(readFileSync(new URL(`../fixtures/pingcap/${f}`, import.meta.url), 'utf8')) as { metadata: { name: string }; spec: unknown };
  for (const f of ['basic.yaml', 'advanced.yaml', 'local-disk.yaml']) {
    const doc = read(f);
    const v = validateTidbCluster(doc.metadata.name, doc.spec);
    t.ok(v.ok, `${f} accepted${v.ok ? '' : `: ${describeErrors(v.errors)}`}`);
    if (!v.ok) continue;
    const tc: TidbCluster = { metadata: { name: doc.metadata.name, namespace: 'db', uid: 'u1', generation: 1 }, spec: v.spec, status: {} };
    for (const c of ['pd', 'tikv', 'tidb'] as const) {
      t.matchSnapshot(componentObjects(tc, c, { replicas: v.spec[c].replicas, pdBootstrapped: false, pdInitialMembers: v.spec.pd.replicas }), `${f} ${c}`);
    }
  }
  const tls = read('tls.yaml');
  const vt = validateTidbCluster(tls.metadata.name, tls.spec);
  t.notOk(vt.ok);
  if (!vt.ok) t.same(vt.errors.map((e) => e.path).sort(), ['spec.tidb.tlsClient', 'spec.tlsCluster']);
  const het = read('heterogeneous.yaml');
  const vh = validateTidbCluster(het.metadata.name, het.spec);
  t.notOk(vh.ok);
  if (!vh.ok) t.same(vh.errors.map((e) => e.path).sort(), ['spec.cluster', 'spec.tiflash']);
});
