// A complete kubectl drain through the real API server with tidb-steward's webhooks, against real PD
// (pd-server and pd-simulator from PD_BIN_DIR, members and stores following their pods) or, without
// PD_BIN_DIR, the PD stand-in; the same scenarios either way (test/cluster/pd-backend.ts). It shows
// the drain finishing only after the PD leader moved and the TiKV store's leaders reached zero, as
// watched in PD itself, and that nothing is left behind.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { logPath } from '../cluster/procs.ts';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectl, kubectlOk, namespace, pods, sleep, statefulSet, until } from './helpers.ts';
import { PdWatch, pdBackendLine, startPdBackend, type PdBackend } from '../cluster/pd-backend.ts';

t.setTimeout(900_000);
const NS = 'e2e-flow';
t.comment(pdBackendLine());

let pd: PdBackend;
let stewardEnv: Record<string, string> = {};
const follow: string[] = [];

t.before(async () => {
  await ensureUp();
  await setNodes(defaultNodes(3));
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  // 90 regions: 30 leaders a store, enough for an eviction that lasts a few seconds on real PD.
  pd = await startPdBackend({ namespace: NS, cluster: 'flow', pdMembers: 3, tikvStores: 3, regions: 90, onFollow: (l) => follow.push(l) });
  t.teardown(async () => {
    await pd.stop();
    if (follow.length) t.comment(`PD following the pods:\n  ${follow.join('\n  ')}`);
  });
  stewardEnv = { ...pd.stewardEnv(), STEWARD_RECONCILE_INTERVAL_SECONDS: '2' };
  await restartSteward(stewardEnv);
  t.teardown(async () => {
    await kubectl(['uncordon', 'node-a', 'node-b', 'node-c']);
    await restartSteward();
  });
  for (const component of ['pd', 'tikv'] as const) {
    await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: NS, cluster: 'flow', component, replicas: 3, parallel: true }));
  }
  await until('3 PD and 3 TiKV pods Running', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
});

/** Polls in the background for the moment a pod's current incarnation disappears. */
function watchGone(pod: string): Promise<number> {
  return (async () => {
    const uid = (await kubectlOk(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid}'])).trim();
    for (;;) {
      const r = await kubectl(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid}']);
      if (r.code !== 0 || r.stdout.trim() !== uid) return Date.now();
      await sleep(100);
    }
  })();
}

const storeOfPod = async (pod: string) => (await pd.stores()).find((s) => s.pod === pod)!;

t.test('drain of the node with the PD leader and a TiKV store completes after hand-over and eviction', async (t) => {
  await pd.makeLeader('flow-pd-0');
  const list = await pods(NS);
  const node = list.find((p) => p.name === 'flow-pd-0')!.node!;
  const tikv = list.find((p) => p.node === node && p.name.startsWith('flow-tikv-'))!.name;
  const store = await storeOfPod(tikv);
  t.ok(store.leaders > 0, `store ${store.id} of ${tikv} leads ${store.leaders} regions before the drain`);
  const watch = new PdWatch(pd);
  const pdGone = watchGone('flow-pd-0');
  const tikvGone = watchGone(tikv);
  const started = Date.now();
  const r = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=180s', '--pod-selector=app.kubernetes.io/instance=flow'], { timeoutMs: 200_000 });
  const drainSeconds = (Date.now() - started) / 1000;
  t.equal(r.code, 0, `drain completed in ${drainSeconds.toFixed(1)}s: ${r.stderr.split('\n').filter((l) => /cannot go yet/.test(l)).slice(0, 2).join(' | ')}`);
  const [pdAt, tikvAt] = await Promise.all([pdGone, tikvGone]);
  await watch.stop();
  const moved = watch.leaderLeft('flow-pd-0');
  t.ok(moved, `PD saw its leader move from flow-pd-0 to ${moved?.to}`);
  t.ok(moved && moved.at < pdAt, `the leader moved ${moved ? pdAt - moved.at : NaN} ms before flow-pd-0 was deleted`);
  const fell = watch.storeDrained(store.id);
  t.ok(fell, `PD saw store ${store.id}'s leader count fall to 0`);
  t.ok(fell && fell.zeroAt < tikvAt, `store ${store.id} led no regions ${fell ? tikvAt - fell.zeroAt : NaN} ms before ${tikv} was deleted`);
  t.not(await pd.leader(), 'flow-pd-0');
  t.comment(
    `figures (${pd.kind} PD): drain ${drainSeconds.toFixed(1)}s; leader flow-pd-0 -> ${moved?.to} ${moved ? moved.at - started : NaN} ms after the drain began, ` +
      `${moved ? pdAt - moved.at : NaN} ms before the pod was deleted; store ${store.id} leader count ${fell?.from} -> 0 by ` +
      `${fell ? ((fell.zeroAt - started) / 1000).toFixed(1) : NaN}s into the drain (the fall took ${fell ? ((fell.zeroAt - fell.fromAt) / 1000).toFixed(1) : NaN}s), ` +
      `${fell ? tikvAt - fell.zeroAt : NaN} ms before ${tikv} was deleted`,
  );
});

t.test('uncordon and the pods back: no evict-leader entry and no record are left', async (t) => {
  await kubectlOk(['uncordon', 'node-a', 'node-b', 'node-c']);
  await until('all 6 pods Running again', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
  await until('the evict-leader scheduler empty', async () => (await pd.evicting()).length === 0, 60_000);
  t.same(await pd.evicting(), [], 'PD has no evict-leader scheduler left');
  const ledger = await until('the ledger emptied', async () => {
    const r = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'flow', '-o', 'jsonpath={.spec.evictions}{.spec.leaving}']);
    return r.code === 0 && ['', '[][]'].includes(r.stdout.trim()) ? r.stdout || 'empty' : null;
  }, 30_000);
  t.ok(ledger, 'records cleared: no eviction and nobody leaving in the DisruptionLedger');
});

