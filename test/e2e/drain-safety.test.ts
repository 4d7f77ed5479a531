// Drains that never lose quorum, with several nodes drained at once: kubectl drain and the eviction
// API through the real API server, tidb-steward's webhooks and its DisruptionLedger, against real PD
// (pd-server and pd-simulator from PD_BIN_DIR) or, without it, the PD stand-in. PD's health and the
// pods are sampled continuously while each scenario runs; the figures are printed as test comments.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logPath } from '../cluster/procs.ts';
import { ensureUp, restartSteward, setNodes } from './cluster.ts';
import { kubectl, kubectlOk, sleep, until } from './helpers.ts';
import { podAway, watchCluster, type PodSample } from './sampler.ts';
import { STATE } from '../cluster/paths.ts';
import { generate } from 'selfsigned';
import { startPdBackend, type PdBackend } from './pd-backend.ts';

t.setTimeout(900_000);
const NS = 'e2e-safety';
const NODES = Array.from({ length: 8 }, (_, i) => ({ name: `node-${String.fromCharCode(97 + i)}`, zone: `zone-${String.fromCharCode(97 + (i % 4))}` }));
const figures: string[] = [];
const note = (line: string) => {
  figures.push(line);
  t.comment(line);
};

type PodState = Omit<PodSample, 'annotations'>;

async function podStates(selector: string): Promise<PodState[]> {
  const out = await kubectlOk(['get', 'pods', '-n', NS, '-l', selector, '-o', 'json']);
  return (JSON.parse(out).items as Array<Record<string, any>>).map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    node: p.spec.nodeName ?? null,
    phase: p.status?.phase ?? '',
    ready: (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata.deletionTimestamp),
  }));
}

/** A StatefulSet of one TiDB component whose pods never share a node (required anti-affinity). */
function spreadStatefulSet(cluster: string, component: 'pd' | 'tikv', replicas: number): string {
  const labels = { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': cluster, 'app.kubernetes.io/managed-by': 'tidb-steward' };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: `${cluster}-${component}`, namespace: NS, labels },
    spec: {
      replicas,
      serviceName: `${cluster}-${component}-peer`,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': cluster } },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': cluster } } }] } },
          containers: [{ name: component, image: `pingcap/${component}:v8.5.4` }],
        },
      },
    },
  });
}

/**
 * Keeps PD members in step with their pods, as the kubelet would: a pod deleting, gone or replaced (a
 * new uid) stops its member; the pod Running starts it again with its data after `startDelayMs` (a
 * PD process starting and catching up). Members in `keepDown` stay down.
 */
