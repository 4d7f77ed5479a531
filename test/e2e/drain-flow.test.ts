// A complete kubectl drain through the real API server with tidb-steward's webhooks, against the PD
// stand-in (see pd-standin.ts: real PD cannot be built here). It shows the drain finishing only after
// the PD leader moved and the TiKV store's leaders reached zero, and that nothing is left behind.
import t from 'tap';
import { defaultNodes, ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectl, kubectlOk, namespace, pods, sleep, statefulSet, until } from './helpers.ts';
import { PdStandin } from './pd-standin.ts';

t.setTimeout(600_000);
const NS = 'e2e-flow';
const pd = new PdStandin(['flow-pd-0', 'flow-pd-1', 'flow-pd-2'], [0, 1, 2].map((i) => ({ id: i + 1, pod: `flow-tikv-${i}`, leaders: 20 })));

let stewardEnv: Record<string, string> = {};

t.before(async () => {
  await ensureUp();
  await setNodes(defaultNodes(3));
  const url = await pd.start();
  t.teardown(() => pd.stop());
  stewardEnv = { STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/flow`]: [url] }), STEWARD_RECONCILE_INTERVAL_SECONDS: '2' };
  await restartSteward(stewardEnv);
  t.teardown(async () => {
    await kubectl(['uncordon', 'node-a', 'node-b', 'node-c']);
    await restartSteward();
  });
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
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

t.test('drain of the node with the PD leader and a TiKV store completes after hand-over and eviction', async (t) => {
  const list = await pods(NS);
  const node = list.find((p) => p.name === 'flow-pd-0')!.node!;
  const tikv = list.find((p) => p.node === node && p.name.startsWith('flow-tikv-'))!.name;
  const storeId = Number(tikv.split('-').pop()) + 1;
  const pdGone = watchGone('flow-pd-0');
  const tikvGone = watchGone(tikv);
  const started = Date.now();
  const r = await kubectl(['drain', node, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=120s', '--pod-selector=app.kubernetes.io/instance=flow'], { timeoutMs: 150_000 });
  const drainSeconds = (Date.now() - started) / 1000;
  t.equal(r.code, 0, `drain completed in ${drainSeconds.toFixed(1)}s: ${r.stderr.split('\n').filter((l) => /cannot go yet/.test(l)).slice(0, 2).join(' | ')}`);
  const [pdAt, tikvAt] = await Promise.all([pdGone, tikvGone]);
  const transfer = pd.transfers.find((x) => x.from === 'flow-pd-0');
  t.ok(transfer, `leadership moved from flow-pd-0 to ${transfer?.to}`);
  t.ok(transfer && transfer.at < pdAt, `the leader moved ${((pdAt - (transfer?.at ?? 0)) / 1000).toFixed(1)}s before flow-pd-0 was deleted`);
  t.ok(pd.drainedAt.get(storeId)! < tikvAt, `store ${storeId} led no regions ${((tikvAt - pd.drainedAt.get(storeId)!) / 1000).toFixed(1)}s before ${tikv} was deleted`);
  t.not(pd.leader, 'flow-pd-0');
  t.comment(`drain ${drainSeconds.toFixed(1)}s; PD transfer took 0.5s in the stand-in; store eviction ${((pd.drainedAt.get(storeId)! - started) / 1000).toFixed(1)}s`);
});

t.test('uncordon and the pods back: no evict-leader entry and no record are left', async (t) => {
  await kubectlOk(['uncordon', 'node-a', 'node-b', 'node-c']);
  await until('all 6 pods Running again', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
  await until('the evict-leader scheduler empty', async () => pd.evicting.size === 0, 30_000);
  t.equal(pd.evicting.size, 0);
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
  pd.unhealthy.add(down);
  const first = await kubectl(['drain', target.node!, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=15s', '--pod-selector=statefulset.kubernetes.io/pod-name=flow-pd-2'], { timeoutMs: 90_000 });
  t.not(first.code, 0, 'refused while quorum is at stake');
  t.match(first.stderr, /would leave 1 of 3 members healthy, below the quorum of 2; waiting for flow-pd-1 \(unhealthy\)/);
  pd.unhealthy.delete(down);
  const second = await kubectl(['drain', target.node!, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=60s', '--pod-selector=statefulset.kubernetes.io/pod-name=flow-pd-2'], { timeoutMs: 90_000 });
  t.equal(second.code, 0, 'completes once the member is healthy again');
  await kubectlOk(['uncordon', target.node!]);
});

t.test('tidb-steward restarted in the middle of a drain: the eviction carries on and nothing leaks', async (t) => {
  await until('all 6 pods Running', async () => (await pods(NS)).filter((p) => p.phase === 'Running').length === 6, 90_000);
  const tikv = (await pods(NS)).find((p) => p.name === 'flow-tikv-1')!;
  const store = pd.stores.find((s) => s.pod === 'flow-tikv-1')!;
  store.leaders = 200; // about 12 s of eviction: long enough to restart in the middle
  const args = ['drain', tikv.node!, '--ignore-daemonsets', '--force', '--grace-period=1', '--timeout=90s', '--pod-selector=statefulset.kubernetes.io/pod-name=flow-tikv-1'];
  const first = kubectl(args, { timeoutMs: 120_000 });
  await until('the eviction started', async () => pd.evicting.has(store.id), 30_000, 100);
  const record = async () => (await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'flow', '-o', `jsonpath={.spec.evictions[?(@.storeId=="${store.id}")]}`])).stdout;
  const before = await until('the eviction record', record, 10_000);
  await restartSteward(stewardEnv);
  t.equal(await record(), before, 'the record (and its start time) survived the restart: state lives in the cluster');
  // With a single local instance, a call that lands while it restarts fails (failurePolicy: Fail);
  // kubectl drain then stops and is run again, as an operator would. In production 3 replicas serve.
  let r = await first;
  if (r.code !== 0) r = await kubectl(args, { timeoutMs: 120_000 });
  t.equal(r.code, 0, `drain completed: ${r.stderr.split('\n').slice(-2).join(' ')}`);
  t.ok(pd.drainedAt.has(store.id), 'the store reached 0 leaders before its pod went');
  await kubectlOk(['uncordon', tikv.node!]);
  await until('the evict-leader scheduler empty again', async () => pd.evicting.size === 0, 60_000);
  t.equal(pd.evicting.size, 0, 'no evict-leader entry left behind');
});
