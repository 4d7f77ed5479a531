// npm run demo — a first look: the local control plane, a TiDB cluster's PD pods placed by
// tidb-scheduler with tidb-steward's rule, and a kubectl drain that tidb-steward holds back.
import { KUBECONFIG, kubectl, kubectlOk, restartSteward, up } from './controlplane.ts';
import { sleep } from './procs.ts';

const step = (msg: string) => process.stdout.write(`\n\x1b[1m== ${msg}\x1b[0m\n`);
const note = (msg: string) => process.stdout.write(`   ${msg}\n`);
const NS = 'demo';

function pdStatefulSet(replicas: number): string {
  const labels = { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-steward' };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'basic-pd', namespace: NS, labels },
    spec: {
      replicas,
      serviceName: 'basic-pd-peer',
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'basic' } },
      template: { metadata: { labels }, spec: { schedulerName: 'tidb-scheduler', terminationGracePeriodSeconds: 1, containers: [{ name: 'pd', image: 'pingcap/pd:v8.5.4' }] } },
    },
  });
}

async function placement(): Promise<Record<string, string>> {
  const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', NS, '-o', 'json'])).items as Array<{ metadata: { name: string }; spec: { nodeName?: string } }>;
  return Object.fromEntries(list.map((p) => [p.metadata.name, p.spec.nodeName ?? '(Pending)']));
}

try {
  step('1. Local control plane (etcd, kube-apiserver, controller-manager, default scheduler, tidb-scheduler, kwok, tidb-steward)');
  const { seconds, reused } = await up();
  note(`${reused ? 'reused the running cluster' : 'started'} in ${seconds.toFixed(1)}s`);
  // This demo has no real PD (see the README): point tidb-steward at an address where nothing listens,
  // so it must answer every removal of a PD pod with "not yet".
  await restartSteward({ STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/basic`]: ['http://127.0.0.1:1'] }), STEWARD_PD_TIMEOUT_MS: '300' });
  note((await kubectlOk(['get', 'nodes', '-L', 'topology.kubernetes.io/zone'])).trimEnd().split('\n').join('\n   '));

  step('2. A TiDB cluster "basic": 5 PD members, scheduled by tidb-scheduler on 3 nodes');
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=60s']);
  await kubectlOk(['create', 'namespace', NS]);
  await kubectlOk(['apply', '-f', '-'], pdStatefulSet(5));
  let pods: Record<string, string> = {};
  for (let i = 0; i < 60; i++) {
    pods = await placement();
    if (Object.keys(pods).length === 5 && Object.values(pods).every((n) => n !== '(Pending)')) break;
    await sleep(500);
  }
  const perNode: Record<string, string[]> = {};
  for (const [pod, node] of Object.entries(pods)) (perNode[node] ??= []).push(pod);
  for (const [node, list] of Object.entries(perNode).sort()) note(`${node}: ${list.sort().join(', ')}`);
  note('no node holds more than 2 of the 5 members (floor((5-1)/2)): losing any one node keeps PD quorum.');

  step('3. Scale to 7 members: the rule allows at most 3 per node');
  await kubectlOk(['scale', 'statefulset', 'basic-pd', '-n', NS, '--replicas=7']);
  await sleep(4000);
  const seven = await placement();
  const counts: Record<string, number> = {};
  for (const node of Object.values(seven)) counts[node] = (counts[node] ?? 0) + 1;
  note(`members per node: ${JSON.stringify(counts)}`);

  step('4. kubectl drain the node of basic-pd-0');
  const node = (await placement())['basic-pd-0']!;
  note(`PD cannot be reached in this demo, so tidb-steward cannot confirm that basic-pd-0 is not the leader`);
  note(`or that quorum survives; it answers each eviction with 429 "not yet" and kubectl drain retries:`);
  const drained = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=15s', `--pod-selector=statefulset.kubernetes.io/pod-name=basic-pd-0`], { timeoutMs: 90_000 });
  const lines = (drained.stderr + drained.stdout).split('\n').filter((l) => /basic-pd-0/.test(l)).slice(0, 2);
  for (const l of lines) note(`| ${l.slice(0, 220)}`);
  note(`drain ${drained.code === 0 ? 'completed' : 'stopped at its --timeout; basic-pd-0 is still on ' + node}.`);
  note('With a reachable PD, tidb-steward would ask PD to transfer leadership away first and then let the pod go.');
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=basic-pd-0', '-o', 'custom-columns=REASON:.reason,MESSAGE:.message', '--no-headers']);
  for (const e of events.trim().split('\n').slice(-2)) note(`event: ${e.slice(0, 200)}`);

  step('5. Emergency escape hatch: annotate the pod, and the drain lets it go (with a Warning event)');
  await kubectlOk(['annotate', 'pod', '-n', NS, 'basic-pd-0', 'tidb-steward.dev/skip-drain-check=true']);
  await sleep(1000);
  const second = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=30s', `--pod-selector=statefulset.kubernetes.io/pod-name=basic-pd-0`], { timeoutMs: 90_000 });
  note(second.code === 0 ? `node ${node} drained` : `drain did not finish: ${second.stderr.trim().split('\n').pop()}`);
  await kubectlOk(['uncordon', node]);
  note(`${node} uncordoned`);

  step('The cluster keeps running. Look around:');
  note(`.cluster/kubectl get pods -n ${NS} -o wide`);
  note(`.cluster/kubectl describe pod -n ${NS} basic-pd-0`);
  note(`.cluster/kubectl get events -n ${NS}`);
  note(`kubeconfig: ${KUBECONFIG}; logs: .cluster/logs/ (tidb-steward.log, tidb-scheduler.log, ...)`);
  note('stop everything: npm run cluster:down');
} catch (err) {
  process.stderr.write(`\n[demo] ${(err as Error).message}\n[demo] logs are in .cluster/logs/; npm run cluster:down stops what is running\n`);
  process.exit(1);
}
