// No controller write lands once this replica may have lost its Lease: every write runs under its
// act signal (the term's fence and a deadline of the Lease duration minus the renew deadline), and the
// Kubernetes and PD clients abort the request on it. A fake API holds writes past the deadline and
// lands one only if its request was not aborted by then, as a server does with a request the client
// cancelled before it was taken.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { actSignal, withActSignal } from '../../src/act.ts';
import { actDeadlineMs, ActDeadlineError, fenced, FencedError } from '../../src/controller/fence.ts';
import { LEASE_TIMING } from '../../src/controller/leader.ts';
import { apply, controllerClients, writeStatus } from '../../src/k8s/tidbclusters.ts';
import type { KubeClients } from '../../src/k8s/client.ts';
import { PdClient } from '../../src/pd/client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the act deadline is the Lease duration minus the renew deadline; timings that leave none are refused', async (t) => {
  t.equal(actDeadlineMs(LEASE_TIMING), 3000, 'the default timings: 10 s lease, 7 s renew deadline');
  t.equal(actDeadlineMs({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000 }), 5000, "controller-runtime's timings");
  for (const timing of [{ leaseDurationMs: 7000, renewDeadlineMs: 7000 }, { leaseDurationMs: 5000, renewDeadlineMs: 7000 }]) {
    t.throws(() => actDeadlineMs(timing), /the Lease duration \(\d+ ms\) must be longer than the renew deadline \(7000 ms\): the difference bounds every controller write/, `${timing.leaseDurationMs}/${timing.renewDeadlineMs} refused`);
  }
});

/** A fake API: a write is held `holdMs`, then lands unless the request's signal was aborted meanwhile. */
function fakeApi(holdMs: number) {
  const landed: string[] = [];
  const abandoned: string[] = [];
  const port = {
    async write(what: string): Promise<void> {
      const signal = actSignal();
      await sleep(holdMs);
      if (signal?.aborted) abandoned.push(what);
      else landed.push(what);
    },
    async read(): Promise<string> {
      await sleep(holdMs);
      return 'facts';
    },
  };
  return { port, landed, abandoned };
}

t.test('a write held past the act deadline is abandoned: the call fails at the deadline and the write never lands', async (t) => {
  const api = fakeApi(300);
  const p = fenced(api.port, () => undefined, { port: 'io', term: () => null, writeDeadlineMs: 60, reads: new Set(['read']) });
  const began = Date.now();
  await t.rejects(p.write('apply StatefulSet/basic-tikv'), ActDeadlineError);
  const took = Date.now() - began;
  t.ok(took >= 55 && took < 250, `failed after ${took} ms (deadline 60 ms), not when the API answered (300 ms)`);
  await sleep(350);
  t.same(api.landed, [], 'nothing landed');
  t.same(api.abandoned, ['apply StatefulSet/basic-tikv'], 'the request saw its signal aborted');
  t.equal(await p.read(), 'facts', 'a read is not held to the write deadline');
});

t.test('a write in flight when the term ends is abandoned at once (FencedError), also before its deadline', async (t) => {
  const api = fakeApi(300);
  const term = new AbortController();
  const p = fenced(api.port, () => undefined, { port: 'pd', term: () => term.signal, writeDeadlineMs: 10_000 });
  const call = p.write('pd evict 4');
  await sleep(20);
  term.abort(new Error('renew deadline passed'));
  await t.rejects(call, FencedError);
  await sleep(350);
  t.same(api.landed, [], 'nothing landed');
});

t.test('a write that finishes within the deadline lands and resolves', async (t) => {
  const api = fakeApi(10);
  const p = fenced(api.port, () => undefined, { port: 'io', term: () => new AbortController().signal, writeDeadlineMs: 500 });
  await p.write('status');
  t.same(api.landed, ['status']);
});

t.test('the Kubernetes client aborts a controller write on its act signal, whatever its own timeout', async (t) => {
  const requests: Array<{ method: string; closedAfterMs: number | null }> = [];
  const server = createServer((req, res) => {
    const began = Date.now();
    const r = { method: req.method!, closedAfterMs: null as number | null };
    requests.push(r);
    req.socket.on('close', () => (r.closedAfterMs = Date.now() - began));
    // Accepts and never answers.
    void res;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  const clients = { kc, core: kc.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api), apps: kc.makeApiClient((await import('@kubernetes/client-node')).AppsV1Api) } as KubeClients;
  const cc = controllerClients(clients);
  const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'basic-tikv', namespace: 'db' }, spec: {} } as never;
  for (const [what, write] of [['server-side apply', () => apply(clients, cc, sts)], ['status write', () => writeStatus(cc, 'db', 'basic', { phase: 'Normal' }, '5')]] as const) {
    const began = Date.now();
    const outcome = await withActSignal(AbortSignal.timeout(100), () => write().then(() => 'answered', () => 'failed'));
    const took = Date.now() - began;
    t.equal(outcome, 'failed', `${what} fails`);
    t.ok(took >= 90 && took < 2000, `${what} ended after ${took} ms (act deadline 100 ms, its own timeout 10 s)`);
  }
  await sleep(50);
  t.same(requests.map((r) => r.method), ['PATCH', 'PUT']);
  t.ok(requests.every((r) => r.closedAfterMs !== null && r.closedAfterMs < 2000), `the requests were aborted (connection closed after ${requests.map((r) => r.closedAfterMs).join(', ')} ms)`);
});

t.test('the PD client aborts a write on its act signal and tries no other endpoint; reads keep their own timeout', async (t) => {
  const seen: Array<{ url: string; method: string; aborted: () => boolean }> = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const signal = init!.signal!;
    seen.push({ url: String(input), method: init?.method ?? 'GET', aborted: () => signal.aborted });
    // A read is answered after 150 ms; a write never is.
    if ((init?.method ?? 'GET') === 'GET') {
      await sleep(150);
      if (signal.aborted) throw signal.reason;
      return new Response(JSON.stringify({ 'max-replicas': 3 }), { status: 200, headers: { 'content-type': 'application/json' } });
    }
    await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    throw new Error('unreachable');
  }) as typeof fetch;
  const pd = new PdClient({ endpoints: ['http://pd-0:2379', 'http://pd-1:2379'], timeoutMs: 5000, fetchImpl });
  // AbortSignal.timeout does not keep the process alive; the process it runs in has other handles.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  const began = Date.now();
  await t.rejects(withActSignal(AbortSignal.timeout(80), () => pd.removeEvictLeader('4')), /abandoned/);
  const took = Date.now() - began;
  t.ok(took < 1000, `the DELETE ended after ${took} ms (act deadline 80 ms, PD timeout 5 s)`);
  t.same(seen.map((s) => `${s.method} ${s.url}`), ['DELETE http://pd-0:2379/pd/api/v1/schedulers/evict-leader-scheduler-4'], 'one request, no other endpoint tried');
  t.ok(seen[0]!.aborted(), 'its request was aborted');
  seen.length = 0;
  const read = await withActSignal(AbortSignal.timeout(30), () => pd.maxReplicas().catch((e: Error) => e.message));
  t.equal(read, 3, 'a read made for an act is not aborted by it (a PD snapshot may be shared with a drain)');
  t.ok(seen.length === 1 && !seen[0]!.aborted());
});
