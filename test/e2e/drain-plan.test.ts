// `tidb-steward drain-plan` and `kubectl drain --dry-run=server` against the real API server with
// tidb-steward's webhooks and PD (the stand-in without PD_BIN_DIR, real PD with it): the plan names
// the pods a drain would hold and why; a server-side dry run answers with the same verdicts and
// changes nothing (no pod goes, no DisruptionLedger record, no PD leader move, no leader eviction, no
// cordon), watched as it happens; and the real drain that follows holds the pods the plan held, for
// the reasons it gave.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { logPath } from '../cluster/procs.ts';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectl, kubectlOk, namespace, pods, statefulSet, until } from './helpers.ts';
import { watchCluster } from './sampler.ts';
import { KUBECONFIG } from '../cluster/controlplane.ts';
import { PdWatch, pdBackendLine, startPdBackend, type PdBackend } from '../cluster/pd-backend.ts';
import type { NodePlan, PodPlanRow } from '../../src/cli/render.ts';

t.setTimeout(900_000);
const NS = 'e2e-plan';
const TC = 'plan';
const SELECTOR = `app.kubernetes.io/instance=${TC}`;
t.comment(pdBackendLine());

let pd: PdBackend;

t.before(async () => {
  await ensureUp();
  await setNodes(defaultNodes(3));
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  pd = await startPdBackend({ namespace: NS, cluster: TC, pdMembers: 3, tikvStores: 3, regions: 90 });
  t.teardown(() => pd.stop());
  await restartSteward({ ...pd.stewardEnv(), STEWARD_RECONCILE_INTERVAL_SECONDS: '2' });
  t.teardown(async () => {
    await kubectl(['uncordon', 'node-a', 'node-b', 'node-c']);
    await restartSteward();
  });
  for (const component of ['pd', 'tikv'] as const) {
    await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: NS, cluster: TC, component, replicas: 3, parallel: true }));
  }
  await until('3 PD and 3 TiKV pods Running', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
});

/** The CLI as a person runs it, with the kubeconfig and the PD endpoints the service has. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('bin/tidb-steward', args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KUBECONFIG, ...pd.stewardEnv() }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
}

async function plan(node: string): Promise<NodePlan> {
  const r = await cli(['drain-plan', node, '-o', 'json']);
  if (r.code !== 0) throw new Error(`drain-plan ${node} failed (${r.code}): ${r.stderr}`);
  t.comment(`drain-plan ${node} answered in ${r.ms} ms`);
  return JSON.parse(r.stdout) as NodePlan;
}

const row = (p: NodePlan, pod: string): PodPlanRow => {
  const r = p.pods.find((x) => x.pod === pod);
  if (!r) throw new Error(`drain-plan lists no ${pod}: ${JSON.stringify(p.pods.map((x) => x.pod))}`);
  return r;
};

/** kubectl drain's "cannot go yet" answers, per pod: the reasons, in the order they came. */
function heldIn(stderr: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of stderr.matchAll(new RegExp(`${NS}/(${TC}-[a-z]+-\\d+) cannot go yet: ([^\\n]*)`, 'g'))) {
    const list = out.get(m[1]!) ?? [];
    out.set(m[1]!, [...list, m[2]!]);
  }
  return out;
}

