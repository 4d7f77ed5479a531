// Fenced leadership on the local control plane: two tidb-steward replicas run the controller's
// election (the main one serves only the webhooks here); the leader reaches the API server through a
// proxy that is then frozen (the API server unreachable for it alone, connections left open). It must
// stop acting within its renew deadline, by its own clock, before the other replica can take over;
// it sends no further write, not even once it can reach the API server again; the other replica takes
// over and acts on a TidbCluster change. Then the new leader is stopped with SIGTERM: it ends its
// controller before it gives the Lease up. A stale status write gets 409 from the real API server.
import t from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCluster, KUBECONFIG, PORTS, stewardEnv, type Cluster } from '../cluster/controlplane.ts';
import { REPO } from '../cluster/paths.ts';
import { logPath, start, stop } from '../cluster/procs.ts';
import { StatusConflictError } from '../../src/controller/fence.ts';
import { LEASE_TIMING } from '../../src/controller/leader.ts';
import { makeClients } from '../../src/k8s/client.ts';
import { controllerClients, writeStatus } from '../../src/k8s/tidbclusters.ts';
import { apiProxy, isWrite, type ApiProxy } from './api-proxy.ts';
import { kubectl, kubectlOk, kubectlWatch, namespace, sleep, until } from './helpers.ts';
import { PdFleet } from './pd-fleet.ts';
import { ensureVolumes, dropReleasedVolumes, getTc, installCrd, isReady, patchTc, stsReplicas, tidbCluster } from './tc-helpers.ts';

t.setTimeout(600_000);
const NS = 'e2e-fence';
const LEASE = ['-n', 'tidb-steward', 'tidb-steward-controller'];
const fleet = new PdFleet();
let cluster: Cluster;
let env: Record<string, string> = {};
let proxy: ApiProxy;
const figures: Record<string, string | number> = {};

interface LogLine {
  time: number;
  level: number;
  msg: string;
  [k: string]: unknown;
}
function logOf(name: string): LogLine[] {
  let text = '';
  try {
    text = readFileSync(logPath(name), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return null;
      }
    })
    .filter((l): l is LogLine => l !== null);
}

/** A tidb-steward replica with its own identity, port and (optionally) kubeconfig; log in .cluster/logs/<name>.log. */
async function replica(name: string, identity: string, portOffset: number, kubeconfig = KUBECONFIG): Promise<void> {
  await stop(name);
  // Each run starts a fresh log, so lines of an earlier run are not read as this one's.
  rmSync(logPath(name), { force: true });
  start(name, process.execPath, ['--max-semi-space-size=8', join(REPO, 'src', 'main.ts')], stewardEnv({ ...env, KUBECONFIG: kubeconfig, STEWARD_PORT: String(PORTS.steward + portOffset), POD_NAME: identity }));
}

t.before(async () => {
  await fleet.start();
  // Registered first: a failure below must not leave the stand-in's server holding the run open.
  t.teardown(() => fleet.stop());
  env = { STEWARD_PD_ENDPOINTS: fleet.stewardEndpoints([[NS, 'fence']]), STEWARD_PD_TIMEOUT_MS: '1000' };
  // The main replica keeps serving the webhooks, without campaigning: the two replicas below do.
  cluster = await ensureCluster({ stewardEnv: { ...env, STEWARD_CONTROLLER: 'false' } });
  await fleet.follow(KUBECONFIG);
  await installCrd();
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
  await dropReleasedVolumes();
  await ensureVolumes(8, '1Gi', `e2e-fence-${Date.now().toString(36)}`);
  proxy = await apiProxy('fence-b');
  t.teardown(() => proxy.close());
  t.teardown(async () => {
    await stop('tidb-steward-fence-b', 1000);
    await stop('tidb-steward-fence-c', 8000);
  });
});

t.teardown(() => t.comment(`figures: ${JSON.stringify(figures)}`));

const holder = async () => (await kubectl(['get', 'lease', ...LEASE, '-o', 'jsonpath={.spec.holderIdentity}'])).stdout.trim();

