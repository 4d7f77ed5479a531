// npm run demo — a first look, starting from a TidbCluster: the local control plane, the controller
// creating PD, TiKV and TiDB, PD members placed by tidb-scheduler with tidb-steward's rule, a scale-out,
// a refused scale-in, a kubectl drain held until PD's leader moved, and a suspend/resume.
import { defaultNodes, ensureCluster, KUBECONFIG, kubectl, kubectlOk } from './controlplane.ts';
import { sleep } from './procs.ts';
import { PdFleet } from '../e2e/pd-fleet.ts';
import { tcPd } from '../e2e/tc-pd.ts';
import { condition, dropReleasedVolumes, ensureVolumes, getTc, installCrd, isReady, patchTc, tidbCluster } from '../e2e/tc-helpers.ts';

const step = (msg: string) => process.stdout.write(`\n\x1b[1m== ${msg}\x1b[0m\n`);
const note = (msg: string) => process.stdout.write(`   ${msg}\n`);
const show = (text: string) => note(text.trimEnd().split('\n').join('\n   '));
const NS = 'demo';

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

const fleet = new PdFleet();
// Real PD (pd-server, pd-simulator) when PD_BIN_DIR is set, the stand-in otherwise; either follows the pods.
const pd = tcPd({ namespace: NS, cluster: 'basic', pdMembers: 3, tikvStores: 3, fleet, onFollow: (l) => note(`pd | ${l}`) });
try {
  step('1. Local control plane (etcd, kube-apiserver, controller-manager, default scheduler, tidb-scheduler, kwok, tidb-steward)');
  await fleet.start();
  note(pd.line);
  const started = Date.now();
  await ensureCluster({ nodes: defaultNodes(4), stewardEnv: { STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/basic`]: pd.endpoints }), STEWARD_PENDING_GRACE_SECONDS: '5' } });
  await fleet.follow(KUBECONFIG);
  await installCrd();
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
  await kubectlOk(['create', 'namespace', NS]);
  await pd.start();
  await dropReleasedVolumes();
  await ensureVolumes(12, '1Gi', `demo-${Date.now().toString(36)}`);
  note(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s: 4 kwok nodes, the TidbCluster CRD, 12 local volumes`);

  step('2. kubectl apply a TidbCluster "basic": 3 PD, 3 TiKV, 1 TiDB');
  const applied = Date.now();
  await kubectlOk(['apply', '-f', '-'], tidbCluster(NS, 'basic', { tidb: { replicas: 1 } }));
  await until('Ready', () => isReady(NS, 'basic'));
  note(`Ready in ${((Date.now() - applied) / 1000).toFixed(1)}s`);
  show(await kubectlOk(['get', 'tc', '-n', NS, '-o', 'wide']));
  show(await kubectlOk(['get', 'statefulsets,services,poddisruptionbudgets', '-n', NS]));
  show(await kubectlOk(['get', 'pods', '-n', NS, '-o', 'custom-columns=POD:.metadata.name,NODE:.spec.nodeName,SCHEDULER:.spec.schedulerName,PHASE:.status.phase']));

  step('3. Scale PD 3 → 5: one member at a time, each after the previous joined');
  await patchTc(NS, 'basic', { spec: { pd: { replicas: 5 } } });
  await until('5 PD members', async () => (await isReady(NS, 'basic')) && (await getTc(NS, 'basic')).status.pd.members.length === 5);
  const tc = await getTc(NS, 'basic');
  note(`members: ${tc.status.pd.members.map((m: { name: string; leader: boolean }) => m.name + (m.leader ? ' (leader)' : '')).join(', ')}`);
  show(await kubectlOk(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=pd', '-o', 'custom-columns=POD:.metadata.name,NODE:.spec.nodeName']));
  note('no node holds more than 2 of the 5 members: losing any one node keeps PD quorum.');

  step('4. Ask for 2 TiKV stores: refused, PD keeps 3 copies of every region');
  await patchTc(NS, 'basic', { spec: { tikv: { replicas: 2 } } });
  const refused = await until('the refusal', async () => {
    const c = condition(await getTc(NS, 'basic'), 'Progressing');
    return c?.reason === 'ScaleInBlocked' ? c : null;
  });
  note(`Progressing=False ScaleInBlocked: ${refused.message}`);
  await patchTc(NS, 'basic', { spec: { tikv: { replicas: 3 } } });

  step('5. kubectl drain the node of the PD leader: tidb-steward moves leadership first, then lets the pod go');
  const leader = (await getTc(NS, 'basic')).status.pd.leader as string;
  const node = (await kubectlOk(['get', 'pod', '-n', NS, leader, '-o', 'jsonpath={.spec.nodeName}'])).trim();
  const drained = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=90s', '--pod-selector=app.kubernetes.io/instance=basic'], { timeoutMs: 120_000 });
  note(`drain of ${node} ${drained.code === 0 ? 'completed' : `stopped: ${drained.stderr.trim().split('\n').pop()}`}`);
  for (const l of (drained.stderr + drained.stdout).split('\n').filter((x) => /cannot go yet|evicted/.test(x)).slice(0, 4)) note(`| ${l.slice(0, 200)}`);
  note(`PD leader now: ${(await getTc(NS, 'basic')).status.pd.leader}`);
  await kubectlOk(['uncordon', node]);
  await until('Ready again', () => isReady(NS, 'basic'));
  note(`${node} uncordoned; the cluster is Ready again`);

  step('6. Suspend: TiDB, then TiKV (leaders evicted first), then PD stop; volumes stay');
  await patchTc(NS, 'basic', { spec: { suspend: true } });
  await until('Suspended', async () => condition(await getTc(NS, 'basic'), 'Suspended')?.status === 'True');
  note(`pods: ${(await kubectlOk(['get', 'pods', '-n', NS, '--no-headers'])).trim().split('\n').filter(Boolean).length}; volume claims kept: ${(await kubectlOk(['get', 'pvc', '-n', NS, '--no-headers'])).trim().split('\n').length}`);
  await patchTc(NS, 'basic', { spec: { suspend: false } });
  const resumed = Date.now();
  await until('Ready after resume', () => isReady(NS, 'basic'));
  note(`resumed and Ready in ${((Date.now() - resumed) / 1000).toFixed(1)}s`);
  show(await kubectlOk(['get', 'tc', '-n', NS]));

  step('Events of the TidbCluster');
  show(await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=TidbCluster', '--sort-by=.lastTimestamp', '-o', 'custom-columns=REASON:.reason,MESSAGE:.message']));

  step(`The control plane keeps running (${pd.kind === 'real' ? 'pd-server and pd-simulator' : 'the PD stand-in'} stopped with this demo). Look around:`);
  note(`.cluster/kubectl get tc -n ${NS} -o yaml`);
  note(`.cluster/kubectl describe tc -n ${NS} basic`);
  note(`kubeconfig: ${KUBECONFIG}; logs: .cluster/logs/ (tidb-steward.log, tidb-scheduler.log, ...)`);
  note('stop everything: npm run cluster:down');
  await pd.stop();
  await fleet.stop();
} catch (err) {
  process.stderr.write(`\n[demo] ${(err as Error).message}\n[demo] logs are in .cluster/logs/; npm run cluster:down stops what is running\n`);
  await pd.stop().catch(() => undefined);
  await fleet.stop().catch(() => undefined);
  process.exit(1);
}
