// One safety authority for every disruption (issue 14), end to end on the local control plane (real
// kube-apiserver, kube-controller-manager, kube-scheduler + tidb-scheduler, kwok) with the controller
// managing one TidbCluster "q", on real PD when PD_BIN_DIR is set (tc-pd.ts), on the pod-following
// stand-in otherwise:
// - two node drains and a PD scale-in 5 → 3 started in the same second: a majority of PD's members
//   serves at every sample; the same for two TiKV drains and a TiKV scale-in 4 → 3 (never two stores
//   away);
// - PD 3 → 5 → 3 → 5 and TiKV 3 → 4 → 3 → 4: every new member joins, on a fresh claim;
// - a suspend with tidb-steward killed in the middle: after resume no evict-leader entry is left in PD,
//   no suspend record in the ledger, and no pod ever carried the skip-drain-check annotation.
// Pods and the DisruptionLedger are sampled by watches (sampler.ts); PD's member list comes from PD
// itself (its log, on this process's clock).
import t from 'tap';
import { defaultNodes, ensureCluster, KUBECONFIG, type Cluster } from '../cluster/controlplane.ts';
import { readPids } from '../cluster/procs.ts';
import { kubectl, kubectlOk, namespace, sleep, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { podAway, watchCluster, type ClusterSample } from './sampler.ts';
import { tcPd, type TcPdHandle } from './tc-pd.ts';
import { condition, dropReleasedVolumes, ensureVolumes, getTc, installCrd, isReady, patchTc, stsReplicas, tidbCluster } from './tc-helpers.ts';

t.setTimeout(1_800_000);
const NS = 'e2e-one';
const TC = 'q';
// 8 nodes: 5 PD members (at most floor((5-1)/2) = 2 per node, 1 per node at 3 or 4 members) and 4
// TiKV stores with room left when two nodes are cordoned.
const NODES = defaultNodes(8);
const SKIP = ['tidb-steward.dev/skip-drain-check', 'tidb-steward.pingcap.com/skip-drain-check'];
const fleet = new PdFleet();
let pd: TcPdHandle | undefined;
let cluster: Cluster;
let env: Record<string, string> = {};
const figures: string[] = [];
const note = (line: string) => {
  figures.push(line);
  t.comment(line);
};

const podName = (c: 'pd' | 'tikv' | 'tidb', i: number) => `${TC}-${c}-${i}`;
const selector = (c: 'pd' | 'tikv') => `app.kubernetes.io/instance=${TC},app.kubernetes.io/component=${c}`;
const ordinal = (pod: string) => Number(pod.slice(pod.lastIndexOf('-') + 1));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const majority = (n: number) => Math.floor(n / 2) + 1;
const since = (ms: number) => ((Date.now() - ms) / 1000).toFixed(1);
const thePd = () => pd!;

t.before(async () => {
  let cleanup: (() => Promise<void>) | null = null;
  // One teardown, in order, for whatever was set up (a failed start must not leave the stand-in
  // listening, which would keep this process alive).
  t.teardown(async () => {
    if (cleanup) {
      await kubectl(['uncordon', ...NODES.map((n) => n.name)]);
      // While tidb-steward and PD still answer: its finalizer ends what the cluster left in PD.
      await kubectl(['delete', 'tidbcluster', '-n', NS, TC, '--wait=true', '--timeout=90s'], { timeoutMs: 100_000 });
      await cleanup();
    }
    await pd?.stop();
    await fleet.stop();
    t.comment(`figures:\n${figures.join('\n')}`);
  });
  await fleet.start();
  pd = tcPd({ namespace: NS, cluster: TC, pdMembers: 5, tikvStores: 3, fleet, onFollow: (l) => t.comment(`pd: ${l}`) });
  t.comment(pd.line);
  env = { STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/${TC}`]: pd.endpoints }), STEWARD_PD_TIMEOUT_MS: '1000', STEWARD_RECONCILE_INTERVAL_SECONDS: '1' };
  cluster = await ensureCluster({ stewardEnv: env, nodes: NODES });
  await fleet.follow(KUBECONFIG);
  await installCrd();
  cleanup = await namespace(NS);
  // After the namespace is emptied: pods of an earlier run are not this run's members.
  await pd.start();
  await dropReleasedVolumes();
  // 9 claims at first, and a new one for every ordinal that comes back.
  await ensureVolumes(32, '1Gi', `e2e-one-${Date.now().toString(36)}`);
});

interface PodNow {
  name: string;
  uid: string;
  node: string | null;
  ready: boolean;
  deleting: boolean;
}

async function podsNow(sel: string): Promise<PodNow[]> {
  const out = await kubectlOk(['get', 'pods', '-n', NS, '-l', sel, '-o', 'json']);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (JSON.parse(out).items as any[]).map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    node: p.spec.nodeName ?? null,
    ready: p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata.deletionTimestamp),
  }));
}

async function ledgerNow(): Promise<{ leaving: Array<{ component: string; member: string; pod: string; act?: string }>; evictions: Array<{ storeId: string; cause: string }> }> {
  const r = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, TC, '-o', 'json']);
  if (r.code !== 0) return { leaving: [], evictions: [] };
  const spec = JSON.parse(r.stdout).spec ?? {};
  return { leaving: spec.leaving ?? [], evictions: spec.evictions ?? [] };
}

async function claimsNow(): Promise<Map<string, { uid: string; retired: string | undefined; volume: string | undefined }>> {
  const out = await kubectlOk(['get', 'pvc', '-n', NS, '-o', 'json']);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return new Map((JSON.parse(out).items as any[]).map((c) => [c.metadata.name, { uid: c.metadata.uid, retired: c.metadata.annotations?.['tidb-steward.dev/retired-member'], volume: c.spec?.volumeName }]));
}

const drain = (node: string, sel: string) =>
  kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=1', '--timeout=420s', `--pod-selector=${sel}`], { timeoutMs: 450_000 });

/** Two nodes each holding members of the component, none of them of an ordinal ≥ `keep` (those the scale-in removes). */
function nodesToDrain(pods: PodNow[], keep: number): Array<{ node: string; pods: string[] }> {
  const byNode = new Map<string, string[]>();
  for (const p of pods) if (p.node) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.name]);
  return [...byNode]
    .filter(([, ps]) => ps.every((p) => ordinal(p) < keep))
    .sort((a, b) => a[1].length - b[1].length || a[0].localeCompare(b[0]))
    .slice(0, 2)
    .map(([node, ps]) => ({ node, pods: ps.sort() }));
}

/** When PD's log first says `pattern` (its first group is the key), from `from` on. */
function logTimes(pattern: RegExp, from: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of thePd().log) {
    const m = pattern.exec(l.what);
    if (l.at >= from && m && !out.has(m[1]!)) out.set(m[1]!, l.at);
  }
  return out;
}

/** Started in the same second: each act with when it was launched, what it returned and how long it took. */
async function atOnce(acts: Array<[string, () => Promise<{ code: number; out: string }>]>): Promise<Array<{ what: string; at: number; code: number; seconds: number; out: string }>> {
  return Promise.all(
    acts.map(async ([what, run]) => {
      const at = Date.now();
      const r = await run();
      return { what, at, code: r.code, seconds: (Date.now() - at) / 1000, out: r.out };
    }),
  );
}

const patchAct = (patch: Record<string, unknown>) => async () => {
  const r = await kubectl(['patch', 'tidbcluster', '-n', NS, TC, '--type=merge', '-p', JSON.stringify(patch)]);
  return { code: r.code, out: r.stdout + r.stderr };
};
const drainAct = (node: string, sel: string) => async () => {
  const r = await drain(node, sel);
  return { code: r.code, out: r.stdout + r.stderr };
};

t.test('a TidbCluster with 5 PD members, 3 TiKV stores and 1 TiDB becomes Ready', async (t) => {
  const started = Date.now();
  await cluster.apply(tidbCluster(NS, TC, { pd: { replicas: 5 }, tidb: { replicas: 1 } }));
  await until('the TidbCluster Ready with 5 members in PD', async () => (await isReady(NS, TC)) && (await thePd().members()).length === 5, 300_000, 1000);
  const perNode = new Map<string, number>();
  for (const p of await podsNow(selector('pd'))) perNode.set(p.node!, (perNode.get(p.node!) ?? 0) + 1);
  t.ok(Math.max(...perNode.values()) <= 2, `at most 2 PD members per node: ${JSON.stringify(Object.fromEntries(perNode))}`);
  note(`create → Ready with 5 PD, 3 TiKV, 1 TiDB: ${since(started)}s`);
});

t.test('two PD node drains and a PD scale-in 5 → 3 started in the same second: a majority of the members serves at every sample', async (t) => {
  const names = range(5).map((i) => podName('pd', i));
  await until('no PD member leaving', async () => (await ledgerNow()).leaving.length === 0, 120_000, 1000);
  const pods = await podsNow(selector('pd'));
  t.same(pods.filter((p) => p.ready).map((p) => p.name).sort(), names, '5 PD pods Ready');
  // The issue's case: drains of members that stay, and the scale-in removing others.
  const drains = nodesToDrain(pods, 3);
  if (drains.length < 2) return t.fail(`no two nodes hold only PD members that stay: ${JSON.stringify(pods.map((p) => [p.name, p.node]))}`);
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: selector('pd'), expectedPods: names });
  t.teardown(() => sampler.stop());
  await sampler.ready;
  const started = Date.now();
  const results = await atOnce([...drains.map((d) => [`drain ${d.node} (${d.pods.join(', ')})`, drainAct(d.node, selector('pd'))] as [string, () => Promise<{ code: number; out: string }>]), ['scale-in 5 → 3', patchAct({ spec: { pd: { replicas: 3 } } })]]);
  const spreadMs = Math.max(...results.map((r) => r.at)) - Math.min(...results.map((r) => r.at));
  t.ok(spreadMs < 1000, `the drains and the scale-in started within ${spreadMs} ms`);
  for (const r of results) t.equal(r.code, 0, `${r.what} completed in ${r.seconds.toFixed(1)}s${r.code ? `: ${r.out.slice(-600)}` : ''}`);
  const kept = range(3).map((i) => podName('pd', i));
  await until('PD at 3 members, its StatefulSet at 3 and the cluster Ready', async () => JSON.stringify(await thePd().members()) === JSON.stringify(kept) && (await stsReplicas(NS, `${TC}-pd`)) === 3 && (await isReady(NS, TC)), 300_000, 1000);
  const scaleInSeconds = since(started);
  await sampler.when('3 PD pods Ready, the removed ones gone and nobody leaving', (s) => s.leaving.length === 0 && kept.every((p) => !podAway(s, p)) && s.pods.size === 3, 180_000);
  const samples = await sampler.stop();
  await kubectl(['uncordon', ...drains.map((d) => d.node)]);

  // PD's member list at each sample: a member is no longer one once PD removed it.
  const removedAt = logTimes(/^member (\S+) removed$/, started);
  const rows = samples.map((s) => {
    const members = names.filter((n) => !((removedAt.get(n) ?? Infinity) <= s.at));
    const away = members.filter((n) => podAway(s, n) || s.leaving.some((e) => e.component === 'pd' && (e.member === n || e.pod === n)));
    return { rv: s.rv, members: members.length, serving: members.length - away.length, away };
  });
  const lost = rows.filter((r) => r.serving < majority(r.members));
  t.same(lost.slice(0, 5), [], `a majority of PD's members served at every one of ${rows.length} samples`);
  t.ok(rows.some((r) => r.away.length > 0), 'the samples saw members away: they are dense enough to see a loss');
  t.same([...removedAt.keys()].sort(), [podName('pd', 3), podName('pd', 4)], 'PD removed exactly the members beyond 3');
  for (const victim of [podName('pd', 3), podName('pd', 4)]) {
    const entry = samples.flatMap((s) => s.leaving).find((e) => e.component === 'pd' && e.member === victim && e.act === 'scale-in');
    t.ok(entry, `the ledger recorded ${victim}'s removal as a scale-in`);
    t.ok(entry && Date.parse(entry.since) <= removedAt.get(victim)!, `the scale-in of ${victim} was allowed (${entry?.since}) before PD removed it (${new Date(removedAt.get(victim)!).toISOString()})`);
  }
  for (const d of drains) {
    for (const p of d.pods) t.ok(samples.some((s) => s.leaving.some((e) => e.pod === p && e.act === 'eviction')), `the ledger recorded ${p}'s eviction`);
  }
  const bySize = [5, 4, 3].map((n) => {
    const of = rows.filter((r) => r.members === n);
    return of.length ? `${Math.min(...of.map((r) => r.serving))} of ${n} (quorum ${majority(n)}, ${of.length} samples)` : `no sample with ${n} members`;
  });
  const firstScaleIn = samples.find((s) => s.leaving.some((e) => e.act === 'scale-in'));
  note(
    `PD: drains of ${drains.map((d) => `${d.node} (${d.pods.join(', ')})`).join(' and ')} and scale-in 5 → 3 started within ${spreadMs} ms; ` +
      `${rows.length} samples; minimum serving ${bySize.join(', ')}; at most ${Math.max(...rows.map((r) => r.away.length))} members away; ` +
      `drains took ${results.filter((r) => r.what.startsWith('drain')).map((r) => `${r.seconds.toFixed(1)}s`).join(' and ')}; ` +
      `first scale-in record after ${firstScaleIn ? ((firstScaleIn.at - started) / 1000).toFixed(1) : '?'}s; PD at 3 members and Ready after ${scaleInSeconds}s`,
  );
});

t.test('two TiKV node drains and a TiKV scale-in 4 → 3 started in the same second: never two stores away', async (t) => {
  const outStarted = Date.now();
  await patchTc(NS, TC, { spec: { tikv: { replicas: 4 } } });
  const names = range(4).map((i) => podName('tikv', i));
  await until('4 TiKV stores Up and the cluster Ready', async () => (await thePd().stores()).filter((s) => s.state === 'Up').length === 4 && (await isReady(NS, TC)), 300_000, 1000);
  note(`TiKV 3 → 4: ${since(outStarted)}s`);
  await until('no member leaving', async () => (await ledgerNow()).leaving.length === 0, 120_000, 1000);
  const stores = new Map((await thePd().stores()).filter((s) => s.state === 'Up' && s.pod).map((s) => [s.pod!, String(s.id)]));
  t.same([...stores.keys()].sort(), names, 'a store Up per TiKV pod');
  const victimStore = stores.get(podName('tikv', 3))!;
  const pods = await podsNow(selector('tikv'));
  const drains = nodesToDrain(pods, 3);
  if (drains.length < 2) return t.fail(`no two nodes hold only TiKV stores that stay: ${JSON.stringify(pods.map((p) => [p.name, p.node]))}`);
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: selector('tikv'), expectedPods: names });
  t.teardown(() => sampler.stop());
  await sampler.ready;
  const started = Date.now();
  const results = await atOnce([...drains.map((d) => [`drain ${d.node} (${d.pods.join(', ')})`, drainAct(d.node, selector('tikv'))] as [string, () => Promise<{ code: number; out: string }>]), ['scale-in 4 → 3', patchAct({ spec: { tikv: { replicas: 3 } } })]]);
  const spreadMs = Math.max(...results.map((r) => r.at)) - Math.min(...results.map((r) => r.at));
  t.ok(spreadMs < 1000, `the drains and the scale-in started within ${spreadMs} ms`);
  for (const r of results) t.equal(r.code, 0, `${r.what} completed in ${r.seconds.toFixed(1)}s${r.code ? `: ${r.out.slice(-600)}` : ''}`);
  await until('TiKV at 3, the removed store Tombstone and the cluster Ready', async () => {
    const st = (await thePd().stores()).find((s) => String(s.id) === victimStore);
    return st?.state === 'Tombstone' && (await stsReplicas(NS, `${TC}-tikv`)) === 3 && (await isReady(NS, TC));
  }, 300_000, 1000);
  const scaleInSeconds = since(started);
  const kept = names.slice(0, 3);
  await sampler.when('3 TiKV pods Ready, the removed one gone and nobody leaving', (s) => s.leaving.length === 0 && kept.every((p) => !podAway(s, p)) && s.pods.size === 3, 180_000);
  const samples = await sampler.stop();
  await kubectl(['uncordon', ...drains.map((d) => d.node)]);

  // A Tombstone store is no longer one of the cluster's: it holds no region.
  const tombstoneAt = logTimes(/^store (\d+) of \S+ Tombstone$/, started).get(victimStore) ?? Infinity;
  const rows = samples.map((s) => {
    const members = names.filter((n) => n !== podName('tikv', 3) || !(tombstoneAt <= s.at));
    const away = members.filter((n) => podAway(s, n) || s.leaving.some((e) => e.component === 'tikv' && (e.pod === n || e.member === stores.get(n))));
    return { rv: s.rv, members: members.length, away };
  });
  const maxAway = Math.max(...rows.map((r) => r.away.length));
  // PD's max-replicas 3: a region tolerates one peer away.
  t.same(rows.filter((r) => r.away.length > 1).slice(0, 5), [], `at most ${maxAway} store away at any of ${rows.length} samples`);
  t.ok(rows.some((r) => r.away.length === 1), 'the samples saw a store away: they are dense enough to see two');
  t.ok(Number.isFinite(tombstoneAt), `store ${victimStore} of ${podName('tikv', 3)} went Tombstone`);
  const first = samples.find((s) => s.leaving.some((e) => e.component === 'tikv' && e.member === victimStore && e.act === 'scale-in'));
  t.ok(first, `the ledger recorded the removal of store ${victimStore} as a scale-in`);
  const offlineAt = logTimes(/^store (\d+) of \S+ Offline$/, started).get(victimStore);
  const entry = first?.leaving.find((e) => e.component === 'tikv' && e.member === victimStore);
  t.ok(entry && Date.parse(entry.since) <= (offlineAt ?? tombstoneAt), `allowed (${entry?.since}) before PD set the store Offline (${offlineAt ? new Date(offlineAt).toISOString() : 'never'})`);
  for (const d of drains) {
    for (const p of d.pods) t.ok(samples.some((s) => s.leaving.some((e) => e.pod === p && e.act === 'eviction')), `the ledger recorded ${p}'s eviction`);
  }
  note(
    `TiKV: drains of ${drains.map((d) => `${d.node} (${d.pods.join(', ')})`).join(' and ')} and scale-in 4 → 3 started within ${spreadMs} ms; ` +
      `${rows.length} samples; at most ${maxAway} of ${names.length} stores away (max-replicas 3 tolerate 1); ` +
      `drains took ${results.filter((r) => r.what.startsWith('drain')).map((r) => `${r.seconds.toFixed(1)}s`).join(' and ')}; ` +
      `scale-in recorded after ${first ? ((first.at - started) / 1000).toFixed(1) : '?'}s, store Tombstone after ${((tombstoneAt - started) / 1000).toFixed(1)}s; TiKV at 3 and Ready after ${scaleInSeconds}s`,
  );
});

