// npm run demo:drain — the local control plane, a TiDB cluster's PD and TiKV pods placed by
// tidb-scheduler with tidb-steward's rule, the drain plan of the PD leader's node, and a complete
// kubectl drain of it: the leader moves and the store's region leaders leave before the pods go. PD is
// real pd-server and pd-simulator from PD_BIN_DIR, or the stand-in (and the demo says the PD side is
// simulated). It keeps to a namespace and cluster name of its own (another demo's cluster keeps
// running, with its PD endpoints), selects only its own pods, and leaves no node cordoned.
import { KUBECONFIG, kubectl, kubectlOk, restartSteward, stewardOverrides, up } from './controlplane.ts';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './paths.ts';
import { logPath, sleep } from './procs.ts';
import { PdWatch, pdBackendLine, startPdBackend, type PdBackend } from './pd-backend.ts';

const step = (msg: string) => process.stdout.write(`\n\x1b[1m== ${msg}\x1b[0m\n`);
const note = (msg: string) => process.stdout.write(`   ${msg}\n`);
const NS = 'demo-drain';
const TC = 'drainable';
/** Marks the namespace as this demo's: only such a namespace is ever deleted. */
const OWNER = { key: 'tidb-steward.dev/demo', value: 'drain' };
/** This run's pods: the drain's pod selector matches nothing else in any namespace. */
const RUN = `drain-${Date.now().toString(36)}`;
const maxPerNode = (members: number) => Math.floor((members - 1) / 2);

