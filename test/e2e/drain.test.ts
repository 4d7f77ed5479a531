// kubectl drain against the real API server, with tidb-steward's admission webhooks in the path, and
// PD down: real pd-server with every member stopped (PD_BIN_DIR) or the stand-in refusing connections
// (test/cluster/pd-backend.ts). Evictions of PD/TiKV pods are answered 429 "not yet" while PD cannot
// confirm they are safe, kubectl drain keeps retrying instead of failing, a dry run gets the same
// verdict and changes nothing, other pods pass,
// the escape hatch works, cordon/uncordon are never refused, and once PD is back the drain completes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectl, kubectlOk, namespace, pods, statefulSet, until } from './helpers.ts';
import { logPath } from '../cluster/procs.ts';
import { pdBackendLine, startPdBackend, type PdBackend } from '../cluster/pd-backend.ts';

t.setTimeout(600_000);
const NS = 'e2e-drain';
t.comment(pdBackendLine());
let pd: PdBackend;

t.before(async () => {
  await ensureUp();
  await setNodes(defaultNodes(3));
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  pd = await startPdBackend({ namespace: NS, cluster: 'drain', pdMembers: 3, tikvStores: 3, regions: 30 });
  t.teardown(() => pd.stop());
  // PD of this cluster is down: every PD/TiKV removal must wait.
  await pd.allDown();
  await restartSteward({ ...pd.stewardEnv(), STEWARD_PD_TIMEOUT_MS: '300' });
  t.teardown(async () => {
    await kubectl(['uncordon', 'node-a', 'node-b', 'node-c']);
    await restartSteward();
  });
  await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: NS, cluster: 'drain', component: 'pd', replicas: 3, parallel: true }));
  await kubectlOk(['create', 'deployment', 'web', '-n', NS, '--image=nginx', '--replicas=2']);
  await until('3 PD pods and 2 web pods Running', async () => {
    const list = await pods(NS);
    return list.filter((p) => p.phase === 'Running').length === 5;
  }, 90_000);
});

const nodeOf = async (pod: string) => (await pods(NS)).find((p) => p.name === pod)?.node ?? null;
const drain = (node: string, extra: string[] = []) =>
  kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=1', ...extra], { timeoutMs: 120_000 });

t.test('draining the node of a PD pod while PD cannot be reached: 429 "not yet", drain retries, the pod stays', async (t) => {
  const node = (await nodeOf('drain-pd-0'))!;
  const started = Date.now();
  const r = await drain(node, ['--timeout=20s', '--pod-selector=app.kubernetes.io/instance=drain']);
  const seconds = (Date.now() - started) / 1000;
  t.not(r.code, 0, 'drain gives up only at its own --timeout');
  t.match(r.stderr + r.stdout, /will retry after 5s/, 'kubectl drain saw TooManyRequests and retried');
  t.match(r.stderr + r.stdout, new RegExp(`${NS}/drain-pd-0 cannot go yet: cannot check it with PD of cluster ${NS}/drain: PD's members and their health cannot be read: PD is unreachable`));
  t.ok(seconds >= 19, `drain kept retrying for ${seconds.toFixed(1)}s`);
  t.equal(await nodeOf('drain-pd-0'), node, 'the PD pod was not evicted');
  const cordoned = await kubectlOk(['get', 'node', node, '-o', 'jsonpath={.spec.unschedulable}']);
  t.equal(cordoned, 'true', 'the node is cordoned (the node webhook did not refuse it)');
  t.match(readFileSync(logPath('tidb-steward'), 'utf8'), new RegExp(`"node":"${node}".*node cordoned`), 'tidb-steward saw the cordon');
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=drain-pd-0', '-o', 'jsonpath={.items[*].reason}']);
  t.match(events, /DrainCheckFailed/, 'an Event on the pod says why it waits');
});

t.test('a plain DELETE gets the same answer', async (t) => {
  const r = await kubectl(['delete', 'pod', '-n', NS, 'drain-pd-1', '--wait=false']);
  t.not(r.code, 0);
  t.match(r.stderr, /TooManyRequests|Too Many Requests/);
  t.match(r.stderr, /admission webhook "pods\.tidb-steward\.dev" denied the request: e2e-drain\/drain-pd-1 cannot go yet/);
});

