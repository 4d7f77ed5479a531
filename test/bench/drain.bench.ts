// npm run bench:drain — kubectl drain of a node's PD leader and of a TiKV store's pod on the local
// control plane (the PD stand-in; real pd-server and pd-simulator when PD_BIN_DIR is set), first with
// waiting inside the admission call off (--admission-wait-ms 0: every hand-over meets a 429 and
// kubectl drain's 5 s sleep), then with the default. Per drain: the total, PD's own time for the
// hand-over, their difference and the 429s tidb-steward answered; and, as the floor in the same run,
// the drain of a plain pod that no webhook judges (kubectl's own time: start, eviction, its 1 s polls
// for the pod to be gone). One JSON line at the end.
import { readFileSync } from 'node:fs';
import { logPath } from '../cluster/procs.ts';
import { defaultNodes, ensureUp, restartSteward, setNodes } from '../e2e/cluster.ts';
import { kubectl, kubectlOk, pods, statefulSet, until } from '../e2e/helpers.ts';
import { PdWatch, pdBackendLine, startPdBackend, type PdBackend } from '../cluster/pd-backend.ts';

const NS = 'bench-drain';
const CLUSTER = 'bd';
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

interface DrainFigure {
  mode: 'wait-off' | 'wait-on';
  drain: 'pd-leader' | 'tikv' | 'plain';
  pod: string;
  total_ms: number;
  /** PD's own time for the hand-over; `pd_ms_from` says how it was read. */
  pd_ms: number;
  pd_ms_from: string;
  difference_ms: number;
  answers_429: number;
}

