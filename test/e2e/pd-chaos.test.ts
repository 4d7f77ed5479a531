// PD faults under the one safety authority (issue 14), end to end on the local control plane with the
// controller managing one TidbCluster "c" whose PD is the pod-following stand-in (pd-fleet.ts), which
// can hang a member and kill its leader as real PD shows:
// - one PD member hung like a SIGSTOPped pd-server (its pod Running, its /ping never answering): the
//   controller keeps scaling TiKV and TiDB, the status names the member, and an eviction of another PD
//   pod is answered within the admission budget;
// - the PD leader killed right after an evict-leader entry was added and again during its removal,
//   five rounds: the new leader restores its schedulers one by one (a DELETE meanwhile answers 404 and
//   the entry comes back), and no entry is ever left behind once the drains end;
// - two node drains and an abandoned pod delete (refused, never asked again): at no change of PD's
//   stores did a store evict leaders with nowhere for them to go (decideEvictionRoom's rule), the
//   drains complete, the second cordon's eviction is deferred (an Event); then a third drain beside
//   the abandoned eviction and one started with pd-ctl makes the abandoned one give way (an Event).
// PD's side is sampled at every change of its evict-leader set or store states (the fleet's timeline),
// the pods and the DisruptionLedger by watches (sampler.ts).
import t from 'tap';
import { defaultNodes, ensureCluster, KUBECONFIG, type Cluster } from '../cluster/controlplane.ts';
import { kubectl, kubectlOk, namespace, sleep, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { podAway, watchCluster } from './sampler.ts';
import { condition, dropReleasedVolumes, ensureVolumes, getTc, installCrd, isReady, patchTc, stsReplicas, tidbCluster } from './tc-helpers.ts';

t.setTimeout(1_800_000);
const NS = 'e2e-chaos';
const TC = 'c';
const NODES = defaultNodes(7);
const BUDGET_MS = 4000;
const fleet = new PdFleet();
const model = fleet.model(NS, TC);
let cluster: Cluster;
const figures: string[] = [];
const note = (line: string) => {
  figures.push(line);
  t.comment(line);
};
const selector = (c: 'pd' | 'tikv' | 'tidb') => `app.kubernetes.io/instance=${TC},app.kubernetes.io/component=${c}`;
const since = (ms: number) => ((Date.now() - ms) / 1000).toFixed(1);

t.before(async () => {
  let cleanup: (() => Promise<void>) | null = null;
  t.teardown(async () => {
    model.hung.clear();
    model.onEvictAdded = model.onEvictRemoving = null;
    if (cleanup) {
      await kubectl(['uncordon', ...NODES.map((n) => n.name)]);
      await kubectl(['delete', 'tidbcluster', '-n', NS, TC, '--wait=true', '--timeout=90s'], { timeoutMs: 100_000 });
      await cleanup();
    }
    await fleet.stop();
    t.comment(`figures:\n${figures.join('\n')}`);
  });
  await fleet.start();
  const env = { STEWARD_PD_ENDPOINTS: fleet.stewardEndpoints([[NS, TC]]), STEWARD_PD_TIMEOUT_MS: '1000', STEWARD_RECONCILE_INTERVAL_SECONDS: '1', STEWARD_ADMISSION_BUDGET_MS: String(BUDGET_MS) };
  cluster = await ensureCluster({ stewardEnv: env, nodes: NODES });
  await fleet.follow(KUBECONFIG);
  await installCrd();
  cleanup = await namespace(NS);
  await dropReleasedVolumes();
  await ensureVolumes(24, '1Gi', `e2e-chaos-${Date.now().toString(36)}`);
});

interface PodNow {
  name: string;
  node: string | null;
  ready: boolean;
  deleting: boolean;
}

async function podsNow(sel: string): Promise<PodNow[]> {
  const out = await kubectlOk(['get', 'pods', '-n', NS, '-l', sel, '-o', 'json']);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (JSON.parse(out).items as any[]).map((p) => ({
    name: p.metadata.name,
    node: p.spec.nodeName ?? null,
    ready: p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata.deletionTimestamp),
  }));
}