t.test('a server-side dry run answers what a real drain would get now, and changes nothing', async (t) => {
  const node = (await nodeOf('drain-pd-1'))!;
  const uid = (await kubectlOk(['get', 'pod', '-n', NS, 'drain-pd-1', '-o', 'jsonpath={.metadata.uid}'])).trim();
  const since = Date.now();
  const r = await drain(node, ['--dry-run=server', '--timeout=15s']);
  t.not(r.code, 0, 'the PD pod would be held: PD cannot be asked');
  t.match(r.stdout, /evicting pod e2e-drain\/drain-pd-1 \(server dry run\)/);
  t.match(r.stderr, new RegExp(`${NS}/drain-pd-1 cannot go yet: cannot check it with PD of cluster ${NS}/drain: PD's members and their health cannot be read: .*\\(dry run: nothing changed\\)`), 'the verdict a real eviction gets now');
  t.equal((await kubectlOk(['get', 'pod', '-n', NS, 'drain-pd-1', '-o', 'jsonpath={.metadata.uid}'])).trim(), uid, 'the pod is untouched');
  // The drain service's lines (they name the request's `via`; the HTTP layer adds its own "not yet").
  const said = readFileSync(logPath('tidb-steward'), 'utf8').split('\n').filter((l) => l.includes(`"pod":"${NS}/drain-pd-1"`) && l.includes('"via":') && (JSON.parse(l) as { time: number }).time >= since);
  t.ok(said.length > 0 && said.every((l) => l.includes('"dryRun":true')), `tidb-steward judged ${said.length} reviews of drain-pd-1, every one a dry run`);
  t.notOk(said.some((l) => /removal must wait|DrainCheckFailed/.test(l)), 'no real decision was made or recorded');
  await kubectlOk(['uncordon', node]);
});

t.test('pods that are not PD/TiKV drain at once', async (t) => {
  const webNode = (await pods(NS, 'app=web')).find((p) => p.node)?.node;
  const pdNodes = new Set((await pods(NS, 'app.kubernetes.io/component=pd')).map((p) => p.node));
  t.ok(webNode, 'a web pod is running');
  // Evict just the web pods of that node (the PD pod there would wait, as above).
  const webPods = (await pods(NS, 'app=web')).filter((p) => p.node === webNode).map((p) => p.name);
  const started = Date.now();
  for (const pod of webPods) {
    const r = await kubectl(['create', '-f', '-', '--raw', `/api/v1/namespaces/${NS}/pods/${pod}/eviction`], {
      input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NS } }),
    });
    t.equal(r.code, 0, `eviction of ${pod} allowed: ${r.stderr}`);
  }
  t.ok(Date.now() - started < 5000, `${webPods.length} evictions in ${Date.now() - started} ms`);
  t.ok(pdNodes.size > 0);
});

t.test('the escape hatch lets a PD pod go, with a warning Event', async (t) => {
  const node = (await nodeOf('drain-pd-0'))!;
  await kubectlOk(['annotate', 'pod', '-n', NS, 'drain-pd-0', 'tidb-steward.dev/skip-drain-check=true']);
  let said = '';
  await until('the annotation in tidb-steward\'s cache', async () => {
    const r = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=20s', '--pod-selector=app.kubernetes.io/instance=drain,app.kubernetes.io/component=pd']);
    said = `exit ${r.code}: ${(r.stderr + r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
    return r.code === 0 ? r : null;
  }, 60_000, 1000).catch((err: Error) => {
    throw new Error(`${err.message}; the last drain said ${said}`);
  });
  const events = await until('the DrainCheckSkipped event', async () => {
    const e = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'reason=DrainCheckSkipped', '-o', 'jsonpath={.items[*].message}']);
    return e.includes('drain-pd-0') ? e : null;
  }, 20_000);
  t.match(events, /removed without drain checks/);
  await kubectlOk(['uncordon', node]);
});

t.test('PD back: draining the node of the PD leader hands leadership over, then completes', async (t) => {
  await pd.allUp();
  await until('3 PD pods Running', async () => (await pods(NS, 'app.kubernetes.io/component=pd')).filter((p) => p.phase === 'Running').length === 3, 90_000);
  const leader = await pd.leader();
  const node = (await nodeOf(leader))!;
  const started = Date.now();
  const r = await drain(node, ['--timeout=90s', '--pod-selector=app.kubernetes.io/instance=drain,app.kubernetes.io/component=pd']);
  t.equal(r.code, 0, `drain completed in ${((Date.now() - started) / 1000).toFixed(1)}s: ${r.stderr.split('\n').slice(-2).join(' ')}`);
  const now = await until('a PD leader', () => pd.leader(), 30_000);
  t.not(now, leader, `leadership moved from ${leader} to ${now} (${pd.kind} PD)`);
  await kubectlOk(['uncordon', node]);
});