function follow(backend: PdBackend, selector: string, keepDown: Set<string>, startDelayMs = 2000) {
  let stopped = false;
  const uids = new Map<string, string>();
  const runningSince = new Map<string, number>();
  const loop = (async () => {
    while (!stopped) {
      try {
        const pods = new Map((await podStates(selector)).map((p) => [p.name, p]));
        for (const member of backend.memberPods()) {
          const p = pods.get(member.pod);
          const up = Boolean(p && !p.deleting && p.phase === 'Running');
          const known = uids.get(member.pod);
          if (p && up && known === undefined) uids.set(member.pod, p.uid);
          const replaced = Boolean(p && known !== undefined && p.uid !== known);
          if (known === undefined) continue;
          if ((!up || replaced) && backend.isRunning(member.name)) {
            await backend.stopMember(member.name);
            runningSince.delete(member.pod);
          }
          if (replaced && p) uids.set(member.pod, p.uid);
          if (up && !backend.isRunning(member.name) && !keepDown.has(member.name)) {
            const since = runningSince.get(member.pod) ?? Date.now();
            runningSince.set(member.pod, since);
            if (Date.now() - since >= startDelayMs) await backend.startMember(member.name);
          }
        }
      } catch {
        // the next round sees it
      }
      await sleep(100);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/**
 * Samples PD (members answering their /ping) every 100 ms, and the members away at every change the
 * API server makes (sampler.ts): pods deleting, not Ready or missing, and members the cluster's
 * DisruptionLedger lists as leaving (a removal allowed and the member not back yet).
 */
function sample(backend: PdBackend, cluster: string, selector: string, expectedPods: readonly string[]) {
  const pdSamples: Array<{ at: number; serving: number }> = [];
  let stopped = false;
  const pdLoop = (async () => {
    while (!stopped) {
      const at = Date.now();
      pdSamples.push({ at, serving: await backend.servingMembers() });
      await sleep(Math.max(0, 100 - (Date.now() - at)));
    }
  })();
  const watch = watchCluster({ namespace: NS, cluster, selector, expectedPods });
  return {
    ready: watch.ready,
    async stop() {
      stopped = true;
      const [, samples] = await Promise.all([pdLoop, watch.stop()]);
      const podSamples = samples.map((s) => {
        const who = new Set(s.leaving.map((e) => e.pod));
        for (const name of expectedPods) if (podAway(s, name)) who.add(name);
        return { at: s.at, away: who.size, who: [...who].sort() };
      });
      return { pdSamples, podSamples };
    },
  };
}

/** tidb-steward's log lines about one pod since `since` (ms). */
function stewardSaid(pod: string, since: number): string {
  return readFileSync(logPath('tidb-steward'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"pod":"${NS}/${pod}"`))
    .filter((l) => {
      try {
        return (JSON.parse(l) as { time: number }).time >= since;
      } catch {
        return false;
      }
    })
    .join('\n');
}

const drain = (node: string, selector: string) =>
  kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=1', '--timeout=300s', `--pod-selector=${selector}`], { timeoutMs: 330_000 });

/** When the current incarnation of a pod disappears (or starts deleting). */
async function goneAt(pod: string, timeoutMs = 330_000): Promise<number> {
  const uid = (await kubectlOk(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid}'])).trim();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await kubectl(['get', 'pod', '-n', NS, pod, '-o', 'jsonpath={.metadata.uid} {.metadata.deletionTimestamp}']);
    const [u, ts] = r.stdout.trim().split(' ');
    if (r.code !== 0 || u !== uid || ts) return Date.now();
    await sleep(100);
  }
  throw new Error(`${pod} was not removed within ${timeoutMs / 1000}s`);
}

let backends: PdBackend[] = [];

t.before(async () => {
  await ensureUp({ nodes: NODES });
  await setNodes(NODES);
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s']);
  await kubectlOk(['create', 'namespace', NS]);
  t.teardown(async () => {
    await kubectl(['uncordon', ...NODES.map((n) => n.name)]);
    for (const b of backends) await b.close();
    await kubectl(['delete', 'namespace', NS, '--wait=false']);
    await restartSteward();
    t.comment(`figures:\n${figures.join('\n')}`);
  });
});

t.test('two PD drains at once with a member down: one waits for the first replacement, PD never below quorum', async (t) => {
  const names = [0, 1, 2, 3, 4].map((i) => `q-pd-${i}`);
  const pd = await startPdBackend({ namespace: NS, cluster: 'q', pdMembers: names, dataRoot: join(STATE, 'pd-e2e-safety-q'), portSlot: 0 });
  backends.push(pd);
  note(`PD back-end: ${pd.description}`);
  await restartSteward({ STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/q`]: pd.endpoints }), STEWARD_RECONCILE_INTERVAL_SECONDS: '1' });
  await kubectlOk(['apply', '-f', '-'], spreadStatefulSet('q', 'pd', 5));
  await until('5 PD pods Running on 5 nodes', async () => (await podStates('app.kubernetes.io/instance=q')).filter((p) => p.phase === 'Running' && p.ready).length === 5, 120_000);
  const keepDown = new Set(['q-pd-4']);
  const stopFollowing = follow(pd, 'app.kubernetes.io/instance=q', keepDown);
  // q-pd-4's process dies; its pod stays Running. (SIGTERM: a SIGKILL right after bootstrap can lose
  // the member's own identity from its data dir on a loaded machine, and it could not rejoin later.)
  await pd.stopMember('q-pd-4');
  await until('PD with a leader and 4 of 5 members serving', async () => (await pd.servingMembers()) === 4 && (await pd.leader().catch(() => null)), 60_000);
  const pods = await podStates('app.kubernetes.io/instance=q');
  const nodeOf = (p: string) => pods.find((x) => x.name === p)!.node!;
  const [first, second] = ['q-pd-1', 'q-pd-2'];
  const sampler = sample(pd, 'q', 'app.kubernetes.io/instance=q', names);
  await sampler.ready;
  const started = Date.now();
  const gone: [Promise<number>, Promise<number>] = [goneAt(first), goneAt(second)];
  const selector = 'app.kubernetes.io/instance=q';
  const drains = [nodeOf(first), nodeOf(second)].map(async (node) => {
    const r = await drain(node, selector);
    return { node, code: r.code, seconds: (Date.now() - started) / 1000, out: r.stdout + r.stderr };
  });
  const [goneA, goneB] = await Promise.all(gone);
  const results = await Promise.all(drains);
  // Let the last replacement come back before the sampler stops.
  await until('all 4 live members serving again', async () => (await pd.servingMembers()) === 4, 120_000);
  const { pdSamples: samples, podSamples } = await sampler.stop();
  const maxAway = Math.max(...podSamples.map((x) => x.away));
  t.ok(maxAway <= 1, `at most ${maxAway} PD member away at a time by pods and the ledger (${podSamples.length} samples): ${JSON.stringify(podSamples.filter((s) => s.away > 1).slice(0, 3))}`);
  await stopFollowing();
  for (const r of results) t.equal(r.code, 0, `drain of ${r.node} completed in ${r.seconds.toFixed(1)}s`);
  const minServing = Math.min(...samples.map((s) => s.serving));
  t.ok(minServing >= 3, `PD kept quorum at every one of ${samples.length} samples: at least ${minServing} of 5 members served (quorum 3)`);
  t.ok(samples.some((s) => s.serving === 3), 'the samples saw a member away (3 serving): they are dense enough to see a loss');
  const [early, late] = goneA < goneB ? [{ pod: first, at: goneA }, { pod: second, at: goneB }] : [{ pod: second, at: goneB }, { pod: first, at: goneA }];
  const waited = (late.at - early.at) / 1000;
  t.ok(waited > 1, `${late.pod} went ${waited.toFixed(1)}s after ${early.pod}`);
  // The second went only once the first's replacement served again (PD back to 4 serving).
  const backBefore = samples.filter((s) => s.at > early.at && s.at < late.at).some((s) => s.serving === 4);
  t.ok(backBefore, `${early.pod}'s replacement served before ${late.pod} went`);
  // client-go retries a 429 itself before kubectl drain sees it: the answers are in tidb-steward's log.
  t.match(stewardSaid(late.pod, started), new RegExp(`cannot go yet: removing PD member ${late.pod} would leave 2 of 5 members healthy, below the quorum of 3; waiting for .*${early.pod} \\((eviction allowed|delete allowed|node \\S+ is being drained|unhealthy|pod is not Ready)`), 'the waiting eviction was told why');
  note(`PD drains at once (5 members, 1 down): first pod gone after ${((early.at - started) / 1000).toFixed(1)}s, second waited ${waited.toFixed(1)}s more; drains took ${results.map((r) => `${r.node} ${r.seconds.toFixed(1)}s`).join(', ')}; min serving members ${minServing}/5 over ${samples.length} samples`);
  await kubectl(['uncordon', nodeOf(first), nodeOf(second)]);
  keepDown.clear();
  await pd.startMember('q-pd-4');
  await until('5 members serving', async () => (await pd.servingMembers()) === 5, 120_000);
});

