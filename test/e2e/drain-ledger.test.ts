// Two tidb-steward drain services (two instances in this process, as two replicas would be) reviewing
// at the same moment against the real API server: their decisions serialise through the cluster's
// DisruptionLedger, written with resourceVersion preconditions. PD is an in-process fake here (the
// question is the ledger, not PD); the e2e drain scenarios run the whole path.
import t from 'tap';
import { ensureUp } from './cluster.ts';
import { kubectl, kubectlOk, namespace, statefulSet } from './helpers.ts';
import { KUBECONFIG, applyStewardCrds } from '../cluster/controlplane.ts';
import { makeClients } from '../../src/k8s/client.ts';
import { kubeLedger, type LedgerPort } from '../../src/k8s/disruptions.ts';
import { kubeLivePods, kubeTeardown } from '../../src/k8s/teardown.ts';
import { DrainService } from '../../src/services/drain.ts';
import { makeNode, makePod, stores } from '../builders.ts';
import { FakeEvents, silentLogger } from '../fakes.ts';
import { DrainFakePd } from '../drain-fakes.ts';

t.setTimeout(300_000);
const NS = 'e2e-ledger';
const ROUNDS = 20;

t.before(async () => {
  await ensureUp();
  await applyStewardCrds();
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  // The owner StatefulSet exists (not being deleted), so no review is waved through as a teardown.
  await kubectlOk(['apply', '-f', '-'], statefulSet({ namespace: NS, cluster: 'race', component: 'pd', replicas: 0 }));
});

/** Counts the conflicts the API server answered, to show the race really happened. */
function counting(port: LedgerPort) {
  const c = { conflicts: 0, writes: 0 };
  const wrapped: LedgerPort = {
    ...port,
    read: (ns, cl) => port.read(ns, cl),
    async write(ns, cl, ledger, rv) {
      const ok = await port.write(ns, cl, ledger, rv);
      if (ok) c.writes++;
      else c.conflicts++;
      return ok;
    },
  };
  return { port: wrapped, c };
}

t.test(`two replicas, 5 PD members with one down, two removals at once: exactly one allowed in each of ${ROUNDS} rounds`, async (t) => {
  const clients = makeClients(KUBECONFIG, {});
  const names = [0, 1, 2, 3, 4].map((i) => `race-pd-${i}`);
  const s = stores({ nodes: [1, 2, 3, 4, 5].map((n) => makeNode(`n${n}`)), pods: names.map((n, i) => makePod(n).of(NS, 'race', 'pd').on(`n${i + 1}`).uid(`uid-${i}`).view()) });
  const pd = new DrainFakePd(names, 'race-pd-0');
  pd.silent.add('race-pd-4');
  const replica = (port: LedgerPort) =>
    new DrainService({ ...s, pdFor: () => pd, ledger: port, teardown: kubeTeardown(clients, 2000), livePods: kubeLivePods(clients), events: new FakeEvents(), metrics: { decision: () => undefined, waited: () => undefined }, logger: silentLogger, now: Date.now, evictTimeoutMs: 600_000, abandonAfterMs: 300_000 });
  const a = counting(kubeLedger(clients, 2000));
  const b = counting(kubeLedger(clients, 2000));
  const [ra, rb] = [replica(a.port), replica(b.port)];
  const evict = (name: string) => ({ namespace: NS, name, dryRun: false, via: 'eviction' as const });
  let racedRounds = 0;
  const timings: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await kubectl(['delete', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'race', '--ignore-not-found', '--wait=true']);
    const before = a.c.conflicts + b.c.conflicts;
    const started = Date.now();
    // Different pairs each round; both start together.
    const [x, y] = [names[1 + (round % 3)]!, names[1 + ((round + 1) % 3)]!];
    const [rx, ry] = await Promise.all([ra.reviewRemoval(evict(x)), rb.reviewRemoval(evict(y))]);
    timings.push(Date.now() - started);
    if (a.c.conflicts + b.c.conflicts > before) racedRounds++;
    const allowed = [rx, ry].filter((r) => r.allowed);
    t.equal(allowed.length, 1, `round ${round}: ${x} ${rx.allowed ? 'allowed' : 'waits'}, ${y} ${ry.allowed ? 'allowed' : 'waits'}`);
    const obj = JSON.parse(await kubectlOk(['get', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'race', '-o', 'json']));
    t.equal(obj.spec.leaving.length, 1, `round ${round}: the ledger in the API server holds the one allowed removal`);
    const waiting = [rx, ry].find((r) => !r.allowed);
    if (waiting && !waiting.allowed) t.match(waiting.message, /below the quorum of 3; waiting for race-pd-\d \((eviction|delete) allowed/);
  }
  t.ok(racedRounds > 0, `${racedRounds} of ${ROUNDS} rounds had a write conflict at the API server (the loser decided again)`);
  timings.sort((p, q) => p - q);
  t.comment(`conflicts: ${a.c.conflicts + b.c.conflicts} in ${racedRounds}/${ROUNDS} rounds; pair review time median ${timings[ROUNDS >> 1]} ms, max ${timings[ROUNDS - 1]} ms`);
});

t.test('the ledger round-trips through the API server and refuses a stale resourceVersion', async (t) => {
  const clients = makeClients(KUBECONFIG, {});
  const port = kubeLedger(clients, 2000);
  await kubectl(['delete', 'disruptionledgers.tidb-steward.dev', '-n', NS, 'rt', '--ignore-not-found', '--wait=true']);
  const first = await port.read(NS, 'rt');
  t.equal(first.resourceVersion, null);
  const ledger = { leaving: [{ component: 'tikv' as const, member: '4', pod: 'rt-tikv-0', podUid: 'u', since: Date.parse('2026-01-01T00:00:00Z') }], evictions: [{ storeId: '4', podUid: 'u', beganAt: Date.parse('2026-01-01T00:00:01Z'), cause: 'removal' as const }], seenEvictions: [] };
  t.equal(await port.write(NS, 'rt', ledger, null), true);
  t.equal(await port.write(NS, 'rt', ledger, null), false, 'a second create conflicts');
  const read = await port.read(NS, 'rt');
  t.same(read.ledger, ledger);
  t.equal(await port.write(NS, 'rt', { ...ledger, leaving: [] }, read.resourceVersion), true);
  t.equal(await port.write(NS, 'rt', ledger, read.resourceVersion), false, 'the version read before the last write is stale');
  t.match((await port.list()).find((c) => c.namespace === NS && c.cluster === 'rt'), { records: [{ storeId: '4' }] }, 'listed across namespaces');
});
