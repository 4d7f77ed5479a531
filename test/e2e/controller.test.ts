// The TidbCluster controller end to end on the local control plane (real kube-apiserver,
// kube-controller-manager, kube-scheduler + tidb-scheduler, kwok). One cluster, "basic", goes through
// its life on real PD when PD_BIN_DIR is set (pd-server members that join and leave PD as the
// controller scales it, pd-simulator stores; tc-pd.ts), on the pod-following stand-in otherwise:
// created → Ready, paused, PD 3→5→3, TiKV 3→4→3, a refused scale-in, suspended and resumed, deleted.
// A second one cannot be placed and says why; a second tidb-steward replica takes over when the
// active one dies.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { defaultNodes, ensureCluster, KUBECONFIG, PORTS, stewardEnv, type Cluster } from '../cluster/controlplane.ts';
import { REPO } from '../cluster/paths.ts';
import { kubectl, kubectlOk, namespace, sleep, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { tcPd, type TcPdHandle } from './tc-pd.ts';
import { condition, dropReleasedVolumes, ensureVolumes, getTc, installCrd, isReady, patchTc, stsReplicas, tidbCluster } from './tc-helpers.ts';

t.setTimeout(900_000);
const NS = 'e2e-tc';
const fleet = new PdFleet();
let basic: TcPdHandle;
let cluster: Cluster;
let env: Record<string, string> = {};
const figures: Record<string, string> = {};

t.before(async () => {
  await fleet.start();
  basic = tcPd({ namespace: NS, cluster: 'basic', pdMembers: 3, tikvStores: 3, fleet, onFollow: (l) => t.comment(`pd: ${l}`) });
  t.comment(basic.line);
  // "hungry" never gets a PD pod Running: it stays on the stand-in either way.
  const endpoints = { [`${NS}/basic`]: basic.endpoints, [`${NS}/hungry`]: [fleet.endpoint(NS, 'hungry')] };
  env = { STEWARD_PD_ENDPOINTS: JSON.stringify(endpoints), STEWARD_PENDING_GRACE_SECONDS: '5', STEWARD_PD_TIMEOUT_MS: '1000' };
  // 5 nodes: on the way from 3 to 5 PD members, 4 members need 4 failure domains (at most
  // floor((4-1)/2) = 1 per node under the placement rule).
  cluster = await ensureCluster({ stewardEnv: env, nodes: defaultNodes(5) });
  await fleet.follow(KUBECONFIG);
  t.teardown(() => fleet.stop());
  await installCrd();
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  // After the namespace is emptied: pods of an earlier run are not this run's members.
  await basic.start();
  t.teardown(() => basic.stop());
  await dropReleasedVolumes();
  await ensureVolumes(24, '1Gi', `e2e-tc-${Date.now().toString(36)}`);
});

t.teardown(() => t.comment(`figures: ${JSON.stringify(figures)}`));

async function podsOf(ns: string, instance: string): Promise<Array<{ name: string; phase: string; uid: string }>> {
  const out = await kubectlOk(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${instance}`, '-o', 'json']);
  return (JSON.parse(out).items as Array<{ metadata: { name: string; uid: string }; status: { phase: string } }>).map((p) => ({ name: p.metadata.name, phase: p.status.phase, uid: p.metadata.uid }));
}

const ready = () => isReady(NS, 'basic');

t.test('the API server refuses an invalid TidbCluster, naming the errors with their paths', async (t) => {
  // Field rules of the schema first; the API server evaluates the CEL rules only on an object that
  // passes them (the reconciler checks both, and reports every error at once).
  const schemaErrors = JSON.parse(tidbCluster(NS, 'bad', { pd: { replicas: 0 }, tidb: { service: { type: 'External' } } }));
  const crossField = JSON.parse(tidbCluster(NS, 'a-name-that-is-far-too-long-for-pod-dns-names'));
  crossField.spec.tikv.requests = { cpu: '4' };
  crossField.spec.tikv.limits = { cpu: '2' };
  for (const [obj, paths] of [[schemaErrors, ['spec.pd.replicas', 'spec.tidb.service.type']], [crossField, ['metadata.name', 'spec.tikv.requests.cpu']]] as const) {
    const r = await kubectl(['create', '-f', '-'], { input: JSON.stringify(obj) });
    t.not(r.code, 0, 'refused');
    for (const path of paths) t.match(r.stderr, path, `names ${path}`);
    t.comment(r.stderr.trim());
  }
});

t.test('a TidbCluster becomes Services, ConfigMaps, StatefulSets, PDBs, Running pods, and Ready', async (t) => {
  const started = Date.now();
  await cluster.apply(tidbCluster(NS, 'basic'));
  await until('the TidbCluster Ready', ready, 180_000, 500);
  figures.createToReadySeconds = ((Date.now() - started) / 1000).toFixed(1);
  const names = async (kind: string) => (await kubectlOk(['get', kind, '-n', NS, '-l', 'app.kubernetes.io/instance=basic', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').sort();
  t.same(await names('services'), ['basic-pd', 'basic-pd-peer', 'basic-tidb', 'basic-tidb-peer', 'basic-tikv-peer']);
  t.same(await names('configmaps'), ['basic-pd', 'basic-tidb', 'basic-tikv']);
  t.same(await names('statefulsets'), ['basic-pd', 'basic-tidb', 'basic-tikv']);
  t.same(await names('poddisruptionbudgets'), ['basic-pd', 'basic-tidb', 'basic-tikv']);
  const pods = await podsOf(NS, 'basic');
  t.equal(pods.filter((p) => p.phase === 'Running').length, 8, '3 PD + 3 TiKV + 2 TiDB Running');
  const scheduler = await kubectlOk(['get', 'pod', '-n', NS, 'basic-pd-0', '-o', 'jsonpath={.spec.schedulerName}']);
  t.equal(scheduler, 'tidb-scheduler');
  const tc = await getTc(NS, 'basic');
  t.same(tc.status.pd.members.map((m: { name: string }) => m.name), ['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'members as PD reports them');
  t.ok(tc.status.pd.leader, `PD leader ${tc.status.pd.leader}`);
  t.same(tc.status.tikv.stores.map((s: { state: string }) => s.state), ['Up', 'Up', 'Up']);
  t.same(tc.status.tikv.stores.map((s: { pod: string }) => s.pod).sort(), ['basic-tikv-0', 'basic-tikv-1', 'basic-tikv-2'], 'a store per TiKV pod, found by its address');
  for (const type of ['Progressing', 'Paused', 'Suspended', 'Degraded']) t.equal(condition(tc, type)?.status, 'False', `${type} False`);
  const printed = await kubectlOk(['get', 'tc', '-n', NS]);
  t.match(printed, /NAME\s+READY\s+PD\s+TIKV\s+TIDB\s+AGE\nbasic\s+True\s+3\/3\s+3\/3\s+2\/2/, printed);
  // Events are posted apart from the status write: wait for it a little.
  const events = await until('the ClusterReady Event', async () => {
    const reasons = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=TidbCluster', '-o', 'jsonpath={.items[*].reason}']);
    return /ClusterReady/.test(reasons) ? reasons : null;
  }, 15_000);
  t.match(events, /ClusterReady/);
});

t.test('pause holds a replica change until resumed; status keeps being updated', async (t) => {
  await patchTc(NS, 'basic', { spec: { paused: true } });
  await until('Paused condition', async () => condition(await getTc(NS, 'basic'), 'Paused')?.status === 'True', 30_000);
  await patchTc(NS, 'basic', { spec: { tidb: { replicas: 3 } } });
  await until('the held change in status', async () => /tidb replicas 2 → 3/.test(condition(await getTc(NS, 'basic'), 'Paused')?.message ?? ''), 30_000);
  await sleep(4000);
  t.equal(await stsReplicas(NS, 'basic-tidb'), 2, 'the StatefulSet is not changed while paused');
  const tc = await getTc(NS, 'basic');
  t.equal(tc.status.observedGeneration, tc.metadata.generation, 'status follows the new generation while paused');
  await patchTc(NS, 'basic', { spec: { paused: false } });
  await until('TiDB at 3 after resume', async () => (await stsReplicas(NS, 'basic-tidb')) === 3, 30_000);
  await until('Ready again', ready, 60_000);
  await patchTc(NS, 'basic', { spec: { tidb: { replicas: 2 } } });
  await until('TiDB back at 2', async () => (await stsReplicas(NS, 'basic-tidb')) === 2 && (await ready()), 60_000);
});

t.test('PD 3 → 5 → 3: members join one at a time, leave through PD, the leader is handed over first', async (t) => {
  const started = Date.now();
  const seen = new Set<number>();
  await patchTc(NS, 'basic', { spec: { pd: { replicas: 5 } } });
  await until('5 PD members Ready', async () => {
    seen.add((await stsReplicas(NS, 'basic-pd')) ?? 0);
    return (await basic.members()).length === 5 && (await ready());
  }, 120_000, 250);
  figures.pdScaleOutSeconds = ((Date.now() - started) / 1000).toFixed(1);
  t.ok(seen.has(4), `the StatefulSet went through 4 (seen ${[...seen].sort().join(',')})`);
  t.same(await basic.members(), ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-pd-3', 'basic-pd-4']);
  // Make the member to be removed first the leader: it must hand leadership over before it goes.
  await basic.makeLeader('basic-pd-4');
  const inStarted = Date.now();
  await patchTc(NS, 'basic', { spec: { pd: { replicas: 3 } } });
  await until('3 PD members Ready', async () => (await basic.members()).length === 3 && (await stsReplicas(NS, 'basic-pd')) === 3 && (await ready()), 120_000, 250);
  figures.pdScaleInSeconds = ((Date.now() - inStarted) / 1000).toFixed(1);
  const log = basic.log.map((l) => l.what);
  const transfer = log.findIndex((w) => /^leader basic-pd-4 → /.test(w));
  const removed4 = log.indexOf('member basic-pd-4 removed');
  t.ok(transfer >= 0 && removed4 > transfer, `leader handed over before basic-pd-4 was removed: ${log.slice(-6).join(' | ')}`);
  t.ok(log.includes('member basic-pd-3 removed'));
  t.same(await basic.members(), ['basic-pd-0', 'basic-pd-1', 'basic-pd-2']);
  const pods = (await podsOf(NS, 'basic')).map((p) => p.name);
  t.notOk(pods.includes('basic-pd-3') || pods.includes('basic-pd-4'), 'their pods are gone');
});

t.test('TiKV 3 → 4 → 3: the store is Tombstone before its pod goes', async (t) => {
  const started = Date.now();
  await patchTc(NS, 'basic', { spec: { tikv: { replicas: 4 } } });
  await until('4 stores Up and Ready', async () => (await basic.stores()).filter((s) => s.state === 'Up').length === 4 && (await ready()), 120_000, 250);
  figures.tikvScaleOutSeconds = ((Date.now() - started) / 1000).toFixed(1);
  const store = (await basic.stores()).find((s) => s.pod === 'basic-tikv-3' && s.state === 'Up')!;
  t.ok(store, 'a store labelled or addressed with the new pod, Up');
  let stateWhenPodWent = '';
  const uid = (await podsOf(NS, 'basic')).find((p) => p.name === 'basic-tikv-3')!.uid;
  let podGoneAt = 0;
  const watch = (async () => {
    while (!podGoneAt) {
      const r = await kubectl(['get', 'pod', '-n', NS, 'basic-tikv-3', '-o', 'jsonpath={.metadata.uid}|{.metadata.deletionTimestamp}']);
      const [u, deleting] = r.stdout.split('|');
      if (r.code !== 0 || u !== uid || deleting) {
        podGoneAt = Date.now();
        stateWhenPodWent = (await basic.stores()).find((s) => s.id === store.id)?.state ?? 'absent';
      } else await sleep(100);
    }
  })();
  const inStarted = Date.now();
  await patchTc(NS, 'basic', { spec: { tikv: { replicas: 3 } } });
  await until('TiKV back at 3 and Ready', async () => (await stsReplicas(NS, 'basic-tikv')) === 3 && (await ready()), 120_000, 250);
  await watch;
  figures.tikvScaleInSeconds = ((Date.now() - inStarted) / 1000).toFixed(1);
  const after = (await basic.stores()).find((s) => s.id === store.id)!;
  t.equal(after.state, 'Tombstone');
  t.equal(stateWhenPodWent, 'Tombstone', 'the store was Tombstone when its pod was seen going');
  t.ok(after.tombstoneAt && after.tombstoneAt < podGoneAt, `store ${store.id} Tombstone ${((podGoneAt - (after.tombstoneAt ?? 0)) / 1000).toFixed(1)}s before its pod was deleted`);
  const log = basic.log.map((l) => l.what);
  t.ok(log.indexOf(`store ${store.id} of basic-tikv-3 Offline`) >= 0 && log.indexOf(`store ${store.id} of basic-tikv-3 Offline`) < log.indexOf(`store ${store.id} of basic-tikv-3 Tombstone`), `Offline, then Tombstone: ${log.filter((w) => w.startsWith(`store ${store.id} `)).join(' | ')}`);
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=TidbCluster', '-o', 'jsonpath={.items[*].reason}']);
  t.match(events, /StoreDeleting/);
  t.match(events, /StoreTombstoned/);
});

t.test('a TiKV scale-in below max-replicas is refused with the reason', async (t) => {
  await patchTc(NS, 'basic', { spec: { tikv: { replicas: 2 } } });
  const c = await until('the refusal in status', async () => {
    const p = condition(await getTc(NS, 'basic'), 'Progressing');
    return p?.reason === 'ScaleInBlocked' ? p : null;
  }, 30_000);
  t.equal(c.status, 'False');
  t.match(c.message, /would leave 2 Up stores, fewer than PD's max-replicas 3/);
  t.equal(await stsReplicas(NS, 'basic-tikv'), 3, 'no store was removed');
  t.equal((await basic.stores()).filter((s) => s.state === 'Up').length, 3);
  await patchTc(NS, 'basic', { spec: { tikv: { replicas: 3 } } });
  await until('Ready with 3 stores', async () => (await ready()) && condition(await getTc(NS, 'basic'), 'Progressing')?.reason !== 'ScaleInBlocked', 30_000);
});

t.test('suspend → zero pods with PVCs kept; resume → Ready with the same stores', async (t) => {
  const storesBefore = (await basic.stores()).filter((s) => s.state === 'Up').map((s) => s.id).sort();
  const claimsBefore = (await kubectlOk(['get', 'pvc', '-n', NS, '-o', 'jsonpath={.items[*].metadata.uid}'])).split(' ').sort();
  const started = Date.now();
  await patchTc(NS, 'basic', { spec: { suspend: true } });
  await until('Suspended', async () => condition(await getTc(NS, 'basic'), 'Suspended')?.status === 'True', 180_000, 500);
  figures.suspendSeconds = ((Date.now() - started) / 1000).toFixed(1);
  t.equal((await podsOf(NS, 'basic')).length, 0, 'no pods');
  const claimsAfter = (await kubectlOk(['get', 'pvc', '-n', NS, '-o', 'jsonpath={.items[*].metadata.uid}'])).split(' ').sort();
  t.same(claimsAfter, claimsBefore, 'the same volume claims are kept');
  const evictedFirst = basic.log.filter((l) => /^evict leaders of store/.test(l.what)).length;
  t.ok(evictedFirst >= 1, `leaders were evicted from TiKV stores before their pods stopped (${evictedFirst})`);
  const resumed = Date.now();
  await patchTc(NS, 'basic', { spec: { suspend: false } });
  await until('Ready after resume', ready, 180_000, 500);
  figures.resumeToReadySeconds = ((Date.now() - resumed) / 1000).toFixed(1);
  t.same((await basic.stores()).filter((s) => s.state === 'Up').map((s) => s.id).sort(), storesBefore, 'the stores came back with their data (same ids)');
  await until('no evict-leader entry left', async () => (await basic.evicting()).length === 0 && !(await getTc(NS, 'basic')).status.tikv.evictLeader, 30_000);
});

// On the stand-in either way: its PD pod never runs, so there is no PD of its own to start.
t.test('a pod Pending for lack of CPU explains itself', async (t) => {
  await cluster.apply(tidbCluster(NS, 'hungry', { pvReclaimPolicy: 'Delete', pd: { replicas: 1, requests: { cpu: '2000' } }, tikv: { replicas: 1 }, tidb: { replicas: 1 } }));
  const c = await until('the diagnosis in status', async () => {
    const d = condition(await getTc(NS, 'hungry'), 'Degraded');
    return d?.reason === 'InsufficientCPU' ? d : null;
  }, 60_000);
  t.match(c.message, /hungry-pd-0 requests 2000 CPU but the most any node has free is [\d.]+ CPU \(node-\w\); add a node with more CPU or lower spec\.pd\.requests\.cpu/);
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=hungry,reason=PodPending', '-o', 'jsonpath={.items[*].message}']);
  t.match(events, /requests 2000 CPU/);
  const claims = await kubectlOk(['get', 'pvc', '-n', NS, '-l', 'app.kubernetes.io/instance=hungry', '-o', 'name']);
  t.match(claims, /persistentvolumeclaim\/pd-hungry-pd-0/, 'the Pending member has its volume claim');
  await kubectlOk(['delete', 'tidbcluster', '-n', NS, 'hungry', '--wait=true', '--timeout=60s']);
  await until('volume claims deleted with the cluster (pvReclaimPolicy Delete)', async () => (await kubectlOk(['get', 'pvc', '-n', NS, '-l', 'app.kubernetes.io/instance=hungry', '-o', 'name'])).trim() === '', 60_000);
});

t.test('the active controller replica killed: another takes over', async (t) => {
  const port = PORTS.steward + 50;
  const second = spawn(process.execPath, ['--max-semi-space-size=8', join(REPO, 'src', 'main.ts')], { env: { ...process.env, ...stewardEnv({ ...env, STEWARD_PORT: String(port), POD_NAME: 'steward-b' }) }, stdio: 'ignore' });
  t.teardown(() => second.kill('SIGKILL'));
  const holder = async () => (await kubectl(['get', 'lease', '-n', 'tidb-steward', 'tidb-steward-controller', '-o', 'jsonpath={.spec.holderIdentity}'])).stdout;
  const first = await until('a lease holder', holder, 30_000);
  await sleep(3000);
  t.equal(await holder(), first, 'the running replica keeps the lease; the second one waits');
  t.not(first, 'steward-b');
  await cluster.kubectl(['get', 'pods']);
  const killedAt = Date.now();
  // SIGKILL: no graceful release, the lease has to expire.
  const { readPids } = await import('../cluster/procs.ts');
  process.kill(-readPids()['tidb-steward']!, 'SIGKILL');
  await until('steward-b holds the lease', async () => (await holder()) === 'steward-b', 40_000, 250);
  figures.takeoverSeconds = ((Date.now() - killedAt) / 1000).toFixed(1);
  // Lease 10 s, counted from when the survivor last saw it renewed (up to one 2 s retry after the
  // last renewal), plus up to one 2 s retry to notice the expiry: at most 14 s.
  t.ok(Date.now() - killedAt < 15_000, `took over in ${figures.takeoverSeconds}s`);
  await patchTc(NS, 'basic', { spec: { tidb: { replicas: 3 } } });
  await until('the new leader reconciles: TiDB at 3', async () => (await stsReplicas(NS, 'basic-tidb')) === 3, 30_000);
  await patchTc(NS, 'basic', { spec: { tidb: { replicas: 2 } } });
  await until('TiDB back at 2', async () => (await stsReplicas(NS, 'basic-tidb')) === 2, 30_000);
  second.kill('SIGTERM');
  await cluster.restartSteward(env);
});

t.test('deleting the TidbCluster removes its objects; nothing is left in PD or the eviction records', async (t) => {
  // An eviction record of the drain service, as a drain in progress would leave it.
  const evicted = (await basic.stores()).find((s) => s.state === 'Up')!.id;
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'tidb-steward.dev/v1alpha1', kind: 'DisruptionLedger', metadata: { name: 'basic', namespace: NS }, spec: { cluster: 'basic', evictions: [{ storeId: String(evicted), podUid: 'x', beganAt: '2026-01-01T00:00:00Z', cause: 'removal' }] } }));
  await basic.evict(evicted);
  t.ok((await basic.evicting()).includes(evicted), `store ${evicted} in PD's evict-leader scheduler`);
  // Real PD: pd-server keeps running after its pods go, so PD can be asked what is left in it.
  basic.holdMembers();
  const claims = (await kubectlOk(['get', 'pvc', '-n', NS, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);
  const started = Date.now();
  await kubectlOk(['delete', 'tidbcluster', '-n', NS, 'basic', '--wait=true', '--timeout=90s']);
  await until('every owned object gone', async () => {
    const left = await kubectlOk(['get', 'statefulsets,services,configmaps,poddisruptionbudgets,pods', '-n', NS, '-l', 'app.kubernetes.io/instance=basic', '-o', 'name']);
    return left.trim() === '';
  }, 120_000);
  figures.deleteSeconds = ((Date.now() - started) / 1000).toFixed(1);
  t.same(await basic.evicting(), [], 'the evict-leader entry in PD was ended');
  const ledger = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'basic', '-o', 'jsonpath={.spec.evictions}{.spec.leaving}']);
  t.ok(ledger.code !== 0 || ['', '[][]'].includes(ledger.stdout.trim()), `the eviction records are gone: ${ledger.stdout}`);
  const after = (await kubectlOk(['get', 'pvc', '-n', NS, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);
  t.same(after.sort(), claims.sort(), 'volume claims kept (pvReclaimPolicy Retain)');
});