t.test('a pod that stays Terminating still counts as leaving', async (t) => {
  const pd = backends[0]!;
  // q-pd-0 will be evicted and its replacement kept from rejoining, so that it stays away too.
  const keepDown = new Set(['q-pd-0']);
  const stopFollowing = follow(pd, 'app.kubernetes.io/instance=q', keepDown);
  t.teardown(stopFollowing);
  await kubectlOk(['patch', 'pod', '-n', NS, 'q-pd-3', '--type=merge', '-p', JSON.stringify({ metadata: { finalizers: ['tidb-steward.dev/e2e-slow-shutdown'] } })]);
  // 5 members serving: two may go (3 stay); a third may not while both are away.
  await kubectlOk(['delete', 'pod', '-n', NS, 'q-pd-3', '--wait=false']);
  await until('q-pd-3 Terminating and its member stopped', async () => (await podStates('app.kubernetes.io/instance=q')).find((p) => p.name === 'q-pd-3')?.deleting && !pd.isRunning('q-pd-3'), 30_000);
  const ev = (pod: string) => kubectl(['create', '-f', '-', '--raw', `/api/v1/namespaces/${NS}/pods/${pod}/eviction`], { input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NS } }) });
  // A second member may go while q-pd-3 is away (4 of 5 served), once leadership moved if it leads.
  await until('q-pd-0 evicted', async () => ((await ev('q-pd-0')).code === 0 ? true : null), 30_000, 1000);
  t.pass('a second member went while q-pd-3 was Terminating');
  await sleep(4000); // several reconcile rounds: the Terminating pod must stay counted
  const third = await ev('q-pd-1');
  t.not(third.code, 0, 'a third may not');
  t.match(third.stderr, /q-pd-3 \((eviction allowed|delete allowed|pod is terminating)[^)]*\)/, 'q-pd-3, still Terminating, is named as leaving');
  const started = Date.now();
  await kubectlOk(['patch', 'pod', '-n', NS, 'q-pd-3', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  const r = await until('q-pd-1 may go once q-pd-3 is back', async () => ((await ev('q-pd-1')).code === 0 ? true : null), 120_000, 1000);
  t.ok(r);
  note(`Terminating pod: a third PD eviction waited while q-pd-3 stayed Terminating; allowed ${((Date.now() - started) / 1000).toFixed(1)}s after its shutdown finished`);
  keepDown.clear();
  await until('5 members serving', async () => (await pd.servingMembers()) === 5, 90_000);
});