/** A reason without the counts and clocks that move between two asks, and without a real 429's note on why it was not held inside the call. */
const shape = (reason: string) => reason.replace(/ \(dry run: .*$/, '').replace(/ \([^()]*inside the call\)$/, '').replace(/\d+ region leaders/g, 'N region leaders').replace(/ \(for \d+s\)/, '');

/** tidb-steward's answers to real evictions since `since`, per pod, oldest first (from its log). */
function answersSince(since: number): Map<string, Array<{ allowed: boolean; reason: string }>> {
  const out = new Map<string, Array<{ allowed: boolean; reason: string }>>();
  for (const line of readFileSync(logPath('tidb-steward'), 'utf8').split('\n')) {
    if (!line.includes(`"pod":"${NS}/`) || !/"msg":"removal (must wait|allowed)"/.test(line)) continue;
    const e = JSON.parse(line) as { time: number; pod: string; via: string; reason: string; msg: string };
    if (e.time < since || e.via !== 'eviction') continue;
    const pod = e.pod.slice(NS.length + 1);
    out.set(pod, [...(out.get(pod) ?? []), { allowed: e.msg === 'removal allowed', reason: e.reason }]);
  }
  return out;
}

const uidOf = async (pod: string) => (await kubectlOk(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid}'])).trim();

t.test('kubectl drain --dry-run=server answers with the webhook verdicts the plan gives, and changes nothing', async (t) => {
  await pd.makeLeader(`${TC}-pd-0`);
  const list = await pods(NS);
  const node = list.find((p) => p.name === `${TC}-pd-0`)!.node!;
  const onNode = list.filter((p) => p.node === node).map((p) => p.name).sort();
  const p = await plan(node);
  t.same(p.pods.map((x) => x.pod).sort(), onNode, `the plan covers every pod of the cluster on ${node}: ${onNode.join(', ')}`);
  const leader = row(p, `${TC}-pd-0`);
  t.match(leader, { allowed: false, reason: new RegExp(`^transferring PD leader from ${TC}-pd-0 to ${TC}-pd-\\d$`), steps: [new RegExp(`^move PD leadership from ${TC}-pd-0 to ${TC}-pd-\\d$`)] }, `the PD leader is held for the hand-over: ${leader.reason}`);
  const tikv = p.pods.find((x) => x.component === 'tikv');
  if (tikv) t.match(tikv, { allowed: false, reason: /^evicting \d+ region leaders from TiKV store \d+ of /, steps: [/^evict \d+ region leaders from TiKV store \d+$/] }, `${tikv.pod} is held for its leaders: ${tikv.reason}`);

  const expected = (await pods(NS)).map((x) => x.name);
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: SELECTOR, expectedPods: expected });
  await sampler.ready;
  const watched = sampler.live().pods.size;
  const uids = new Map(await Promise.all(expected.map(async (n) => [n, await uidOf(n)] as const)));
  const watch = new PdWatch(pd);
  const started = Date.now();
  const dry = await kubectl(['drain', node, '--dry-run=server', '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=12s', `--pod-selector=${SELECTOR}`], { timeoutMs: 60_000 });
  const seconds = (Date.now() - started) / 1000;
  await watch.stop();
  const samples = await sampler.stop();
  t.not(dry.code, 0, `the dry run reports the pods that cannot go (after ${seconds.toFixed(1)}s)`);
  const held = heldIn(dry.stderr);
  for (const r of p.pods.filter((x) => !x.allowed)) {
    const said = held.get(r.pod) ?? [];
    t.ok(said.length > 0, `the dry run held ${r.pod}`);
    t.equal(shape(said[0] ?? ''), shape(r.reason), `${r.pod}: the dry run's reason is the plan's: ${said[0]}`);
    t.match(said[0], /\(dry run: nothing changed; a real removal would first /, `${r.pod}: the answer says nothing was changed and what a real removal would do`);
  }
  t.same([...held.keys()].filter((pod) => p.pods.find((x) => x.pod === pod)?.allowed), [], 'no pod the plan lets go was held');
  // Nothing changed, at any revision the watches saw during the dry run.
  const changed = samples.filter((s) => s.leaving.length || s.evictions.length || expected.some((n) => !s.pods.get(n) || s.pods.get(n)!.deleting || s.pods.get(n)!.uid !== uids.get(n)));
  t.equal(watched, expected.length, `the watches saw all ${expected.length} pods before the dry run`);
  t.equal(changed.length, 0, `the pod and DisruptionLedger watches saw ${samples.length} changes during the dry run: no pod deleted or replaced, no DisruptionLedger record`);
  t.equal(watch.leaderLeft(`${TC}-pd-0`), null, `PD's leader stayed ${TC}-pd-0 (${watch.samples.length} PD samples)`);
  t.equal(await pd.leader(), `${TC}-pd-0`);
  t.same(await pd.evicting(), [], 'no evict-leader scheduler was added');
  const cordoned = (await kubectlOk(['get', 'node', node, '-o', 'jsonpath={.spec.unschedulable}'])).trim();
  t.equal(cordoned, '', `${node} is not cordoned`);
});

t.test('drain-plan agrees with the real kubectl drain that follows: the pods it holds and why', async (t) => {
  const down = `${TC}-pd-1`;
  const list = await pods(NS);
  const node = list.find((p) => p.name === `${TC}-pd-2`)!.node!;
  await pd.makeLeader(`${TC}-pd-0`);
  await pd.memberDown(down);
  t.teardown(() => pd.memberUp(down));
  // Its leaders take a while to evict (stand-in: about 12 s), so the first answer for it is a "not yet".
  const tikvPod = list.find((p) => p.node === node && p.name.startsWith(`${TC}-tikv-`))?.name;
  if (tikvPod) pd.loadStore(tikvPod, 200);
  if (tikvPod) await until(`${tikvPod} leads regions`, async () => ((await pd.stores()).find((s) => s.pod === tikvPod)?.leaders ?? 0) > 0, 60_000);

  const p = await plan(node);
  const pdRow = row(p, `${TC}-pd-2`);
  t.match(pdRow, { allowed: false, reason: `removing PD member ${TC}-pd-2 would leave 1 of 3 members healthy, below the quorum of 2; waiting for ${down} (unhealthy)`, steps: [] }, `plan: ${pdRow.reason}`);
  if (tikvPod) t.match(row(p, tikvPod), { allowed: false, reason: /^evicting \d+ region leaders from TiKV store \d+ of / }, `plan: ${row(p, tikvPod).reason}`);
  const text = await cli(['drain-plan', node]);
  t.match(text.stdout, new RegExp(`${NS}/${TC}-pd-2 \\(PD of ${TC}\\): HELD: removing PD member ${TC}-pd-2 would leave 1 of 3`), 'the same plan for people');

  const pdUid = await uidOf(`${TC}-pd-2`);
  if (tikvPod) pd.loadStore(tikvPod, 200);
  const since = Date.now();
  const r = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=40s', `--pod-selector=${SELECTOR}`], { timeoutMs: 90_000 });
  t.not(r.code, 0, 'the drain does not complete while PD quorum is at stake');
  // client-go retries a 429 itself before kubectl sees it: tidb-steward's own log has every answer.
  const answers = answersSince(since);
  for (const x of p.pods) {
    const first = answers.get(x.pod)?.[0];
    t.ok(first, `tidb-steward answered the drain's eviction of ${x.pod}`);
    t.equal(first?.allowed, x.allowed, `${x.pod}: the drain's first answer ${first?.allowed ? 'let it go' : 'held it'}, as planned`);
    if (!x.allowed) t.equal(shape(first?.reason.replace(`${NS}/${x.pod} cannot go yet: `, '') ?? ''), shape(x.reason), `${x.pod}: with the plan's reason: ${first?.reason}`);
  }
  t.match(r.stderr, new RegExp(`${NS}/${TC}-pd-2 cannot go yet: ${pdRow.reason.replace(/[()]/g, '\\$&')}`), 'kubectl drain printed the held PD pod with the plan\'s reason');
  t.equal(await uidOf(`${TC}-pd-2`), pdUid, `${TC}-pd-2 is still there`);
  if (tikvPod) {
    // Held only until its leaders were evicted: then it went, as the plan's "first: evict" said.
    const gone = await until(`${tikvPod} replaced`, async () => (await kubectl(['get', 'pod', '-n', NS, tikvPod, '-o', 'jsonpath={.spec.nodeName}'])).stdout.trim() !== node, 60_000);
    t.ok(gone, `${tikvPod} left ${node} once its leaders were evicted`);
  }
  await pd.memberUp(down);
  await kubectlOk(['uncordon', node]);
});

t.test('status and a missing node: clear answers', async (t) => {
  const s = await cli(['status', '-o', 'json']);
  const noCrd = /the TidbCluster CRD \(tidbclusters\.tidb-steward\.dev\) is not installed/.test(s.stderr);
  if (noCrd) t.equal(s.code, 1, `status says the CRD is not installed (${s.ms} ms): ${s.stderr.trim()}`);
  else {
    t.equal(s.code, 0, `status answered in ${s.ms} ms: ${s.stderr.trim()}`);
    t.ok(Array.isArray((JSON.parse(s.stdout) as { clusters: unknown[] }).clusters), 'status -o json has a clusters list');
  }
  const empty = await cli(['drain-plan', 'node-nothing-here']);
  t.equal(empty.code, 1);
  t.match(empty.stderr, /node node-nothing-here does not exist in the cluster at https:\/\/127\.0\.0\.1:\d+ \(kubectl get nodes lists them\)/);
});