async function ledgerNow(): Promise<{ leaving: unknown[]; evictions: Array<{ storeId: string; cause: string }> }> {
  const r = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, TC, '-o', 'json']);
  if (r.code !== 0) return { leaving: [], evictions: [] };
  const spec = JSON.parse(r.stdout).spec ?? {};
  return { leaving: spec.leaving ?? [], evictions: spec.evictions ?? [] };
}

const upStores = () => model.stores.filter((s) => s.state === 'Up');
const quiet = async () => {
  const l = await ledgerNow();
  return l.leaving.length === 0 && l.evictions.length === 0 && model.evicting.size === 0;
};
const drain = (node: string, sel: string) =>
  kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=1', '--timeout=420s', `--pod-selector=${sel}`], { timeoutMs: 450_000 });
const evict = (pod: string) =>
  kubectl(['create', '-f', '-', '--raw', `/api/v1/namespaces/${NS}/pods/${pod}/eviction`], { input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NS } }) });
const eventsOf = async (reason: string) =>
  (JSON.parse(await kubectlOk(['get', 'events', '-n', NS, '--field-selector', `reason=${reason}`, '-o', 'json'])).items as Array<{ message: string; involvedObject: { name: string } }>);

t.test('a TidbCluster with 3 PD members, 4 TiKV stores and 1 TiDB becomes Ready', async (t) => {
  const started = Date.now();
  await cluster.apply(tidbCluster(NS, TC, { pd: { replicas: 3 }, tikv: { replicas: 4 }, tidb: { replicas: 1 } }));
  await until('the TidbCluster Ready with 3 members and 4 stores Up in PD', async () => (await isReady(NS, TC)) && model.members.size === 3 && upStores().length === 4, 300_000, 1000);
  t.pass('Ready');
  note(`create → Ready with 3 PD, 4 TiKV, 1 TiDB: ${since(started)}s`);
});