t.test('PD 3 → 5 → 3 → 5 and TiKV 3 → 4 → 3 → 4: every new member joins, each time on a fresh claim', async (t) => {
  const uids = new Map<string, string[]>();
  const remember = (claims: Map<string, { uid: string }>) => {
    for (const [name, c] of claims) if (!uids.get(name)?.includes(c.uid)) uids.set(name, [...(uids.get(name) ?? []), c.uid]);
  };
  const start = await claimsNow();
  remember(start);
  for (const claim of [`pd-${podName('pd', 3)}`, `pd-${podName('pd', 4)}`, `tikv-${podName('tikv', 3)}`]) {
    t.ok(start.get(claim)?.retired, `${claim} of a removed member carries tidb-steward.dev/retired-member: ${start.get(claim)?.retired}`);
  }
  const timings: string[] = [];
  // Every store the pod of ordinal 3 ever had (the one scaled in above is Tombstone now).
  const storeIds = (await thePd().stores()).filter((s) => s.pod === podName('tikv', 3)).map((s) => s.id);
  for (const [component, counts] of [['pd', [5, 3, 5]], ['tikv', [4, 3, 4]]] as const) {
    let from = 3;
    for (const n of counts) {
      const started = Date.now();
      await patchTc(NS, TC, { spec: { [component]: { replicas: n } } });
      const want = range(n).map((i) => podName(component, i));
      if (component === 'pd') {
        await until(`PD at ${n} members, every pod Ready, the cluster Ready`, async () => {
          const ready = (await podsNow(selector('pd'))).filter((p) => p.ready && !p.deleting).map((p) => p.name).sort();
          return JSON.stringify(await thePd().members()) === JSON.stringify(want) && JSON.stringify(ready) === JSON.stringify(want) && (await isReady(NS, TC));
        }, 300_000, 1000);
      } else {
        await until(`TiKV at ${n} stores Up, every pod Ready, the cluster Ready`, async () => {
          const ready = (await podsNow(selector('tikv'))).filter((p) => p.ready && !p.deleting).map((p) => p.name).sort();
          const up = (await thePd().stores()).filter((s) => s.state === 'Up').map((s) => s.pod).sort();
          return JSON.stringify(up) === JSON.stringify(want) && JSON.stringify(ready) === JSON.stringify(want) && (await isReady(NS, TC));
        }, 300_000, 1000);
      }
      timings.push(`${component} ${from} → ${n} ${since(started)}s`);
      const claims = await claimsNow();
      const moved = range(Math.max(n, from)).slice(Math.min(n, from)).map((i) => `${component}-${podName(component, i)}`);
      for (const claim of moved) {
        const c = claims.get(claim);
        if (n > from) {
          t.ok(c && !uids.get(claim)!.includes(c.uid), `${claim} is a new claim (uid ${c?.uid}, before ${uids.get(claim)?.join(', ')})`);
          t.notOk(c?.retired, `${claim} is not marked retired`);
        } else t.ok(c?.retired, `${claim} marked retired after the scale-in: ${c?.retired}`);
      }
      if (component === 'tikv' && n > from) {
        const st = (await thePd().stores()).find((s) => s.pod === podName('tikv', 3) && s.state === 'Up')!;
        t.notOk(storeIds.includes(st.id), `${podName('tikv', 3)} joined PD as a new store ${st.id}`);
        storeIds.push(st.id);
        const tombs = (await thePd().stores()).filter((s) => s.pod === podName('tikv', 3) && s.state === 'Tombstone').map((s) => s.id);
        t.notOk(tombs.includes(st.id), 'not as a Tombstone store id');
      }
      remember(claims);
      from = n;
    }
  }
  const events = JSON.parse(await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=TidbCluster,reason=ClaimRenewed', '-o', 'json'])).items as Array<{ message: string }>;
  for (const claim of [`pd-${podName('pd', 3)}`, `pd-${podName('pd', 4)}`, `tikv-${podName('tikv', 3)}`]) {
    const renewed = events.filter((e) => e.message.startsWith(`claim ${claim} `)).length;
    t.ok(renewed >= 2, `ClaimRenewed Events for ${claim}: ${renewed} (one per scale-out here)`);
  }
  note(`scaling with claim renewal: ${timings.join(', ')}; ${events.length} ClaimRenewed Events; claims ${[...uids].filter(([, u]) => u.length > 1).map(([n, u]) => `${n} ×${u.length}`).join(', ')}`);
});

t.test('a suspend with tidb-steward killed in the middle: after resume no evict-leader entry nor suspend record is left, and no pod skipped the drain checks', async (t) => {
  await until('no member leaving', async () => (await ledgerNow()).leaving.length === 0, 120_000, 1000);
  const all = (await podsNow(`app.kubernetes.io/instance=${TC}`)).map((p) => p.name);
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: `app.kubernetes.io/instance=${TC}`, expectedPods: all });
  t.teardown(() => sampler.stop());
  await sampler.ready;
  const storesBefore = (await thePd().stores()).filter((s) => s.state === 'Up').map((s) => s.id).sort();
  const started = Date.now();
  await patchTc(NS, TC, { spec: { suspend: true } });
  // Written before PD is asked: the moment the suspend started its first leader eviction.
  await sampler.when('a leader eviction of the suspend in the ledger', (s) => s.evictions.some((e) => e.cause === 'suspend'), 180_000);
  const inPd = await until('the eviction in PD', async () => ((await thePd().evicting()).length > 0 ? true : null), 10_000, 50).catch(() => false);
  const ledgerAtKill = await ledgerNow();
  const evictingAtKill = await thePd().evicting();
  const tikvLeft = (await podsNow(selector('tikv'))).filter((p) => !p.deleting).length;
  process.kill(-readPids()['tidb-steward']!, 'SIGKILL');
  const killedAt = Date.now();
  t.ok(inPd, `killed with store(s) ${evictingAtKill.join(', ')} in PD's evict-leader scheduler, ${tikvLeft} TiKV pods left, ledger evictions ${JSON.stringify(ledgerAtKill.evictions.map((e) => `${e.storeId}:${e.cause}`))}`);
  await sleep(3000);
  await cluster.restartSteward(env);
  await until('Suspended', async () => condition(await getTc(NS, TC), 'Suspended')?.status === 'True', 300_000, 1000);
  const suspendSeconds = since(started);
  t.same(await podsNow(`app.kubernetes.io/instance=${TC}`), [], 'no pods left');
  const resumed = Date.now();
  await patchTc(NS, TC, { spec: { suspend: false } });
  await until('Ready after resume', () => isReady(NS, TC), 300_000, 1000);
  const readySeconds = since(resumed);
  const clean = async () => {
    const l = await ledgerNow();
    return (await thePd().evicting()).length === 0 && !l.leaving.some((e) => e.act === 'suspend') && !l.evictions.some((e) => e.cause === 'suspend');
  };
  const cleanAtReady = await clean();
  await until('no evict-leader entry in PD and no suspend record in the ledger', clean, 60_000, 500);
  const cleanSeconds = since(resumed);
  t.same(await thePd().evicting(), [], "nothing left in PD's evict-leader scheduler");
  const ledger = await ledgerNow();
  t.same(ledger.evictions.filter((e) => e.cause === 'suspend'), [], 'no suspend eviction record');
  t.same(ledger.leaving.filter((e) => e.act === 'suspend'), [], 'no suspend leaving record');
  const stores = (await thePd().stores()).filter((s) => s.state === 'Up');
  t.same(stores.map((s) => s.id).sort(), storesBefore, 'the same stores came back Up');
  t.same(stores.filter((s) => s.leaders === 0).map((s) => s.id), [], 'every store leads regions again');
  const samples = await sampler.stop();
  const skipped = new Set<string>();
  for (const s of samples) for (const p of s.pods.values()) if (SKIP.some((k) => p.annotations[k] !== undefined)) skipped.add(p.name);
  t.same([...skipped], [], `no pod carried a skip-drain-check annotation at any of ${samples.length} samples`);
  const suspendRecords = samples.filter((s) => s.leaving.some((e) => e.act === 'suspend')).length;
  t.ok(suspendRecords > 0, `the pods the suspend stopped were recorded as suspend in the ledger (${suspendRecords} samples)`);
  note(
    `suspend with tidb-steward killed ${((killedAt - started) / 1000).toFixed(1)}s in (store(s) ${evictingAtKill.join(', ')} evicting in PD): Suspended after ${suspendSeconds}s; ` +
      `resume → Ready ${readySeconds}s, ${cleanAtReady ? 'clean at Ready' : `PD and ledger clean after ${cleanSeconds}s`}; ${samples.length} samples, no skip-drain-check annotation`,
  );
});