t.test('two TiKV drains at once: never two of three stores away together, both complete', async (t) => {
  const pd = await startPdBackend({ namespace: NS, cluster: 'kv', pdMembers: ['kv-pd-0', 'kv-pd-1', 'kv-pd-2'], tikvStores: 3, dataRoot: join(STATE, 'pd-e2e-safety-kv'), portSlot: 1 });
  backends.push(pd);
  await restartSteward({ STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/q`]: backends[0]!.endpoints, [`${NS}/kv`]: pd.endpoints }), STEWARD_RECONCILE_INTERVAL_SECONDS: '1' });
  await kubectlOk(['apply', '-f', '-'], spreadStatefulSet('kv', 'tikv', 3));
  const selector = 'app.kubernetes.io/instance=kv,app.kubernetes.io/component=tikv';
  await until('3 TiKV pods Running', async () => (await podStates(selector)).filter((p) => p.phase === 'Running' && p.ready).length === 3, 120_000);
  const stopFollowing = follow(pd, selector, new Set());
  const pods = await podStates(selector);
  const nodes = ['kv-tikv-0', 'kv-tikv-1'].map((n) => pods.find((p) => p.name === n)!.node!);
  const sampler = sample(pd, 'kv', selector, ['kv-tikv-0', 'kv-tikv-1', 'kv-tikv-2']);
  await sampler.ready;
  const started = Date.now();
  const gone: [Promise<number>, Promise<number>] = [goneAt('kv-tikv-0'), goneAt('kv-tikv-1')];
  const drains = nodes.map(async (node) => {
    const r = await drain(node, selector);
    return { node, code: r.code, seconds: (Date.now() - started) / 1000, out: r.stdout + r.stderr };
  });
  const [g0, g1] = await Promise.all(gone);
  const results = await Promise.all(drains);
  await until('3 TiKV pods Running again', async () => (await podStates(selector)).filter((p) => p.phase === 'Running' && p.ready && !p.deleting).length === 3, 120_000);
  const { podSamples: samples } = await sampler.stop();
  await stopFollowing();
  for (const r of results) t.equal(r.code, 0, `drain of ${r.node} completed in ${r.seconds.toFixed(1)}s`);
  const maxAway = Math.max(...samples.map((s) => s.away));
  t.ok(maxAway <= 1, `at most ${maxAway} of 3 TiKV stores away at any of ${samples.length} samples: ${JSON.stringify(samples.filter((s) => s.away > 1).slice(0, 3))}`);
  t.ok(samples.some((s) => s.away === 1), 'the samples saw a store away');
  const waited = Math.abs(g1 - g0) / 1000;
  const later = g0 < g1 ? 'kv-tikv-1' : 'kv-tikv-0';
  t.match(stewardSaid(later, started), /would let regions lose their majority \(3 replicas tolerate 1 away\); waiting for store \d+ \((eviction allowed|delete allowed|node \S+ is being drained)/, 'the waiting eviction was told why');
  note(`TiKV drains at once (3 stores, 3 replicas): first pod gone after ${((Math.min(g0, g1) - started) / 1000).toFixed(1)}s, second waited ${waited.toFixed(1)}s more; drains took ${results.map((r) => `${r.node} ${r.seconds.toFixed(1)}s`).join(', ')}; max TiKV pods away ${maxAway}/3 over ${samples.length} samples`);
  await kubectl(['uncordon', ...nodes]);
});

t.test('an autoscaler taint starts the leader hand-over like a cordon, and removing it ends it', async (t) => {
  const pd = backends[1]!;
  const selector = 'app.kubernetes.io/instance=kv,app.kubernetes.io/component=tikv';
  const pod = (await podStates(selector)).find((p) => p.name === 'kv-tikv-2')!;
  const evicting = async () => {
    const r = await fetch(`${pd.endpoints[0]}/pd/api/v1/scheduler-config/evict-leader-scheduler/list`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200 ? Object.keys(((await r.json()) as { 'store-id-ranges'?: Record<string, unknown> })['store-id-ranges'] ?? {}) : [];
  };
  const before = await evicting();
  const started = Date.now();
  await kubectlOk(['taint', 'node', pod.node!, 'karpenter.sh/disrupted=:NoSchedule']);
  t.teardown(() => kubectl(['taint', 'node', pod.node!, 'karpenter.sh/disrupted:NoSchedule-']).then(() => undefined));
  // A store not evicted before (the cleanup of the previous scenario may end another's meanwhile, so
  // counting entries is not enough).
  const added = await until('a store evicted after the taint', async () => {
    const now = await evicting();
    return now.some((x) => !before.includes(x)) ? now : null;
  }, 30_000, 200);
  const addedAfter = (Date.now() - started) / 1000;
  const fresh = added.filter((x) => !before.includes(x));
  t.ok(fresh.length > 0, `store ${fresh.join(', ')} of kv-tikv-2 evicted ${addedAfter.toFixed(1)}s after Karpenter's taint (no cordon)`);
  const ended = Date.now();
  await kubectlOk(['taint', 'node', pod.node!, 'karpenter.sh/disrupted:NoSchedule-']);
  await until('the eviction ended after the taint was removed', async () => !(await evicting()).some((x) => fresh.includes(x)), 30_000, 200).catch(async (err: Error) => {
    const ledger = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'kv', '-o', 'jsonpath={.spec}']);
    throw new Error(`${err.message}; PD evicting ${JSON.stringify(await evicting())}, ledger ${ledger.stdout}; tidb-steward said: ${stewardSaid('kv-tikv-2', started).slice(-600)}`);
  });
  note(`Karpenter taint: leader eviction started ${addedAfter.toFixed(1)}s after the taint, ended ${((Date.now() - ended) / 1000).toFixed(1)}s after its removal`);
});