function statefulSet(component: 'pd' | 'tikv', replicas: number): string {
  const labels = { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': TC, 'app.kubernetes.io/managed-by': 'tidb-steward', 'tidb-steward.dev/demo-run': RUN };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: `${TC}-${component}`, namespace: NS, labels },
    spec: {
      replicas,
      serviceName: `${TC}-${component}-peer`,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': TC } },
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

/** This demo's namespace, fresh: deleted first only if an earlier run of this demo made it. */
async function ownNamespace(): Promise<void> {
  const r = await kubectl(['get', 'namespace', NS, '-o', `jsonpath={.metadata.labels.${OWNER.key.replaceAll('.', '\\.')}}`]);
  if (r.code === 0) {
    if (r.stdout.trim() !== OWNER.value) throw new Error(`namespace ${NS} exists and was not made by this demo (no label ${OWNER.key}=${OWNER.value}): remove it yourself if it may go, then run the demo again`);
    await kubectlOk(['delete', 'namespace', NS, '--wait=true', '--timeout=120s']);
  }
  await kubectlOk(['create', 'namespace', NS]);
  await kubectlOk(['label', 'namespace', NS, `${OWNER.key}=${OWNER.value}`]);
}

/** tidb-steward's overrides with this demo's PD added to the endpoints it already knows (another demo's stay). */
function withOurPd(before: Record<string, string>, ours: Record<string, string>): Record<string, string> {
  const known = before.STEWARD_PD_ENDPOINTS ? (JSON.parse(before.STEWARD_PD_ENDPOINTS) as Record<string, string[]>) : {};
  const added = JSON.parse(ours.STEWARD_PD_ENDPOINTS!) as Record<string, string[]>;
  return { ...before, STEWARD_PD_ENDPOINTS: JSON.stringify({ ...known, ...added }) };
}

/**
 * The drain plan, as a person would ask for it (bin/tidb-steward with the service's PD endpoints).
 * Asynchronous: the PD stand-in answers from this very process.
 */
function drainPlan(node: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    execFile(join(REPO, 'bin', 'tidb-steward'), ['drain-plan', node], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KUBECONFIG, ...env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve(err ? `(drain-plan failed: ${stderr || err.message})` : stdout),
    );
  });
}

let pd: PdBackend | null = null;
/** A node this demo cordoned and has not uncordoned yet. */
let cordoned: string | null = null;
let stewardBefore: Record<string, string> | null = null;
try {
  step('1. Local control plane (etcd, kube-apiserver, controller-manager, default scheduler, tidb-scheduler, kwok, tidb-steward)');
  const { seconds, reused } = await up();
  note(`${reused ? 'reused the running cluster' : 'started'} in ${seconds.toFixed(1)}s`);
  note((await kubectlOk(['get', 'nodes', '-L', 'topology.kubernetes.io/zone'])).trimEnd().split('\n').join('\n   '));

  const nodeNames = (await kubectlOk(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/).filter(Boolean);

  step(`2. PD for the TiDB cluster "${TC}" (namespace ${NS}): 5 members named after the PD pods, 3 TiKV stores`);
  note(pdBackendLine());
  await ownNamespace();
  const follow: string[] = [];
  pd = await startPdBackend({ namespace: NS, cluster: TC, pdMembers: 5, tikvStores: 3, regions: 90, onFollow: (l) => follow.push(l) });
  const simulated = pd.kind === 'stand-in';
  note(simulated ? 'The stand-in answers PD\'s HTTP API and moves leaders on a timer: the drain below is SIMULATED on the PD side.' : `pd-server members on ${pd.endpoints.join(', ')}; a deleted PD pod stops its member, as on Kubernetes.`);
  stewardBefore = stewardOverrides();
  const stewardNow = withOurPd(stewardBefore, pd.stewardEnv());
  await restartSteward(stewardNow);
  const others = Object.keys(JSON.parse(stewardNow.STEWARD_PD_ENDPOINTS!) as object).filter((k) => k !== `${NS}/${TC}`);
  note(`tidb-steward talks to it (STEWARD_PD_ENDPOINTS${others.length ? `, beside ${others.join(', ')}, which it keeps` : ''}) and was restarted`);

  step(`3. The TiDB cluster "${TC}": 5 PD pods and 3 TiKV pods, scheduled by tidb-scheduler on the ${nodeNames.length} nodes (${nodeNames.join(', ')})`);
  await kubectlOk(['apply', '-f', '-'], statefulSet('pd', 5));
  await kubectlOk(['apply', '-f', '-'], statefulSet('tikv', 3));
  const pods = await placedPods(8);
  const perNode: Record<string, string[]> = {};
  for (const [pod, node] of Object.entries(pods)) (perNode[node] ??= []).push(pod);
  for (const [node, list] of Object.entries(perNode).sort()) note(`${node}: ${list.sort().join(', ')}`);
  const pdPerNode = (placed: Record<string, string>) => {
    const counts: Record<string, number> = {};
    for (const [pod, node] of Object.entries(placed)) if (pod.startsWith(`${TC}-pd-`) && node !== '(Pending)') counts[node] = (counts[node] ?? 0) + 1;
    return counts;
  };
  const most = Math.max(0, ...Object.values(pdPerNode(pods)));
  const pending = Object.entries(pods).filter(([, n]) => n === '(Pending)').map(([p]) => p);
  note(`no node holds more than ${most} of the 5 PD members (the rule allows ${maxPerNode(5)} = floor((5-1)/2)): ${5 - most >= 3 ? 'losing any one node keeps PD quorum' : 'losing the fullest node would cost PD its quorum'}.`);
  if (pending.length) note(`Pending (no node may take them under the rule with ${nodeNames.length} nodes): ${pending.join(', ')}`);

  step(`4. Scale PD to 7 pods: the rule allows at most ${maxPerNode(7)} per node; then back to 5`);
  await kubectlOk(['scale', 'statefulset', `${TC}-pd`, '-n', NS, '--replicas=7']);
  const seven = await placedPods(10);
  note(`PD pods per node: ${JSON.stringify(pdPerNode(seven))}`);
  await kubectlOk(['scale', 'statefulset', `${TC}-pd`, '-n', NS, '--replicas=5']);
  await placedPods(8);
  note(`scaled back to 5 (${TC}-pd-5 and -6 were not PD members, so tidb-steward let them go at once)`);

  step('5. kubectl drain the node of the PD leader, which also holds a TiKV store');
  await pd.makeLeader(`${TC}-pd-0`);
  const now = await placement();
  const node = now[`${TC}-pd-0`]!;
  const tikv = Object.keys(now).find((p) => p.startsWith(`${TC}-tikv-`) && now[p] === node) ?? null;
  const stores = await pd.stores();
  const store = tikv ? stores.find((s) => s.pod === tikv) ?? null : null;
  note(`PD leader: ${await pd.leader()}; ${node} holds ${TC}-pd-0${tikv ? ` and ${tikv} (store ${store?.id}, leading ${store?.leaders} regions)` : ''}`);
  note(`first, what would a drain do now? tidb-steward drain-plan ${node} (changes nothing):`);
  note((await drainPlan(node, pd.stewardEnv())).trimEnd().split('\n').join('\n   '));
  note('tidb-steward answers each eviction "not yet" (429) until PD has moved leadership and region leaders away:');
  const watch = new PdWatch(pd);
  const started = Date.now();
  const gone = { pd: goneAt(`${TC}-pd-0`), tikv: tikv ? goneAt(tikv) : Promise.resolve(0) };
  let last = '';
  const ticker = setInterval(() => {
    const s = watch.samples[watch.samples.length - 1];
    if (!s) return;
    const line = `leader ${s.leader ?? '(election)'}${store ? ` | store ${store.id} (${tikv}): ${s.leaders.get(store.id) ?? '?'} leaders` : ''}`;
    if (line !== last) note(`  t+${((s.at - started) / 1000).toFixed(1)}s  ${line}${simulated ? '  (simulated)' : ''}`);
    last = line;
  }, 250);
  cordoned = node;
  // This run's label: kubectl drain's selector spans every namespace, so it must match our pods only.
  const drained = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=180s', `--pod-selector=tidb-steward.dev/demo-run=${RUN}`], { timeoutMs: 200_000 });
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
  const moved = watch.leaderLeft(`${TC}-pd-0`);
  if (moved) note(`PD leader moved ${TC}-pd-0 -> ${moved.to} at t+${((moved.at - started) / 1000).toFixed(1)}s, ${((pdGone - moved.at) / 1000).toFixed(1)}s before ${TC}-pd-0 was deleted`);
  const fell = store ? watch.storeDrained(store.id) : null;
  if (store && fell) note(`store ${store.id}'s leader count: ${fell.from} -> 0 by t+${((fell.zeroAt - started) / 1000).toFixed(1)}s (the fall itself took ${((fell.zeroAt - fell.fromAt) / 1000).toFixed(1)}s), ${((tikvGone - fell.zeroAt) / 1000).toFixed(1)}s before ${tikv} was deleted`);
  for (const l of follow) note(`pd-follow: ${l}`);
  if (simulated) note('(PD side simulated by the stand-in; set PD_BIN_DIR to see real pd-server do it)');
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=Pod', '-o', 'custom-columns=REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message', '--no-headers']);
  for (const e of events.trim().split('\n').filter((l) => /PDLeaderTransfer|EvictingLeaders/.test(l)).slice(0, 3)) note(`event: ${e.slice(0, 200)}`);

  step('6. Uncordon: the pods come back and tidb-steward ends the leader eviction in PD');
  await kubectlOk(['uncordon', node]);
  cordoned = null;
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
  await restartSteward(stewardBefore);
} catch (err) {
  if (cordoned) {
    const r = await kubectl(['uncordon', cordoned]);
    process.stderr.write(r.code === 0 ? `\n[demo] uncordoned ${cordoned}\n` : `\n[demo] could not uncordon ${cordoned}: ${r.stderr.trim()}; run .cluster/kubectl uncordon ${cordoned}\n`);
  }
  await pd?.stop().catch(() => undefined);
  // tidb-steward back to the PD endpoints it had before this demo.
  if (stewardBefore) await restartSteward(stewardBefore).catch(() => undefined);
  process.stderr.write(`\n[demo] ${(err as Error).message}\n[demo] logs are in .cluster/logs/; npm run cluster:down stops what is running\n`);
  process.exit(1);
}