/** tidb-steward's "not yet" answers for a pod since `since` (their reasons, printed to stderr). */
function refusals(pod: string, since: number): number {
  const reasons = readFileSync(logPath('tidb-steward'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"pod":"${NS}/${pod}"`) && l.includes('"msg":"removal must wait"'))
    .flatMap((l) => {
      try {
        const e = JSON.parse(l) as { time: number; reason: string };
        return e.time >= since ? [e.reason] : [];
      } catch {
        return [];
      }
    });
  for (const r of reasons) log(`  429 for ${pod}: ${r}`);
  return reasons.length;
}

async function settle(pd: PdBackend): Promise<void> {
  await kubectl(['uncordon', 'node-a', 'node-b', 'node-c']);
  await until('6 pods Running', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 120_000);
  await until('no evict-leader entry left', async () => (await pd.evicting()).length === 0, 90_000);
  await until('every store leads regions again', async () => (await pd.stores()).every((s) => s.leaders > 0), 90_000);
}

const drainPod = (node: string, pod: string) =>
  kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=120s', `--pod-selector=statefulset.kubernetes.io/pod-name=${pod}`], { timeoutMs: 150_000 });

/** A pod no webhook judges, drained the same way: what kubectl drain costs by itself. */
async function drainPlain(pd: PdBackend, mode: DrainFigure['mode']): Promise<DrainFigure> {
  await settle(pd);
  const pod = 'plain';
  const node = (await pods(NS)).find((p) => p.name === `${CLUSTER}-pd-0`)!.node!;
  const spec = { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: NS, labels: { app: 'bench-plain' } }, spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox' }] } };
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(spec));
  await until('the plain pod Running', async () => (await pods(NS)).some((p) => p.name === pod && p.phase === 'Running'), 60_000);
  const started = Date.now();
  const r = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=120s', '--pod-selector=app=bench-plain'], { timeoutMs: 150_000 });
  const total = Date.now() - started;
  if (r.code !== 0) throw new Error(`drain of ${node} failed: ${r.stderr}`);
  await kubectlOk(['uncordon', node]);
  return { mode, drain: 'plain', pod, total_ms: total, pd_ms: 0, pd_ms_from: 'no hand-over', difference_ms: total, answers_429: 0 };
}

async function drainLeader(pd: PdBackend, mode: DrainFigure['mode']): Promise<DrainFigure> {
  await settle(pd);
  const pod = `${CLUSTER}-pd-0`;
  await pd.makeLeader(pod);
  const node = (await pods(NS)).find((p) => p.name === pod)!.node!;
  const calls = pd.standin?.calls.length ?? 0;
  const watch = new PdWatch(pd, 50);
  const started = Date.now();
  const r = await drainPod(node, pod);
  const total = Date.now() - started;
  await watch.stop();
  if (r.code !== 0) throw new Error(`drain of ${node} failed: ${r.stderr}`);
  let pdMs: number;
  let from: string;
  const request = pd.standin?.calls.slice(calls).find((c) => c.method === 'POST' && c.path.includes('/leader/transfer/'));
  const done = request ? pd.standin!.transfers.find((x) => x.from === pod && x.at >= request.at) : undefined;
  if (request && done) {
    pdMs = done.at - request.at;
    from = "the stand-in's transfer request to its completion";
  } else {
    const moved = watch.leaderLeft(pod);
    pdMs = moved ? moved.at - started : NaN;
    from = 'the drain start to the first PD sample naming another leader (an upper bound)';
  }
  await kubectlOk(['uncordon', node]);
  return { mode, drain: 'pd-leader', pod, total_ms: total, pd_ms: pdMs, pd_ms_from: from, difference_ms: total - pdMs, answers_429: refusals(pod, started) };
}

async function drainTikv(pd: PdBackend, mode: DrainFigure['mode']): Promise<DrainFigure> {
  await settle(pd);
  const pod = `${CLUSTER}-tikv-1`;
  const node = (await pods(NS)).find((p) => p.name === pod)!.node!;
  const store = (await pd.stores()).find((s) => s.pod === pod)!;
  const calls = pd.standin?.calls.length ?? 0;
  const watch = new PdWatch(pd, 50);
  const started = Date.now();
  const r = await drainPod(node, pod);
  const total = Date.now() - started;
  await watch.stop();
  if (r.code !== 0) throw new Error(`drain of ${node} failed: ${r.stderr}`);
  let pdMs: number;
  let from: string;
  const request = pd.standin?.calls.slice(calls).find((c) => c.method === 'POST' && c.path.endsWith('/schedulers') && c.body.includes(`"store_id":${store.id}`));
  const zero = pd.standin?.drainedAt.get(store.id);
  if (request && zero !== undefined && zero >= request.at) {
    pdMs = zero - request.at;
    from = "the stand-in's evict-leader request to the store's last leader gone";
  } else {
    const fell = watch.storeDrained(store.id);
    pdMs = fell ? fell.zeroAt - fell.fromAt : NaN;
    from = "PD's samples: the leader count's fall from its peak to 0";
  }
  await kubectlOk(['uncordon', node]);
  return { mode, drain: 'tikv', pod, total_ms: total, pd_ms: pdMs, pd_ms_from: from, difference_ms: total - pdMs, answers_429: refusals(pod, started) };
}

let pd: PdBackend | null = null;
try {
  log(pdBackendLine());
  await ensureUp();
  await setNodes(defaultNodes(3));
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
  await kubectlOk(['create', 'namespace', NS]);
  // 60 regions: 20 leaders a store, a hand-over PD finishes in about a second.
  pd = await startPdBackend({ namespace: NS, cluster: CLUSTER, pdMembers: 3, tikvStores: 3, regions: 60 });
  for (const component of ['pd', 'tikv'] as const) {
    await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: NS, cluster: CLUSTER, component, replicas: 3, parallel: true }));
  }
  const figures: DrainFigure[] = [];
  for (const [mode, wait] of [['wait-off', '0'], ['wait-on', null]] as const) {
    log(`tidb-steward with ${wait === null ? 'the default --admission-wait-ms' : `--admission-wait-ms ${wait}`}`);
    await restartSteward({ ...pd.stewardEnv(), STEWARD_RECONCILE_INTERVAL_SECONDS: '2', ...(wait === null ? {} : { STEWARD_ADMISSION_WAIT_MS: wait }) });
    for (const run of [drainPlain, drainLeader, drainTikv]) {
      const f = await run(pd, mode);
      figures.push(f);
      log(`${mode} ${f.drain} (${f.pod}): total ${f.total_ms} ms, PD ${f.pd_ms} ms (${f.pd_ms_from}), difference ${f.difference_ms} ms, 429 answers ${f.answers_429}`);
    }
  }
  process.stdout.write(`${JSON.stringify({ bench: 'drain', pd: pd.kind, drains: figures })}\n`);
} catch (err) {
  log(`failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await kubectl(['uncordon', 'node-a', 'node-b', 'node-c']);
  await kubectl(['delete', 'namespace', NS, '--wait=false']);
  await pd?.stop();
  await restartSteward().catch(() => undefined);
}