t.test('members named with a domain suffix: hand-over and quorum guard as with plain names', async (t) => {
  const sfx = (i: number) => `sfx-pd-${i}.sfx-pd-peer.${NS}.svc.cluster.local`;
  const pd = await startPdBackend({ namespace: NS, cluster: 'sfx', pdMembers: [0, 1, 2].map(sfx), dataRoot: join(STATE, 'pd-e2e-safety-sfx'), portSlot: 2 });
  backends.push(pd);
  await restartSteward({ STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/sfx`]: pd.endpoints }), STEWARD_RECONCILE_INTERVAL_SECONDS: '1' });
  await kubectlOk(['apply', '-f', '-'], spreadStatefulSet('sfx', 'pd', 3));
  const selector = 'app.kubernetes.io/instance=sfx';
  await until('3 PD pods Running', async () => (await podStates(selector)).filter((p) => p.phase === 'Running' && p.ready).length === 3, 120_000);
  const keepDown = new Set<string>();
  const stopFollowing = follow(pd, selector, keepDown);
  t.teardown(stopFollowing);
  const leader = await pd.leader();
  const leaderPod = leader.split('.')[0]!;
  const node = (await podStates(selector)).find((p) => p.name === leaderPod)!.node!;
  const r = await drain(node, selector);
  t.equal(r.code, 0, `drain of the leader's node completed: ${r.stderr.split('\n').find((l) => /cannot go yet/.test(l)) ?? ''}`);
  const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${leaderPod},reason=PDLeaderTransfer`, '-o', 'jsonpath={.items[*].message}']);
  t.match(events, new RegExp(`transferring PD leader of cluster ${NS}/sfx from ${leaderPod}\\.sfx-pd-peer\\S+ to sfx-pd-\\d\\.sfx-pd-peer`), 'leadership was handed over first (the member was found by its name prefix)');
  t.not(await pd.leader(), leader);
  await kubectl(['uncordon', node]);
  await until('3 members serving', async () => (await pd.servingMembers()) === 3, 90_000);
  await until('no member leaving', async () => {
    const x = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'sfx', '-o', 'jsonpath={.spec.leaving}']);
    return x.code === 0 && (x.stdout.trim() === '' || x.stdout.trim() === '[]');
  }, 60_000);
  keepDown.add(sfx(2));
  await pd.stopMember(sfx(2), { kill: true });
  const ev = await kubectl(['create', '-f', '-', '--raw', `/api/v1/namespaces/${NS}/pods/sfx-pd-1/eviction`], { input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'sfx-pd-1', namespace: NS } }) });
  t.not(ev.code, 0);
  t.match(ev.stderr, /removing PD member sfx-pd-1\.sfx-pd-peer\S* would leave 1 of 3 members healthy, below the quorum of 2/, 'the quorum guard applies, not "not a member"');
  keepDown.clear();
  await pd.startMember(sfx(2));
});

t.test('a DeleteCollection of a cluster\'s PD pods lets at most one go at a time', async (t) => {
  const pd = backends[2]!;
  const selector = 'app.kubernetes.io/instance=sfx';
  const names = ['sfx-pd-0', 'sfx-pd-1', 'sfx-pd-2'];
  const stopFollowing = follow(pd, selector, new Set());
  t.teardown(stopFollowing);
  await until('3 members serving', async () => (await pd.servingMembers()) === 3, 90_000);
  await until('3 PD pods Ready', async () => (await podStates(selector)).filter((p) => p.ready && !p.deleting).length === 3, 60_000);
  await until('no member leaving', async () => {
    const r = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'sfx', '-o', 'jsonpath={.spec.leaving}']);
    return r.code === 0 && (r.stdout.trim() === '' || r.stdout.trim() === '[]');
  }, 60_000);
  const before = new Map((await podStates(selector)).map((p) => [p.name, p.uid]));
  const sampler = sample(pd, 'sfx', selector, names);
  await sampler.ready;
  const started = Date.now();
  // What bulk deletes send: one DELETE of the collection; the API server reviews each pod with an
  // empty name. Sent again once the cluster is whole, until every pod was replaced.
  const path = `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io%2Fcomponent%3Dpd%2Capp.kubernetes.io%2Finstance%3Dsfx`;
  let refused = 0;
  let sends = 0;
  let reason = '';
  const wentPerSend: number[] = [];
  const replaced = async () => {
    const now = await podStates(selector);
    return [...before].filter(([name, uid]) => now.some((p) => p.name === name && p.uid !== uid)).map(([n]) => n);
  };
  // Three rounds: each DeleteCollection may let one pod go (the first in its order that is safe).
  while (sends < 3) {
    const uids = new Map((await podStates(selector)).map((p) => [p.name, p.uid]));
    const r = await kubectl(['delete', '--raw', path]);
    sends++;
    if (r.code !== 0) {
      refused++;
      reason ||= (r.stderr.match(/cannot go yet: [^;]*/) ?? [''])[0];
    }
    const after = await podStates(selector);
    wentPerSend.push([...uids].filter(([name, uid]) => !after.some((p) => p.name === name && p.uid === uid && !p.deleting)).length);
    // The cluster whole again: every pod Ready, every member serving, nobody leaving.
    await until('the cluster whole again', async () => {
      const pods = await podStates(selector);
      const l = await kubectl(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'sfx', '-o', 'jsonpath={.spec.leaving}']);
      return pods.filter((p) => p.ready && !p.deleting).length === 3 && (await pd.servingMembers()) === 3 && l.code === 0 && ['', '[]'].includes(l.stdout.trim());
    }, 90_000, 300);
  }
  const gone = await replaced();
  t.ok(gone.length >= 1, `pods replaced over ${sends} rounds: ${gone.join(', ')}`);
  t.ok(wentPerSend.every((n) => n <= 1), `each DeleteCollection let at most one pod go: ${wentPerSend.join(', ')}`);
  await until('3 members serving', async () => (await pd.servingMembers()) === 3, 90_000);
  const { podSamples, pdSamples } = await sampler.stop();
  const maxAway = Math.max(...podSamples.map((x) => x.away));
  t.ok(maxAway <= 1, `at most ${maxAway} of 3 PD members away at any of ${podSamples.length} samples: ${JSON.stringify(podSamples.filter((s) => s.away > 1).slice(0, 3))}`);
  t.ok(Math.min(...pdSamples.map((x) => x.serving)) >= 2, `PD kept quorum: at least ${Math.min(...pdSamples.map((x) => x.serving))} of 3 served at every one of ${pdSamples.length} samples`);
  t.ok(refused > 0, `${refused} of ${sends} collection deletes were refused in part`);
  note(`DeleteCollection of 3 PD pods: each of ${sends} sends let at most one go (${wentPerSend.join(', ')}), ${refused} refused in part (${reason}); ${gone.length} distinct pods replaced over the rounds in ${((Date.now() - started) / 1000).toFixed(1)}s; max members away ${maxAway}`);
});

t.test('a TLS PD: tidb-steward reaches it with the cluster client Secret and hands leadership over', async (t) => {
  // Real pd-server with TLS would need https client URLs in test/cluster/pd.ts; the stand-in serves
  // mutual TLS with a CA generated here.
  const notBeforeDate = new Date(Date.now() - 3600_000);
  const notAfterDate = new Date(Date.now() + 86400_000);
  const base = { algorithm: 'sha256' as const, keyType: 'ec' as const, curve: 'P-256' as const, notBeforeDate, notAfterDate };
  const ca = await generate([{ name: 'commonName', value: 'tls-cluster-ca' }], { ...base, extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true }] });
  const leaf = (cn: string, usage: Record<string, boolean>) =>
    generate([{ name: 'commonName', value: cn }], { ...base, ca: { key: ca.private, cert: ca.cert }, extensions: [{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', ...usage }, { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] });
  const server = await leaf('tls-pd', { serverAuth: true });
  const client = await leaf('tls-cluster-client', { clientAuth: true });
  const pd = await startPdBackend({ namespace: NS, cluster: 'tls', pdMembers: ['tls-pd-0', 'tls-pd-1', 'tls-pd-2'], dataRoot: join(STATE, 'pd-e2e-safety-tls'), portSlot: 3, tls: { key: server.private, cert: server.cert, ca: ca.cert } });
  backends.push(pd);
  note(`TLS PD back-end: ${pd.description}`);
  const plain = await fetch(`${pd.endpoints[0]!.replace('https', 'http')}/pd/api/v1/members`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status).catch(() => 'refused');
  t.equal(plain, 'refused', 'PD does not answer without TLS');
  // The name tidb-operator gives the cluster client Secret.
  await kubectlOk(['create', 'secret', 'generic', 'tls-cluster-client-secret', '-n', NS, '--from-literal=ca.crt=' + ca.cert, '--from-literal=tls.crt=' + client.cert, '--from-literal=tls.key=' + client.private]);
  await restartSteward({ STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${NS}/tls`]: pd.endpoints }), STEWARD_RECONCILE_INTERVAL_SECONDS: '1' });
  await kubectlOk(['apply', '-f', '-'], spreadStatefulSet('tls', 'pd', 3));
  const selector = 'app.kubernetes.io/instance=tls';
  await until('3 PD pods Running', async () => (await podStates(selector)).filter((p) => p.phase === 'Running' && p.ready).length === 3, 120_000);
  const leader = await pd.leader();
  const started = Date.now();
  const ev = () => kubectl(['create', '-f', '-', '--raw', `/api/v1/namespaces/${NS}/pods/${leader}/eviction`], { input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: leader, namespace: NS } }) });
  await until(`${leader} evicted`, async () => ((await ev()).code === 0 ? true : null), 60_000, 1000);
  t.not(await pd.leader(), leader, 'leadership moved over TLS before the leader went');
  t.match(stewardSaid(leader, started), /transferring PD leader from tls-pd-\d to tls-pd-\d/);
  t.notMatch(stewardSaid(leader, started), /cannot check it with PD/, 'no TLS or connection errors');
  note(`TLS PD: the leader's eviction went through after a hand-over in ${((Date.now() - started) / 1000).toFixed(1)}s, every call over mutual TLS with the cluster client Secret`);
});

t.test('deleting the namespace completes, even with PD stopped', async (t) => {
  for (const b of backends) await b.stopAllMembers();
  const started = Date.now();
  const r = await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=180s'], { timeoutMs: 200_000 });
  const seconds = (Date.now() - started) / 1000;
  t.equal(r.code, 0, `namespace deleted in ${seconds.toFixed(1)}s: ${r.stderr}`);
  note(`namespace ${NS} with 11 PD/TiKV pods and PD stopped deleted in ${seconds.toFixed(1)}s`);
});

