// npm run demo — a first look: the local control plane, a TiDB cluster's PD and TiKV pods placed by
// tidb-scheduler with tidb-steward's rule, and a complete kubectl drain of the PD leader's node: the
// leader moves and the store's region leaders leave before the pods go. PD is real pd-server and
// pd-simulator from PD_BIN_DIR, or the stand-in (and the demo says the PD side is simulated).
import { KUBECONFIG, kubectl, kubectlOk, restartSteward, up } from './controlplane.ts';
import { readFileSync } from 'node:fs';
import { logPath, sleep } from './procs.ts';
import { PdWatch, pdBackendLine, startPdBackend, type PdBackend } from './pd-backend.ts';

const step = (msg: string) => process.stdout.write(`\n\x1b[1m== ${msg}\x1b[0m\n`);
const note = (msg: string) => process.stdout.write(`   ${msg}\n`);
const NS = 'demo';

function statefulSet(component: 'pd' | 'tikv', replicas: number): string {
  const labels = { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-steward' };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: `basic-${component}`, namespace: NS, labels },
    spec: {
      replicas,
      serviceName: `basic-${component}-peer`,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': 'basic' } },
      template: { metadata: { labels }, spec: { schedulerName: 'tidb-scheduler', terminationGracePeriodSeconds: 1, containers: [{ name: component, image: `pingcap/${component}:v8.5.4` }] } },
    },
  });
}

async function placement(): Promise<Record<string, string>> {
  const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', NS, '-o', 'json'])).items as Array<{ metadata: { name: string }; spec: { nodeName?: string } }>;
  return Object.fromEntries(list.map((p) => [p.metadata.name, p.spec.nodeName ?? '(Pending)']));
}

/** Polls until every pod of the namespace is placed (or `n` of them exist and are placed). */
async function placedPods(n: number): Promise<Record<string, string>> {
  let pods: Record<string, string> = {};
  for (let i = 0; i < 90; i++) {
    pods = await placement();
    if (Object.keys(pods).length === n && Object.values(pods).every((node) => node !== '(Pending)')) break;
    await sleep(500);
  }
  return pods;
}