t.test('quorum guard: while one PD member is down, draining another waits with the reason, then completes', async (t) => {
  const list = await pods(NS);
  const down = 'flow-pd-1';
  const target = list.find((p) => p.name === 'flow-pd-2')!;
  await pd.memberDown(down);
  t.teardown(() => pd.memberUp(down));
  const first = await kubectl(['drain', target.node!, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=15s', '--pod-selector=statefulset.kubernetes.io/pod-name=flow-pd-2'], { timeoutMs: 90_000 });
  t.not(first.code, 0, 'refused while quorum is at stake');
  t.match(first.stderr, /would leave 1 of 3 members healthy, below the quorum of 2; waiting for flow-pd-1 \(unhealthy\)/);
  await pd.memberUp(down);
  const second = await kubectl(['drain', target.node!, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=90s', '--pod-selector=statefulset.kubernetes.io/pod-name=flow-pd-2'], { timeoutMs: 120_000 });
  t.equal(second.code, 0, `completes once the member is healthy again: ${second.stderr.split('\n').slice(-2).join(' ')}`);
  await kubectlOk(['uncordon', target.node!]);
});

t.test('tidb-steward restarted in the middle of a drain: the eviction carries on and nothing leaks', async (t) => {
  await until('all 6 pods Running', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
  await until('no eviction left from earlier tests', async () => (await pd.evicting()).length === 0, 60_000);
  const tikv = (await pods(NS)).find((p) => p.name === 'flow-tikv-1')!;
  // The stand-in's store gets 200 leaders (about 12 s of eviction); real PD's has what its regions give it.
  pd.loadStore('flow-tikv-1', 200);
  await until('flow-tikv-1 leads regions', async () => (await storeOfPod('flow-tikv-1')).leaders > 0, 60_000);
  const store = await storeOfPod('flow-tikv-1');
  const watch = new PdWatch(pd);
  const args = ['drain', tikv.node!, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=120s', '--pod-selector=statefulset.kubernetes.io/pod-name=flow-tikv-1'];
  const first = kubectl(args, { timeoutMs: 150_000 });
  await until('the eviction started', async () => (await pd.evicting()).includes(store.id), 30_000, 100);
  const record = async () => (await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'flow', '-o', `jsonpath={.spec.evictions[?(@.storeId=="${store.id}")]}`])).stdout;
  const before = await until('the eviction record', record, 10_000);
  const leadersAtRestart = (await storeOfPod('flow-tikv-1')).leaders;
  const restartBegan = Date.now();
  await restartSteward(stewardEnv);
  const backAt = Date.now();
  t.comment(`tidb-steward restarted with store ${store.id} still leading ${leadersAtRestart} regions`);
  t.ok(leadersAtRestart > 0, `the restart began mid-eviction: store ${store.id} led ${leadersAtRestart} regions`);
  t.ok((await pd.evicting()).includes(store.id), 'the eviction is still on when tidb-steward is back');
  t.equal(await record(), before, 'the record (and its start time) survived the restart: state lives in the cluster');
  // With a single local instance, a call that lands while it restarts fails (failurePolicy: Fail);
  // kubectl drain then stops and is run again, as an operator would. In production 3 replicas serve.
  let r = await first;
  if (r.code !== 0) r = await kubectl(args, { timeoutMs: 150_000 });
  t.equal(r.code, 0, `drain completed: ${r.stderr.split('\n').slice(-2).join(' ')}`);
  await watch.stop();
  const fell = watch.storeDrained(store.id);
  t.ok(fell, `store ${store.id} reached 0 leaders before its pod went`);
  t.ok(fell && fell.zeroAt > restartBegan, `and only ${fell ? ((fell.zeroAt - backAt) / 1000).toFixed(1) : NaN}s after tidb-steward was back (restart took ${((backAt - restartBegan) / 1000).toFixed(1)}s): the restart fell in the middle of the eviction`);
  await kubectlOk(['uncordon', tikv.node!]);
  await until('the evict-leader scheduler empty again', async () => (await pd.evicting()).length === 0, 90_000);
  t.same(await pd.evicting(), [], 'no evict-leader entry left behind');
});

/** tidb-steward's log entries about one pod since `since` (ms). */
function stewardLines(pod: string, since: number): Array<{ msg: string; time: number; heldMs?: number; reason?: string }> {
  return readFileSync(logPath('tidb-steward'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"pod":"${NS}/${pod}"`))
    .flatMap((l) => {
      try {
        const e = JSON.parse(l) as { msg: string; time: number };
        return e.time >= since ? [e] : [];
      } catch {
        return [];
      }
    });
}

/**
 * Drains the node of `pod` right after PD made `pod` its leader on that already cordoned node: the
 * cordon found nothing to hand over, so the eviction itself meets a leader transfer that has not begun.
 */
async function drainUnpreparedLeader(pod: string) {
  await until('all 6 pods Running', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
  await until('no eviction left from earlier tests', async () => (await pd.evicting()).length === 0, 60_000);
  const list = await pods(NS);
  const node = list.find((p) => p.name === pod)!.node!;
  if ((await pd.leader()) === pod) await pd.makeLeader(list.find((p) => p.name.includes('-pd-') && p.name !== pod)!.name);
  const tikv = list.find((p) => p.node === node && p.name.startsWith('flow-tikv-'))!.name;
  const store = await storeOfPod(tikv);
  await kubectlOk(['cordon', node]);
  // The cordon is acted on (the store on the node starts evicting) while the PD member there follows.
  await until('the cordon acted on', async () => (await pd.evicting()).includes(store.id), 30_000, 100);
  await pd.makeLeader(pod);
  const standinCalls = pd.standin?.calls.length ?? 0;
  const watch = new PdWatch(pd);
  const started = Date.now();
  const r = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=60s', `--pod-selector=statefulset.kubernetes.io/pod-name=${pod}`], { timeoutMs: 90_000 });
  const seconds = (Date.now() - started) / 1000;
  await watch.stop();
  const moved = watch.leaderLeft(pod);
  const lines = stewardLines(pod, started);
  // PD's own time for the hand-over: the stand-in's transfer request to its completion; real PD's
  // is bounded by the first sample naming another leader.
  const request = pd.standin?.calls.slice(standinCalls).find((c) => c.method === 'POST' && c.path.includes('/leader/transfer/'));
  const done = pd.standin?.transfers.find((x) => x.from === pod && request && x.at >= request.at);
  const pdMs = request && done ? done.at - request.at : moved ? moved.at - started : NaN;
  await kubectlOk(['uncordon', node]);
  return {
    code: r.code,
    stderr: r.stderr,
    seconds,
    pdMs,
    moved,
    refusals: lines.filter((l) => l.msg === 'removal must wait'),
    held: lines.filter((l) => l.msg === 'hand-over done while the call was held'),
  };
}

t.test('a PD leader whose hand-over did not start at cordon time: with --admission-wait-ms 0 the eviction meets 429s', async (t) => {
  await restartSteward({ ...stewardEnv, STEWARD_ADMISSION_WAIT_MS: '0' });
  const d = await drainUnpreparedLeader('flow-pd-1');
  t.equal(d.code, 0, `drain completed: ${d.stderr.split('\n').slice(-2).join(' ')}`);
  t.ok(d.refusals.length > 0, `the eviction was answered 429 ${d.refusals.length} times (${d.refusals[0]?.reason ?? 'none'}): the scenario does leave the hand-over to the eviction`);
  t.comment(`figures (${pd.kind} PD, waiting off): drain ${d.seconds.toFixed(1)}s, PD's leader transfer ${d.pdMs} ms, difference ${(d.seconds * 1000 - d.pdMs).toFixed(0)} ms; 429 answers ${d.refusals.length}`);
});

t.test('a PD leader whose hand-over did not start at cordon time: the eviction is held inside the call, no 429', async (t) => {
  await restartSteward(stewardEnv);
  const d = await drainUnpreparedLeader('flow-pd-1');
  t.equal(d.code, 0, `drain completed: ${d.stderr.split('\n').slice(-2).join(' ')}`);
  t.same(d.refusals.map((l) => l.reason), [], 'no 429 for flow-pd-1');
  t.equal(d.held.length, 1, `the eviction was held ${d.held[0]?.heldMs} ms and allowed: ${d.held[0]?.reason}`);
  t.ok(d.moved, `PD saw its leader move from flow-pd-1 to ${d.moved?.to}`);
  t.comment(`figures (${pd.kind} PD, --admission-wait-ms default): drain ${d.seconds.toFixed(1)}s, PD's leader transfer ${d.pdMs} ms, difference ${(d.seconds * 1000 - d.pdMs).toFixed(0)} ms; call held ${d.held[0]?.heldMs} ms; 429 answers ${d.refusals.length}`);
});
