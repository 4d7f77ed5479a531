// Hardening against the real control plane: callers must hold client certificates, bind refuses pods
// it must not touch, placement holds with two replicas behind two real schedulers, and real-cluster
// shapes (StatefulSets without labels of their own, Advanced StatefulSets, pods pinned by local
// volumes) are placed, and a PD pod owned by an Advanced StatefulSet is drained like any other.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { CLIENT_PKI, defaultNodes, ensureCluster, restartSteward, startSecondReplica, stewardOverrides, stopSecondReplica, type Cluster } from '../cluster/controlplane.ts';
import { startPdBackend, type PdBackend } from '../cluster/pd-backend.ts';
import { TIDB_LABELS, kubectl, kubectlOk, namespace, perNode, pods, statefulSet, until } from './helpers.ts';

t.setTimeout(900_000);

let cluster: Cluster;
t.before(async () => {
  cluster = await ensureCluster({ nodes: defaultNodes(3) });
});

/** POST to tidb-steward directly, with or without the scheduler's client certificate. */
async function callSteward(path: string, body: unknown, opts: { cert?: boolean; port?: number } = {}) {
  const agent = new Agent({
    connect: { ca: cluster.caPem, ...(opts.cert ? { cert: readFileSync(CLIENT_PKI.schedulerCert), key: readFileSync(CLIENT_PKI.schedulerKey) } : {}) },
  });
  try {
    const res = await request(`https://127.0.0.1:${opts.port ?? cluster.stewardPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), dispatcher: agent });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await agent.close();
  }
}

function bareStatefulSet(ns: string, replicas: number, extra: Record<string, unknown> = {}) {
  const sts = JSON.parse(statefulSet({ namespace: ns, cluster: 'basic', component: 'pd', replicas, parallel: true }));
  sts.metadata.labels = {}; // a hand-written StatefulSet: the TiDB labels only on its pod template
  Object.assign(sts.spec, extra);
  return JSON.stringify(sts);
}

/** A namespace of its own; on cleanup its PD pods are exempted from the drain check (no PD runs here). */
async function scratch(ns: string): Promise<() => Promise<void>> {
  await kubectl(['label', 'namespace', ns, 'tidb-steward.dev/guard=disabled', '--overwrite']); // left by an earlier run
  const cleanup = await namespace(ns);
  return async () => {
    await kubectl(['label', 'namespace', ns, 'tidb-steward.dev/guard=disabled', '--overwrite']);
    await cleanup();
  };
}

async function uidOf(ns: string, kind: string, name: string): Promise<string> {
  return (await kubectlOk(['get', kind, '-n', ns, name, '-o', 'jsonpath={.metadata.uid}'])).trim();
}

t.test('a PD StatefulSet without labels of its own is placed by the rule', async (t) => {
  const cleanup = await scratch('e2e-h-nolabels');
  t.teardown(cleanup);
  await kubectlOk(['apply', '-f', '-'], bareStatefulSet('e2e-h-nolabels', 3));
  const list = await until('3 PD pods scheduled', async () => {
    const l = await pods('e2e-h-nolabels');
    return l.length === 3 && l.every((p) => p.node) ? l : null;
  }, 90_000);
  t.same(Object.values(perNode(list)).sort(), [1, 1, 1], `one PD member per node: ${JSON.stringify(perNode(list))}`);
  t.equal((await kubectlOk(['get', 'statefulset', '-n', 'e2e-h-nolabels', 'basic-pd', '-o', 'jsonpath={.metadata.labels}'])).trim(), '', 'the StatefulSet carries no labels');
});

t.test('unauthenticated calls are refused; the API server and scheduler, with certificates, get through', async (t) => {
  const ns = 'e2e-h-auth';
  const cleanup = await scratch(ns);
  t.teardown(cleanup);
  // A pod no scheduler takes: the target of a forged bind.
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'victim', namespace: ns }, spec: { schedulerName: 'nobody', containers: [{ name: 'c', image: 'busybox' }] } }));
  const uid = await uidOf(ns, 'pod', 'victim');
  const bind = { PodName: 'victim', PodNamespace: ns, PodUID: uid, Node: 'node-a' };
  const forged = await callSteward('/scheduler/bind', bind);
  t.equal(forged.status, 401, 'bind without a client certificate: 401');
  t.match(forged.body.message, /a client certificate is required/);
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'forged-1', kind: { group: 'policy', version: 'v1', kind: 'Eviction' }, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'eviction', name: 'basic-pd-0', namespace: ns, operation: 'CREATE', object: {} } };
  const admission = await callSteward('/admission/pods', review);
  t.equal(admission.status, 401, 'admission call without a client certificate: 401');
  const cordon = await callSteward('/admission/nodes', { ...review, request: { ...review.request, resource: { group: '', version: 'v1', resource: 'nodes' }, operation: 'UPDATE', name: 'node-a' } });
  t.equal(cordon.status, 401);

  t.test('a bind for another scheduler\'s pod is refused, even with the certificate', async (t) => {
    const other = await callSteward('/scheduler/bind', bind, { cert: true });
    t.equal(other.status, 200);
    t.match(other.body.Error, /pod e2e-h-auth\/victim is for scheduler nobody, and tidb-steward binds only pods of tidb-scheduler/);
    t.equal((await pods(ns)).find((p) => p.name === 'victim')?.node, null, 'still unbound');
  });

  // The API server calls the webhook with its client certificate: a PD pod's deletion gets our answer
  // (PD cannot be reached here, so "not yet"), not a call failure.
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'basic-pd-0', namespace: ns, labels: TIDB_LABELS('basic', 'pd') }, spec: { nodeName: 'node-b', containers: [{ name: 'pd', image: 'pingcap/pd:v8.5.4' }] } }));
  const refused = await kubectl(['delete', 'pod', '-n', ns, 'basic-pd-0', '--wait=false']);
  t.not(refused.code, 0);
  t.match(refused.stderr, /cannot go yet/, 'answered by tidb-steward');
  t.notMatch(refused.stderr, /failed calling webhook/, 'the API server was let in');
  await kubectlOk(['annotate', 'pod', '-n', ns, 'basic-pd-0', 'tidb-steward.pingcap.com/skip-drain-check=true']);
  const legacy = await kubectl(['delete', 'pod', '-n', ns, 'basic-pd-0', '--wait=false']);
  t.equal(legacy.code, 0, 'the old escape-hatch key is still honoured');
  t.match(legacy.stderr, /tidb-steward\.pingcap\.com\/skip-drain-check is deprecated; use tidb-steward\.dev\/skip-drain-check=true/, 'with a deprecation warning');
});

/** Rounds of a 3-member PD cluster on 3 nodes; per round, the PD member count per node. */
async function raceRounds(prefix: string, rounds: number) {
  const results: Array<Record<string, number>> = [];
  for (let round = 1; round <= rounds; round++) {
    const ns = `${prefix}${round}`;
    const cleanup = await scratch(ns);
    await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: ns, cluster: 'basic', component: 'pd', replicas: 3, parallel: true }));
    const list = await until(`${ns}: 3 PD pods scheduled`, async () => {
      const l = await pods(ns);
      return l.length === 3 && l.every((p) => p.node) ? l : null;
    }, 120_000);
    results.push(perNode(list));
    await cleanup();
  }
  return results;
}

t.test('two tidb-steward processes behind two real schedulers never place two PD members of a 3-member cluster on one node', async (t) => {
  // Each replica is the extender of its own kube-scheduler; both schedule the same pods. Every bind
  // waits 300 ms between its fresh read and its Binding, so that without a cluster-wide lock the two
  // replicas would often judge from the same view.
  const widened = { STEWARD_BIND_DELAY_MS: '300' };
  await cluster.restartSteward(widened);
  await startSecondReplica(widened);
  t.teardown(async () => {
    await stopSecondReplica();
    await cluster.restartSteward();
  });
  const bindsOf = (component: string) => (readFileSync(cluster.logPath(component), 'utf8').match(/"msg":"bound"/g) ?? []).length;
  const before = { first: bindsOf('tidb-steward'), second: bindsOf('tidb-steward-2') };
  const rounds = 6;
  const results = await raceRounds('e2e-h-race', rounds);
  results.forEach((counts, i) => t.ok(Object.values(counts).every((c) => c <= 1), `round ${i + 1}: at most 1 PD member per node: ${JSON.stringify(counts)}`));
  const after = { first: bindsOf('tidb-steward') - before.first, second: bindsOf('tidb-steward-2') - before.second };
  t.ok(after.first > 0 && after.second > 0, `both replicas bound PD pods (${after.first} and ${after.second} of ${rounds * 3})`);
  const leases = await kubectlOk(['get', 'lease', '-n', 'tidb-steward', '-o', 'jsonpath={.items[*].metadata.name}']);
  t.match(leases, /bind\.pd\.basic\.e2e-h-race1/, 'binds went through the per-cluster Lease');
});

t.test('the same race made exact: two replicas bind two PD members to one node at the same instant', async (t) => {
  // Here the test is the scheduler: pods of a scheduler nobody runs, bound by direct calls, one to each
  // replica, both to node-a, each bind pausing 300 ms between its read and its Binding.
  const base = { STEWARD_SCHEDULER_NAME: 'race-test', STEWARD_BIND_DELAY_MS: '300' };
  t.teardown(async () => {
    await stopSecondReplica();
    await cluster.restartSteward();
  });
  const race = async (ns: string, env: Record<string, string>) => {
    await cluster.restartSteward(env);
    const { stewardPort: second } = await startSecondReplica(env);
    const cleanup = await scratch(ns);
    await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: ns, cluster: 'basic', component: 'pd', replicas: 3, parallel: true, scheduler: 'race-test' }));
    await until('3 PD pods created', async () => (await pods(ns)).length === 3, 60_000);
    const bind = async (i: number, port: number) =>
      (await callSteward('/scheduler/bind', { PodName: `basic-pd-${i}`, PodNamespace: ns, PodUID: await uidOf(ns, 'pod', `basic-pd-${i}`), Node: 'node-a' }, { cert: true, port })).body.Error as string;
    const errors = await Promise.all([bind(0, cluster.stewardPort), bind(1, second)]);
    const onA = (await pods(ns)).filter((p) => p.node === 'node-a').length;
    await cleanup();
    return { errors, onA };
  };
  const locked = await race('e2e-h-exact', base);
  t.equal(locked.onA, 1, 'with the bind Lease: one PD member on node-a');
  t.equal(locked.errors.filter((e) => e === '').length, 1, 'one bind succeeded');
  t.match(locked.errors.find((e) => e !== ''), /binding refused: node node-a already holds 1 of 3 PD members of cluster e2e-h-exact\/basic/, 'the other was refused with the reason');
  const unlocked = await race('e2e-h-exact-nolease', { ...base, STEWARD_BIND_LEASE: 'off' });
  t.equal(unlocked.onA, 2, `control, Lease off: both binds went through (${JSON.stringify(unlocked.errors)}): two of three PD members on node-a, what the Lease prevents`);
});

/** A minimal stand-in for tidb-operator's CRD: the group, kind and replicas are what matter here. */
async function installAdvancedStatefulSetCrd(): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'statefulsets.apps.pingcap.com' },
    spec: {
      group: 'apps.pingcap.com',
      scope: 'Namespaced',
      names: { plural: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', listKind: 'StatefulSetList', shortNames: ['asts'] },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  }));
  await kubectlOk(['wait', '--for=condition=Established', 'crd/statefulsets.apps.pingcap.com', '--timeout=30s']);
}

/** An Advanced StatefulSet and pods it owns, created as tidb-operator's controller would (none runs here). */
async function advancedStatefulSet(ns: string, cluster: string, replicas: number, podNames: readonly string[]): Promise<void> {
  const labels = TIDB_LABELS(cluster, 'pd');
  await until('the Advanced StatefulSet is created', async () => {
    const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'apps.pingcap.com/v1', kind: 'StatefulSet', metadata: { name: `${cluster}-pd`, namespace: ns }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels } } } }) });
    return r.code === 0;
  }, 30_000);
  const owner = await uidOf(ns, 'statefulsets.apps.pingcap.com', `${cluster}-pd`);
  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels, ownerReferences: [{ apiVersion: 'apps.pingcap.com/v1', kind: 'StatefulSet', name: `${cluster}-pd`, uid: owner, controller: true, blockOwnerDeletion: true }] },
    spec: { schedulerName: 'tidb-scheduler', terminationGracePeriodSeconds: 1, containers: [{ name: 'pd', image: 'pingcap/pd:v8.5.4' }] },
  });
  await kubectlOk(['apply', '-f', '-'], podNames.map((n) => JSON.stringify(pod(n))).join('\n---\n'));
}

t.test('an Advanced StatefulSet (apps.pingcap.com) PD pod is scheduled', async (t) => {
  const ns = 'e2e-h-asts';
  const cleanup = await scratch(ns);
  t.teardown(cleanup);
  await installAdvancedStatefulSetCrd();
  await advancedStatefulSet(ns, 'basic', 3, ['basic-pd-0']);
  const [pod] = await until('the Advanced StatefulSet PD pod is scheduled', async () => {
    const l = await pods(ns);
    return l.length === 1 && l[0]!.node ? l : null;
  }, 90_000);
  t.ok(pod!.node, `bound to ${pod!.node}`);
});

t.test('a PD pod owned by an Advanced StatefulSet is judged like any other: its leader is not evicted while another member is down', async (t) => {
  const ns = 'e2e-h-asts-drain';
  const cleanup = await scratch(ns);
  const before = stewardOverrides();
  let pd: PdBackend | null = null;
  t.teardown(async () => {
    await pd?.memberUp('basic-pd-2');
    await pd?.stop();
    await restartSteward(before);
    await cleanup();
  });
  await installAdvancedStatefulSetCrd();
  pd = await startPdBackend({ namespace: ns, cluster: 'basic', pdMembers: 3, tikvStores: 3, regions: 30 });
  await restartSteward({ ...before, ...pd.stewardEnv() });
  // No apps/v1 StatefulSet named basic-pd exists here: only the Advanced one owns the pods.
  await advancedStatefulSet(ns, 'basic', 3, ['basic-pd-0', 'basic-pd-1', 'basic-pd-2']);
  await until('3 PD pods Running', async () => (await pods(ns)).filter((p) => p.phase === 'Running').length === 3, 90_000);
  await pd.makeLeader('basic-pd-0');
  await pd.memberDown('basic-pd-2');
  const r = await kubectl(['create', '-f', '-', '--raw', `/api/v1/namespaces/${ns}/pods/basic-pd-0/eviction`], {
    input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'basic-pd-0', namespace: ns } }),
  });
  t.not(r.code, 0, `the eviction of the PD leader was refused: ${r.stdout.trim()}`);
  t.match(r.stderr, /TooManyRequests|Too Many Requests/, 'with 429');
  t.match(r.stderr, new RegExp(`${ns}/basic-pd-0 cannot go yet: .*basic-pd-2`), 'because basic-pd-2 is down');
  t.notMatch(r.stderr, /being deleted/, 'not taken for a teardown');
  const still = (await pods(ns)).find((p) => p.name === 'basic-pd-0');
  t.equal(still?.phase, 'Running', 'the PD leader pod is still there');
  t.equal(await pd.leader(), 'basic-pd-0', 'and still leads: no hand-over to a cluster one failure from losing quorum');
});

t.test('a PD pod pinned by its local volumes (two claims) to a node over the limit returns to that node, and an Event says why', async (t) => {
  const ns = 'e2e-h-pinned';
  const cleanup = await scratch(ns);
  t.teardown(cleanup);
  // After a scale-in and out, members 0 and 1 both have their data on node-a: the domain is over the limit.
  const homes = ['node-a', 'node-a', 'node-b'];
  // Two claims per member (data and raft log), both on local volumes of the member's node.
  const claims = ['pd', 'log'];
  const docs = homes.flatMap((node, i) =>
    claims.flatMap((claim) => [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${ns}-${claim}-${i}` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: '',
          persistentVolumeReclaimPolicy: 'Retain',
          hostPath: { path: `/var/lib/${claim}-${i}` },
          claimRef: { namespace: ns, name: `${claim}-basic-pd-${i}` },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
        },
      },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `${claim}-basic-pd-${i}`, namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: `${ns}-${claim}-${i}`, resources: { requests: { storage: '1Gi' } } } },
    ]),
  );
  t.teardown(() => kubectl(['delete', 'pv', ...homes.flatMap((_, i) => claims.map((c) => `${ns}-${c}-${i}`)), '--wait=false']).then(() => undefined));
  await kubectlOk(['apply', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  await until('the claims are bound', async () => (await kubectlOk(['get', 'pvc', '-n', ns, '-o', 'jsonpath={.items[*].status.phase}'])).trim() === Array(6).fill('Bound').join(' '), 60_000);
  const template = (name: string) => ({ metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } } });
  await kubectlOk(['apply', '-f', '-'], bareStatefulSet(ns, 3, { volumeClaimTemplates: claims.map(template) }));
  const placed = async () =>
    until('3 PD pods scheduled', async () => {
      const l = await pods(ns);
      return l.length === 3 && l.every((p) => p.node) ? l : null;
    }, 90_000);
  const first = await placed();
  t.same(Object.fromEntries(first.map((p) => [p.name, p.node])), { 'basic-pd-0': 'node-a', 'basic-pd-1': 'node-a', 'basic-pd-2': 'node-b' }, 'each member on the node that holds its data');
  const event = await until('the PlacedOverLimit Event', async () => {
    const out = await kubectlOk(['get', 'events', '-n', ns, '--field-selector', 'reason=PlacedOverLimit', '-o', 'jsonpath={.items[*].message}']);
    return out.trim() || null;
  }, 30_000);
  t.match(event, /node node-a already holds 1 of 3 PD members of cluster e2e-h-pinned\/basic \(at most 1 per kubernetes\.io\/hostname\); placed there anyway because the pod's data lives on that node \(PersistentVolume e2e-h-pinned-log-([01]) of claim log-basic-pd-\1 can only be used on node-a; PersistentVolume e2e-h-pinned-pd-\1 of claim pd-basic-pd-\1 can only be used on node-a\)/);

  // A restart of the pinned member (the escape hatch lets it go without PD here): it comes back to node-a.
  const oldUid = await uidOf(ns, 'pod', 'basic-pd-1');
  await kubectlOk(['annotate', 'pod', '-n', ns, 'basic-pd-1', 'tidb-steward.dev/skip-drain-check=true']);
  await kubectlOk(['delete', 'pod', '-n', ns, 'basic-pd-1', '--wait=false']);
  await until('basic-pd-1 recreated and scheduled', async () => {
    const uid = await uidOf(ns, 'pod', 'basic-pd-1').catch(() => oldUid);
    const p = (await pods(ns)).find((x) => x.name === 'basic-pd-1');
    return uid !== oldUid && p?.node ? p : null;
  }, 90_000);
  t.equal((await pods(ns)).find((x) => x.name === 'basic-pd-1')?.node, 'node-a', 'the restarted member returned to node-a');
});