t.test('the leader cut off from the API server stops acting within its renew deadline; the other replica takes over', async (t) => {
  // B reaches the API server only through the proxy.
  await replica('tidb-steward-fence-b', 'steward-b', 60, proxy.kubeconfig);
  // A Lease left by an earlier replica expires first (at most a lease duration and a retry).
  await until('steward-b holds the Lease', async () => (await holder()) === 'steward-b', 40_000, 250);
  await cluster.apply(tidbCluster(NS, 'fence', { pvReclaimPolicy: 'Delete' }));
  const readyStarted = Date.now();
  await until('the TidbCluster Ready (reconciled by steward-b)', () => isReady(NS, 'fence'), 240_000, 500);
  figures.createToReadySeconds = ((Date.now() - readyStarted) / 1000).toFixed(1);
  const bWrites = proxy.requests.filter((r) => isWrite(r) && r.status !== null && /tidbclusters|statefulsets/.test(r.path));
  t.ok(bWrites.length > 0, `steward-b wrote the cluster's objects through the proxy (${bWrites.length} writes)`);

  await replica('tidb-steward-fence-c', 'steward-c', 70);
  await sleep(4000);
  t.equal(await holder(), 'steward-b', 'steward-c waits while steward-b renews');

  // The Lease holder, sampled by a watch.
  const holders: Array<{ at: number; holder: string }> = [];
  const watch = kubectlWatch(['get', 'lease', ...LEASE, '--watch', '-o', 'jsonpath={.spec.holderIdentity}{"\\n"}'], (line) => holders.push({ at: Date.now(), holder: line.trim() }));
  t.teardown(() => watch.stop());
  await sleep(1000);

  // The last renewal of steward-b that got through, and the freeze.
  const leaseCalls = () => proxy.requests.filter((r) => r.path.includes('/leases/tidb-steward-controller'));
  proxy.freeze();
  const frozeAt = Date.now();
  const renewed = leaseCalls().filter((r) => r.method === 'PUT' && r.status === 200 && r.at < frozeAt);
  const lastPut = renewed.at(-1)!;
  // The attempt began with the GET before that PUT.
  const lastAttempt = leaseCalls().filter((r) => r.method === 'GET' && r.at <= lastPut.at).at(-1)!;
  t.comment(`froze steward-b's API access; its last successful renew began ${frozeAt - lastAttempt.at} ms before`);

  const stopped = await until('steward-b says it stopped acting', async () => logOf('tidb-steward-fence-b').find((l) => l.time >= frozeAt - 100 && /stopped acting as the leader \(renew deadline passed\)/.test(l.msg)), 20_000, 100);
  figures.freezeToStoppedActingMs = stopped.time - frozeAt;
  figures.lastRenewToStoppedActingMs = stopped.time - lastAttempt.at;
  await until('steward-c holds the Lease', async () => holders.some((h) => h.holder === 'steward-c'), 30_000, 100);
  const takeover = holders.find((h) => h.holder === 'steward-c')!;
  figures.freezeToTakeoverMs = takeover.at - frozeAt;
  const cLeads = logOf('tidb-steward-fence-c').find((l) => /became the leader/.test(l.msg));
  if (cLeads) figures.freezeToNewLeaderLogMs = cLeads.time - frozeAt;

  t.ok(stopped.time - lastAttempt.at <= LEASE_TIMING.renewDeadlineMs + 300, `steward-b stopped ${stopped.time - lastAttempt.at} ms after its last successful renew began (renew deadline ${LEASE_TIMING.renewDeadlineMs} ms)`);
  t.ok(stopped.time - frozeAt <= LEASE_TIMING.renewDeadlineMs + 300, `and ${stopped.time - frozeAt} ms after the freeze`);
  t.ok(stopped.time < takeover.at, `it stopped before steward-c took over (${takeover.at - stopped.time} ms before)`);
  t.ok(cLeads && stopped.time < cLeads.time, 'steward-c started its controller after steward-b had stopped');

  // The API server reachable again for steward-b: it must not act (steward-c holds the Lease).
  await sleep(2000);
  proxy.thaw();
  const thawedAt = Date.now();
  t.comment('steward-b can reach the API server again');

  // steward-c acts on a change.
  await patchTc(NS, 'fence', { spec: { tidb: { replicas: 3 } } });
  await until('the new leader acts: TiDB at 3', async () => (await stsReplicas(NS, 'fence-tidb')) === 3, 60_000, 250);
  await until('Ready at the new generation', () => isReady(NS, 'fence'), 60_000, 500);
  await sleep(4000);

  const forwardedAfterStop = proxy.requests.filter((r) => isWrite(r) && !r.held && r.at >= stopped.time);
  t.same(forwardedAfterStop.map((r) => `${r.method} ${r.path}`), [], 'steward-b sent no write after it stopped acting (frozen, then thawed)');
  const bLog = logOf('tidb-steward-fence-b').filter((l) => l.time > stopped.time);
  t.notOk(bLog.some((l) => /became the leader/.test(l.msg)), 'steward-b did not lead again');
  const afterThaw = proxy.requests.filter((r) => r.at >= thawedAt);
  t.ok(afterThaw.some((r) => r.path.includes('/leases/tidb-steward-controller') && r.status === 200), 'steward-b reads the Lease again after the thaw');
  t.equal(await holder(), 'steward-c');
  figures.heldRequestsWhileFrozen = proxy.requests.filter((r) => r.held).length;
});

t.test('a status write with a stale resourceVersion gets 409 from the API server; one field manager writes the status', async (t) => {
  const tc = JSON.parse(await kubectlOk(['get', 'tidbcluster', '-n', NS, 'fence', '-o', 'json', '--show-managed-fields']));
  const cc = controllerClients(makeClients(KUBECONFIG, {}));
  const stale = String(Number(tc.metadata.resourceVersion) - 1);
  await t.rejects(writeStatus(cc, NS, 'fence', { ...tc.status, phase: 'Failed' }, stale), StatusConflictError);
  t.not((await getTc(NS, 'fence')).status.phase, 'Failed', 'the status is unchanged');
  const managers = (tc.metadata.managedFields as Array<{ manager: string; operation: string; subresource?: string }>).filter((m) => m.subresource === 'status');
  t.same([...new Set(managers.map((m) => m.manager))], ['tidb-steward'], `status managed by: ${JSON.stringify(managers.map((m) => `${m.manager}/${m.operation}`))}`);
});

t.test('the leader stopped with SIGTERM ends its controller before it gives the Lease up', async (t) => {
  // The TidbCluster goes first, while a controller runs to take its finalizer off.
  await kubectlOk(['delete', 'tidbcluster', '-n', NS, 'fence', '--wait=true', '--timeout=90s']);
  const began = Date.now();
  await stop('tidb-steward-fence-c', 15_000);
  figures.sigtermToExitMs = Date.now() - began;
  const log = logOf('tidb-steward-fence-c').filter((l) => l.time >= began - 50);
  const stoppedAt = log.findIndex((l) => /TidbCluster controller stopped/.test(l.msg));
  const releasedAt = log.findIndex((l) => /giving the lease up/.test(l.msg));
  t.ok(stoppedAt >= 0 && releasedAt > stoppedAt, `controller stopped, then the Lease given up: ${log.map((l) => l.msg).join(' | ')}`);
  t.not(await holder(), 'steward-c', 'the Lease no longer names steward-c');
});