/** When a pod's current incarnation disappears. */
async function goneAt(pod: string): Promise<number> {
  const uid = (await kubectlOk(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid}'])).trim();
  for (;;) {
    const r = await kubectl(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid}']);
    if (r.code !== 0 || r.stdout.trim() !== uid) return Date.now();
    await sleep(100);
  }
}

let pd: PdBackend | null = null;
try {
  step('1. Local control plane (etcd, kube-apiserver, controller-manager, default scheduler, tidb-scheduler, kwok, tidb-steward)');
  const { seconds, reused } = await up();
  note(`${reused ? 'reused the running cluster' : 'started'} in ${seconds.toFixed(1)}s`);
  note((await kubectlOk(['get', 'nodes', '-L', 'topology.kubernetes.io/zone'])).trimEnd().split('\n').join('\n   '));

  step('2. PD for the TiDB cluster "basic": 5 members named after the PD pods, 3 TiKV stores');
  note(pdBackendLine());
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=60s']);
  await kubectlOk(['create', 'namespace', NS]);
  const follow: string[] = [];
  pd = await startPdBackend({ namespace: NS, cluster: 'basic', pdMembers: 5, tikvStores: 3, regions: 90, onFollow: (l) => follow.push(l) });
  const simulated = pd.kind === 'stand-in';
  note(simulated ? 'The stand-in answers PD\'s HTTP API and moves leaders on a timer: the drain below is SIMULATED on the PD side.' : `pd-server members on ${pd.endpoints.join(', ')}; a deleted PD pod stops its member, as on Kubernetes.`);
  await restartSteward(pd.stewardEnv());
  note(`tidb-steward talks to it (STEWARD_PD_ENDPOINTS) and was restarted`);

  step('3. The TiDB cluster "basic": 5 PD pods and 3 TiKV pods, scheduled by tidb-scheduler on 3 nodes');
  await kubectlOk(['apply', '-f', '-'], statefulSet('pd', 5));
  await kubectlOk(['apply', '-f', '-'], statefulSet('tikv', 3));
  const pods = await placedPods(8);
  const perNode: Record<string, string[]> = {};
  for (const [pod, node] of Object.entries(pods)) (perNode[node] ??= []).push(pod);
  for (const [node, list] of Object.entries(perNode).sort()) note(`${node}: ${list.sort().join(', ')}`);
  note('no node holds more than 2 of the 5 PD members (floor((5-1)/2)): losing any one node keeps PD quorum.');

  step('4. Scale PD to 7 pods: the rule allows at most 3 per node; then back to 5');
  await kubectlOk(['scale', 'statefulset', 'basic-pd', '-n', NS, '--replicas=7']);
  const seven = await placedPods(10);
  const counts: Record<string, number> = {};
  for (const [pod, node] of Object.entries(seven)) if (pod.startsWith('basic-pd-')) counts[node] = (counts[node] ?? 0) + 1;
  note(`PD pods per node: ${JSON.stringify(counts)}`);
  await kubectlOk(['scale', 'statefulset', 'basic-pd', '-n', NS, '--replicas=5']);
  await placedPods(8);
  note('scaled back to 5 (basic-pd-5 and -6 were not PD members, so tidb-steward let them go at once)');

  step('5. kubectl drain the node of the PD leader, which also holds a TiKV store');
  await pd.makeLeader('basic-pd-0');
  const now = await placement();
  const node = now['basic-pd-0']!;
  const tikv = Object.keys(now).find((p) => p.startsWith('basic-tikv-') && now[p] === node) ?? null;
  const stores = await pd.stores();
  const store = tikv ? stores.find((s) => s.pod === tikv) ?? null : null;
  note(`PD leader: ${await pd.leader()}; ${node} holds basic-pd-0${tikv ? ` and ${tikv} (store ${store?.id}, leading ${store?.leaders} regions)` : ''}`);
  note('tidb-steward answers each eviction "not yet" (429) until PD has moved leadership and region leaders away:');
  const watch = new PdWatch(pd);
  const started = Date.now();
  const gone = { pd: goneAt('basic-pd-0'), tikv: tikv ? goneAt(tikv) : Promise.resolve(0) };
  let last = '';
  const ticker = setInterval(() => {
    const s = watch.samples[watch.samples.length - 1];
    if (!s) return;
    const line = `leader ${s.leader ?? '(election)'}${store ? ` | store ${store.id} (${tikv}): ${s.leaders.get(store.id) ?? '?'} leaders` : ''}`;
    if (line !== last) note(`  t+${((s.at - started) / 1000).toFixed(1)}s  ${line}${simulated ? '  (simulated)' : ''}`);
    last = line;
  }, 250);
  const drained = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=180s', '--pod-selector=app.kubernetes.io/instance=basic'], { timeoutMs: 200_000 });
  const [pdGone, tikvGone] = await Promise.all([gone.pd, gone.tikv]);
  clearInterval(ticker);
  await watch.stop();
  // What tidb-steward answered each eviction, from its log.
  for (const line of readFileSync(logPath('tidb-steward'), 'utf8').split('\n')) {
    if (!line.includes(`"pod":"${NS}/`) || !/removal (must wait|allowed)/.test(line)) continue;
    const e = JSON.parse(line) as { time: number; pod: string; via: string; reason: string; msg: string };
    if (e.time < started || e.via !== 'eviction') continue;
    note(`| t+${((e.time - started) / 1000).toFixed(1)}s ${e.pod} ${e.msg === 'removal allowed' ? 'allowed' : '429 not yet'}: ${e.reason}`);
  }
  if (drained.code !== 0) throw new Error(`the drain did not complete: ${drained.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  note(`drain of ${node} COMPLETED in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const moved = watch.leaderLeft('basic-pd-0');
  if (moved) note(`PD leader moved basic-pd-0 -> ${moved.to} at t+${((moved.at - started) / 1000).toFixed(1)}s, ${((pdGone - moved.at) / 1000).toFixed(1)}s before basic-pd-0 was deleted`);
  const fell = store ? watch.storeDrained(store.id) : null;
  if (store && fell) note(`store ${store.id}'s leader count: ${fell.from} -> 0 by t+${((fell.zeroAt - started) / 1000).toFixed(1)}s (the fall itself took ${((fell.zeroAt - fell.fromAt) / 1000).toFixed(1)}s), ${((tikvGone - fell.zeroAt) / 1000).toFixed(1)}s before ${tikv} was deleted`);
  for (const l of follow) note(`pd-follow: ${l}`);
  if (simulated) note('(PD side simulated by the stand-in; set PD_BIN_DIR to see real pd-server do it)');
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=Pod', '-o', 'custom-columns=REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message', '--no-headers']);
  for (const e of events.trim().split('\n').filter((l) => /PDLeaderTransfer|EvictingLeaders/.test(l)).slice(0, 3)) note(`event: ${e.slice(0, 200)}`);

  step('6. Uncordon: the pods come back and tidb-steward ends the leader eviction in PD');
  await kubectlOk(['uncordon', node]);
  await placedPods(8);
  for (let i = 0; i < 120 && (await pd.evicting()).length > 0; i++) await sleep(500);
  const left = await pd.evicting();
  note(left.length ? `evict-leader scheduler still lists stores ${left.join(', ')}` : 'no evict-leader scheduler left in PD');

  step('Done. The demo\'s PD stops with it; the Kubernetes cluster keeps running. Look around:');
  note(`.cluster/kubectl get pods -n ${NS} -o wide`);
  note(`.cluster/kubectl get events -n ${NS}`);
  note(`kubeconfig: ${KUBECONFIG}; logs: .cluster/logs/ (tidb-steward.log, tidb-scheduler.log, ...)`);
  note('stop everything: npm run cluster:down');
  await pd.stop();
  pd = null;
  await restartSteward();
} catch (err) {
  await pd?.stop().catch(() => undefined);
  process.stderr.write(`\n[demo] ${(err as Error).message}\n[demo] logs are in .cluster/logs/; npm run cluster:down stops what is running\n`);
  process.exit(1);
}
