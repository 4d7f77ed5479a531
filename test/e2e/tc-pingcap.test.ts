// A TidbCluster written the way PingCAP's tidb-operator v1 documents it (only apiVersion changed)
// on the local control plane: the CRD admits PingCAP's fields, the webhook warns about the ones with no
// effect here and refuses what tidb-steward does not run (naming it) or a broken TOML config (with its
// line), and the controller builds what the fields mean and brings the cluster to Ready.
import t from 'tap';
import { defaultNodes, ensureCluster, KUBECONFIG } from '../cluster/controlplane.ts';
import { kubectl, kubectlOk, namespace, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { tcPd, type TcPdHandle } from './tc-pd.ts';
import { dropReleasedVolumes, ensureVolumes, installCrd, isReady, STORAGE_CLASS } from './tc-helpers.ts';

t.setTimeout(600_000);
const NS = 'e2e-pingcap';
const NAME = 'legacy';
const fleet = new PdFleet();
let pd: TcPdHandle;

t.before(async () => {
  await fleet.start();
  pd = tcPd({ namespace: NS, cluster: NAME, pdMembers: 3, tikvStores: 3, fleet });
  t.comment(pd.line);
  await ensureCluster({ stewardEnv: { STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/${NAME}`]: pd.endpoints }), STEWARD_PD_TIMEOUT_MS: '1000' }, nodes: defaultNodes(5) });
  await fleet.follow(KUBECONFIG);
  t.teardown(() => fleet.stop());
  await installCrd();
  t.teardown(await namespace(NS));
  await pd.start();
  t.teardown(() => pd.stop());
  await dropReleasedVolumes();
  await ensureVolumes(8, '1Gi', `e2e-pingcap-${Date.now().toString(36)}`);
});

/** PingCAP's shape: requests.storage, baseImage, config as maps, timezone, discovery/helper, separateSlowLog. */
function pingcapCluster(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'tidb-steward.dev/v1alpha1',
    kind: 'TidbCluster',
    metadata: { name: NAME, namespace: NS },
    spec: {
      version: 'v8.5.4',
      timezone: 'Asia/Shanghai',
      pvReclaimPolicy: 'Retain',
      enableDynamicConfiguration: true,
      configUpdateStrategy: 'RollingUpdate',
      discovery: {},
      helper: { image: 'alpine:3.16.0' },
      pd: { baseImage: 'pingcap/pd', maxFailoverCount: 0, replicas: 3, storageClassName: STORAGE_CLASS, requests: { storage: '1Gi' }, config: { log: { level: 'info' }, replication: { 'max-replicas': 3 } } },
      tikv: { baseImage: 'pingcap/tikv', maxFailoverCount: 0, evictLeaderTimeout: '1m', replicas: 3, storageClassName: STORAGE_CLASS, requests: { storage: '1Gi' }, config: { storage: { 'reserve-space': '0MB' }, rocksdb: { 'max-open-files': 256 } } },
      tidb: { baseImage: 'pingcap/tidb', maxFailoverCount: 0, replicas: 1, separateSlowLog: true, service: { type: 'NodePort', externalTrafficPolicy: 'Local', exposeStatus: false }, config: { log: { level: 'info' } } },
      ...extra,
    },
  });
}

t.test('what tidb-steward does not run is refused naming it; a broken TOML config with its line', async (t) => {
  const tiflash = await kubectl(['apply', '-f', '-'], { input: pingcapCluster({ tiflash: { baseImage: 'pingcap/tiflash', replicas: 1 } }) });
  t.not(tiflash.code, 0, 'refused');
  t.match(tiflash.stderr, 'spec.tiflash: TiFlash is not run by tidb-steward yet');
  t.notMatch(tiflash.stderr, /unknown field|Unrecognized/, 'not an unknown field: the reason');
  const broken = JSON.parse(pingcapCluster());
  broken.spec.pd.config = '[log]\nlevel = "info"\n[replication\nmax-replicas = 3\n';
  const toml = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(broken) });
  t.not(toml.code, 0, 'refused');
  t.match(toml.stderr, /spec\.pd\.config: is not valid TOML \(line 3, column \d+/);
  t.comment(`${tiflash.stderr.trim()}\n${toml.stderr.trim()}`);
  t.not((await kubectl(['get', 'tc', '-n', NS, NAME])).code, 0, 'nothing was stored');
});

t.test('a PingCAP-shaped TidbCluster is admitted with warnings, built with its meaning, and becomes Ready', async (t) => {
  const applied = await kubectl(['apply', '-f', '-'], { input: pingcapCluster() });
  t.equal(applied.code, 0, `admitted: ${applied.stderr}`);
  t.match(applied.stderr, 'Warning: spec.discovery has no effect');
  t.match(applied.stderr, 'Warning: spec.helper has no effect');
  const started = Date.now();
  await until('the PingCAP-shaped cluster Ready', () => isReady(NS, NAME), 300_000);
  t.comment(`Ready ${((Date.now() - started) / 1000).toFixed(1)} s after apply`);
  const sts = (c: string) => kubectlOk(['get', 'statefulset', '-n', NS, `${NAME}-${c}`, '-o', 'json']).then((o) => JSON.parse(o));
  const pdSts = await sts('pd');
  const pdMain = pdSts.spec.template.spec.containers[0];
  t.equal(pdMain.image, 'pingcap/pd:v8.5.4', 'image from baseImage and version');
  t.equal(pdMain.env.find((e: { name: string }) => e.name === 'TZ')?.value, 'Asia/Shanghai', 'timezone');
  t.equal(pdSts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '1Gi', 'volume from requests.storage');
  t.notOk(pdMain.resources?.requests?.storage, 'storage is not a container resource');
  const cm = JSON.parse(await kubectlOk(['get', 'configmap', '-n', NS, `${NAME}-tikv`, '-o', 'json']));
  t.match(cm.data['config-file'], /\[rocksdb\]\nmax-open-files = 256/, 'map config rendered to TOML');
  const tidbSts = await sts('tidb');
  t.same(tidbSts.spec.template.spec.containers.map((c: { name: string }) => c.name), ['tidb', 'slowlog'], 'slow-log sidecar');
  const svc = JSON.parse(await kubectlOk(['get', 'service', '-n', NS, `${NAME}-tidb`, '-o', 'json']));
  t.same([svc.spec.type, svc.spec.externalTrafficPolicy, svc.spec.ports.map((p: { name: string }) => p.name)], ['NodePort', 'Local', ['mysql-client']], 'service settings');
  const claims = JSON.parse(await kubectlOk(['get', 'pvc', '-n', NS, '-o', 'json'])).items as Array<{ status: { phase: string } }>;
  t.equal(claims.filter((c) => c.status.phase === 'Bound').length, 6, 'PD and TiKV claims bound');
});

t.test('/metrics shows the cluster as PD and the ledger last showed it', async (t) => {
  const { PORTS } = await import('../cluster/controlplane.ts');
  const { request } = await import('node:https');
  const scrape = () =>
    new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: PORTS.steward, path: '/metrics', rejectUnauthorized: false }, (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve(s));
      }).on('error', reject).end();
    });
  const series = (body: string, name: string, extra = '') => Number(new RegExp(`${name}\\{namespace="${NS}",cluster="${NAME}"${extra}\\} (-?[\\d.]+)`).exec(body)?.[1] ?? Number.NaN);
  let body = '';
  await until('per-cluster series on /metrics', async () => {
    body = await scrape();
    return series(body, 'tidb_steward_pd_members') === 3 && series(body, 'tidb_steward_tikv_stores', ',state="Up"') === 3;
  }, 60_000);
  t.equal(series(body, 'tidb_steward_pd_members_healthy'), 3);
  t.equal(series(body, 'tidb_steward_pd_quorum_margin'), 1, 'one PD member may still fail');
  t.match(body, new RegExp(`tidb_steward_pd_leader\\{namespace="${NS}",cluster="${NAME}",member="${NAME}-pd-\\d"\\} 1`), 'the leader named');
  t.ok(series(body, 'tidb_steward_pd_snapshot_age_seconds') < 120, 'a recent snapshot');
});