t.test('one PD member hung (pod Running, /ping never answers): TiKV and TiDB still scale, the status names it, and a PD eviction is answered within the budget', async (t) => {
  await until('nothing under way', quiet, 120_000, 1000);
  const hung = [...model.members.keys()].filter((n) => n !== model.leader).sort()[0]!;
  model.hung.add(hung);
  t.teardown(() => void model.hung.delete(hung));
  const started = Date.now();
  await until(`PD sees ${hung} unhealthy`, async () => model.members.get(hung)?.healthy === false, 10_000, 200);
  const pod = (await podsNow(selector('pd'))).find((p) => p.name === hung);
  t.ok(pod?.ready && !pod.deleting, `${hung}'s pod is still Running and Ready`);

  const degraded = await until('the status names the hung member', async () => {
    const c = condition(await getTc(NS, TC), 'Degraded');
    return c?.status === 'True' && c.message.includes(hung) ? c : null;
  }, 60_000, 500);
  t.match(degraded.reason, /PDMember/, `Degraded: ${degraded.reason}: ${degraded.message}`);
  const named = `${since(started)}s`;

  const scaleStarted = Date.now();
  await patchTc(NS, TC, { spec: { tikv: { replicas: 5 }, tidb: { replicas: 2 } } });
  await until('5 TiKV stores Up and 2 TiDB pods Ready', async () => upStores().length === 5 && (await podsNow(selector('tidb'))).filter((p) => p.ready).length === 2 && (await stsReplicas(NS, `${TC}-tikv`)) === 5, 300_000, 1000);
  const scaled = since(scaleStarted);
  t.ok(model.hung.has(hung) && model.members.get(hung)?.healthy === false, `${hung} stayed hung while TiKV 4 → 5 and TiDB 1 → 2 completed`);
  const tc = await getTc(NS, TC);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const listed = (tc.status?.pd?.members ?? []).find((m: any) => m.name === hung);
  t.ok(listed && listed.health === false, `status.pd.members lists ${hung} as unhealthy: ${JSON.stringify(listed)}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const member = (tc.status?.members ?? []).find((m: any) => m.component === 'pd' && m.name === hung);
  t.equal(member?.state, 'failed', `status.members: ${JSON.stringify(member)}`);

  // An eviction of another PD pod: 2 of 3 members answer, so it must be refused, and answered in time.
  const other = [...model.members.keys()].filter((n) => n !== hung).sort()[0]!;
  const times: number[] = [];
  const answers: string[] = [];
  for (let i = 0; i < 3; i++) {
    const at = Date.now();
    const r = await evict(other);
    times.push(Date.now() - at);
    answers.push(r.code === 0 ? 'allowed' : (r.stderr.match(/cannot go yet[^\n]*/)?.[0] ?? r.stderr.trim().slice(0, 300)));
  }
  t.ok(answers.every((a) => a !== 'allowed'), `the eviction of ${other} with ${hung} hung was refused: ${answers[0]}`);
  t.ok(answers.every((a) => /cannot go yet/.test(a)), 'each answer is the authority\'s judgement (not a timeout)');
  t.match(answers[0]!, new RegExp(hung), 'it names the hung member');
  note(`hung PD member ${hung}: named in status after ${named}; TiKV 4 → 5 and TiDB 1 → 2 done in ${scaled}s while hung; eviction of ${other} answered in ${times.join(', ')} ms (budget ${BUDGET_MS} ms)`);

  model.hung.delete(hung);
  await until('the member healthy again and the cluster Ready', async () => model.members.get(hung)?.healthy === true && (await isReady(NS, TC)), 120_000, 1000);
});

t.test('the PD leader killed right after an evict-leader entry was added and during its removal, 5 rounds: no entry is left behind', async (t) => {
  const rounds: string[] = [];
  let kills = 0;
  const killedAt: number[] = [];
  const kill = (why: string) => {
    const to = model.killLeader();
    if (to) {
      kills++;
      killedAt.push(Date.now());
      t.comment(`leader killed ${why}: ${to} restores its schedulers`);
    }
  };
  t.teardown(() => void (model.onEvictAdded = model.onEvictRemoving = null));
  const logFrom = model.log.length;
  for (let round = 0; round < 5; round++) {
    await until('nothing under way', quiet, 180_000, 1000);
    const tikv = (await podsNow(selector('tikv'))).filter((p) => p.ready).sort((a, b) => a.name.localeCompare(b.name));
    const byNode = new Map<string, string[]>();
    for (const p of tikv) byNode.set(p.node!, [...(byNode.get(p.node!) ?? []), p.name]);
    const singles = [...byNode].filter(([, ps]) => ps.length === 1);
    if (!singles.length) return t.fail(`no node holds a single TiKV pod: ${JSON.stringify([...byNode])}`);
    const [node, [victim]] = singles[round % singles.length]!;
    let added = false;
    let removing = false;
    model.onEvictAdded = () => {
      if (added) return;
      added = true;
      // After the answer went out: the entry is persisted, the new leader restores it later.
      setImmediate(() => kill(`right after the entry for ${victim} was added`));
    };
    model.onEvictRemoving = () => {
      if (removing) return;
      removing = true;
      kill(`while the entry for ${victim} was being removed`);
    };
    const started = Date.now();
    const r = await drain(node, selector('tikv'));
    t.equal(r.code, 0, `round ${round + 1}: drain of ${node} (${victim}) completed in ${since(started)}s${r.code ? `: ${(r.stdout + r.stderr).slice(-600)}` : ''}`);
    await kubectlOk(['uncordon', node]);
    await until(`round ${round + 1}: ${victim} back Ready, no record and no entry left`, async () => (await podsNow(selector('tikv'))).some((p) => p.name === victim && p.ready && !p.deleting) && (await quiet()), 240_000, 500);
    // The restore after the last kill is over: an entry PD would bring back is back by now.
    await sleep(Math.max(0, (killedAt[killedAt.length - 1] ?? 0) + 4 * model.restoreStepMs + 1000 - Date.now()));
    t.same([...model.evicting], [], `round ${round + 1}: no evict-leader entry left after the restore settled (kills on add: ${added}, during removal: ${removing})`);
    rounds.push(`${victim} ${since(started)}s${added ? '' : ' (no add seen)'}${removing ? '' : ' (no removal seen)'}`);
    t.ok(added && removing, `round ${round + 1}: the leader was killed after the add and during the removal`);
  }
  model.onEvictAdded = model.onEvictRemoving = null;
  const log = model.log.slice(logFrom).map((l) => l.what);
  const afresh = log.filter((l) => /created afresh/.test(l));
  const lost404 = log.filter((l) => /answered 404 while restoring/.test(l)).length;
  t.ok(lost404 > 0, `PD answered ${lost404} DELETE(s) 404 while its new leader restored the scheduler (the case that leaked an entry on real PD)`);
  t.same(afresh, [], 'no evict-leader scheduler was created afresh over a persisted one (no POST while the leader restored)');
  // The last word on the scheduler: nothing left in PD, and 10 s later still nothing.
  await sleep(10_000);
  t.same([...model.evicting], [], 'no evict-leader entry 10 s after the last round');
  t.ok(upStores().every((s) => s.leaders > 0), `every store leads regions again: ${upStores().map((s) => `${s.id}:${s.leaders}`).join(', ')}`);
  note(`leader kills: ${kills} in 5 rounds (${rounds.join('; ')}); ${lost404} DELETEs answered 404 during a restore; ${log.filter((l) => /^end evicting/.test(l)).length} entries ended, none left`);
});

t.test('two node drains and an abandoned pod delete: leaders never left with nowhere to go, the drains complete, and the abandoned eviction gives way', async (t) => {
  await until('nothing under way', quiet, 180_000, 1000);
  const singlesNow = async () => {
    const byNode = new Map<string, string[]>();
    for (const p of (await podsNow(selector('tikv'))).filter((x) => x.ready && !x.deleting)) byNode.set(p.node!, [...(byNode.get(p.node!) ?? []), p.name]);
    return [...byNode].filter(([, ps]) => ps.length === 1).map(([n, ps]) => ({ node: n, pod: ps[0]! })).sort((a, b) => a.pod.localeCompare(b.pod));
  };
  const singles = await singlesNow();
  if (singles.length < 3) return t.fail(`fewer than 3 nodes hold a single TiKV pod: ${JSON.stringify(singles)}`);
  const [abandoned, ...drained] = singles.slice(0, 3) as [{ node: string; pod: string }, { node: string; pod: string }, { node: string; pod: string }];
  const storeOf = (pod: string) => model.stores.find((s) => s.pod === pod && s.state !== 'Tombstone')!.id;
  const all = (await podsNow(selector('tikv'))).map((p) => p.name).sort();
  const sampler = watchCluster({ namespace: NS, cluster: TC, selector: selector('tikv'), expectedPods: all });
  t.teardown(() => sampler.stop());
  await sampler.ready;
  const from = model.timeline.length;
  const started = Date.now();
  const limit = model.maxReplicas - 2;
  const unable = (e: (typeof model.timeline)[number]) => [...new Set([...e.evicting, ...e.notUp])];
  // An evicting store that still leads regions has somewhere to put them (max-replicas 3: at most one
  // other store unable to take leaders), at every change of PD's stores.
  const stranded = (timeline: typeof model.timeline) => timeline.filter((e) => e.evicting.some((id) => !e.notUp.includes(id) && (e.leaders[id] ?? 0) > 0 && unable(e).filter((x) => x !== id).length > limit));

  // Refused (its leaders cannot all leave within the call) and never asked again.
  model.stores.find((s) => s.pod === abandoned.pod && s.state === 'Up')!.leaders = 1_000_000;
  const del = await kubectl(['delete', 'pod', '-n', NS, abandoned.pod, '--wait=false']);
  t.not(del.code, 0, `the delete of ${abandoned.pod} was refused: ${del.stderr.trim().slice(0, 300)}`);
  await until(`store ${storeOf(abandoned.pod)} of ${abandoned.pod} evicting`, async () => model.evicting.has(storeOf(abandoned.pod)), 20_000, 200);
  // The drained stores take about 70 s each to hand their leaders over (5 per 0.3 s).
  for (const d of drained) model.stores.find((s) => s.pod === d.pod && s.state === 'Up')!.leaders = 1200;
  const results = await Promise.all(
    drained.map(async (d) => {
      const at = Date.now();
      const r = await drain(d.node, selector('tikv'));
      return { ...d, code: r.code, seconds: (Date.now() - at) / 1000, out: r.stdout + r.stderr };
    }),
  );
  for (const r of results) t.equal(r.code, 0, `drain of ${r.node} (${r.pod}) completed in ${r.seconds.toFixed(1)}s${r.code ? `: ${r.out.slice(-600)}` : ''}`);
  const drains = model.timeline.slice(from);
  t.same(stranded(drains).slice(0, 3), [], `while both drains ran: no store evicted leaders with nowhere to go at any of ${drains.length} PD samples`);
  t.ok(drains.some((e) => unable(e).length >= 2), 'the samples saw two stores unable to take leaders at once');
  const deferred = await eventsOf('EvictLeaderDeferred');
  t.ok(deferred.length > 0, `the cordon of the second node deferred its store's eviction, with an Event: ${deferred[0]?.message}`);

  await kubectlOk(['uncordon', ...drained.map((d) => d.node)]);
  // The abandoned eviction may have given way already, to the second drain's store.
  const left = await until('the drained pods back Ready and no eviction left but the abandoned one', async () => {
    const ready = (await podsNow(selector('tikv'))).filter((p) => p.ready && !p.deleting).map((p) => p.name);
    const l = await ledgerNow();
    const others = l.evictions.filter((e) => e.storeId !== String(storeOf(abandoned.pod)));
    return all.every((p) => ready.includes(p)) && l.leaving.length === 0 && others.length === 0 ? l : null;
  }, 240_000, 1000);
  t.comment(`after the two drains the abandoned eviction is ${left.evictions.length ? 'still there' : 'gone (it gave way)'}`);

  // Someone else (pd-ctl) evicts another store: with the abandoned one, no room is left for a third,
  // so the next drain's eviction must make the abandoned one give way, not wait behind it.
  const rest = (await singlesNow()).filter((x) => x.pod !== abandoned.pod);
  if (rest.length < 2) return t.fail(`fewer than 2 other nodes hold a single TiKV pod: ${JSON.stringify(rest)}`);
  const [byOperator, third] = rest as [{ node: string; pod: string }, { node: string; pod: string }];
  model.evicting.add(storeOf(byOperator.pod));
  const thirdAt = Date.now();
  const r3 = await drain(third.node, selector('tikv'));
  t.equal(r3.code, 0, `drain of ${third.node} (${third.pod}) beside the abandoned eviction and ${byOperator.pod}'s (pd-ctl) completed in ${since(thirdAt)}s${r3.code ? `: ${(r3.stdout + r3.stderr).slice(-600)}` : ''}`);
  const gaveWay = await eventsOf('EvictLeaderGaveWay');
  t.ok(gaveWay.some((e) => e.message.includes(`store ${storeOf(abandoned.pod)}`)), `EvictLeaderGaveWay for the abandoned eviction of ${abandoned.pod}: ${gaveWay[0]?.message}`);
  t.ok(model.evicting.has(storeOf(byOperator.pod)), "the operator's eviction was left alone");
  model.evicting.delete(storeOf(byOperator.pod));
  await kubectlOk(['uncordon', third.node]);
  await until('every TiKV pod back Ready, no record and no entry left', async () => {
    const ready = (await podsNow(selector('tikv'))).filter((p) => p.ready && !p.deleting).map((p) => p.name);
    return all.every((p) => ready.includes(p)) && (await quiet());
  }, 180_000, 1000);
  const samples = await sampler.stop();

  const timeline = model.timeline.slice(from);
  t.same(stranded(timeline).slice(0, 3), [], `over the whole scenario: no store evicted leaders with nowhere to go at any of ${timeline.length} PD samples`);
  const storeIds = model.stores.filter((s) => s.state !== 'Tombstone').map((s) => s.id);
  const serving = timeline.map((e) => storeIds.filter((id) => !unable(e).includes(id)).length);
  const maxAway = Math.max(...samples.map((s) => all.filter((p) => podAway(s, p)).length));
  t.ok(maxAway <= 1, `at most ${maxAway} TiKV pod away at any of ${samples.length} watched samples`);
  note(
    `two drains (${results.map((r) => `${r.node}/${r.pod} ${r.seconds.toFixed(1)}s`).join(', ')}) beside the abandoned delete of ${abandoned.pod}, then a third (${third.pod}, ${since(thirdAt)}s) beside it and a pd-ctl eviction: ` +
      `${timeline.length} PD samples, minimum stores able to take leaders ${Math.min(...serving)} of ${storeIds.length}, most unable at once ${Math.max(...timeline.map((e) => unable(e).length))}; ` +
      `${samples.length} watched pod samples, at most ${maxAway} TiKV pod away; ${deferred.length} EvictLeaderDeferred, ${gaveWay.length} EvictLeaderGaveWay; all back in ${since(started)}s`,
  );
});
