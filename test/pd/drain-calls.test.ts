// The PD calls disruption accounting adds: each member's own health in parallel with a short deadline
// (a member that hangs costs one deadline, not one per member), region checks, max-replicas.
import t from 'tap';
import { PdClient } from '../../src/pd/client.ts';

function fakeFetch(routes: Record<string, { status?: number; body?: string; hang?: boolean }>) {
  const calls: string[] = [];
  const headers: Array<string | null> = [];
  const impl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push(url);
    headers.push(new Headers(init?.headers).get('PD-Allow-follower-handle'));
    const r = routes[url] ?? { status: 404, body: '404 page not found' };
    if (r.hang) {
      // AbortSignal.timeout does not keep the process alive: this timer does, until the abort.
      const keep = setTimeout(() => undefined, 10_000);
      await new Promise((_, reject) =>
        init?.signal?.addEventListener('abort', () => {
          clearTimeout(keep);
          reject(Object.assign(new Error('aborted'), { name: 'TimeoutError' }));
        }),
      );
    }
    return new Response(r.body ?? '', { status: r.status ?? 200 });
  }) as typeof fetch;
  return { impl, calls, headers };
}

t.test('member health: every member asked at its own client URL, in parallel, within one deadline', async (t) => {
  const f = fakeFetch({
    'http://pd-0.peer:2379/pd/api/v1/ping': {},
    'http://pd-1.peer:2379/pd/api/v1/ping': { hang: true },
    'http://pd-2.peer:2379/pd/api/v1/ping': { status: 500 },
    'http://pd-3b.peer:2379/pd/api/v1/ping': {},
  });
  const pd = new PdClient({ endpoints: ['http://pd:2379'], timeoutMs: 1500, memberTimeoutMs: 200, fetchImpl: f.impl });
  const started = Date.now();
  const health = await pd.memberHealth([
    { name: 'pd-0', client_urls: ['http://pd-0.peer:2379'] },
    { name: 'pd-1', client_urls: ['http://pd-1.peer:2379'] },
    { name: 'pd-2', client_urls: ['http://pd-2.peer:2379/'] },
    { name: 'pd-3', client_urls: ['http://pd-3a.peer:2379', 'http://pd-3b.peer:2379'] },
    { name: 'pd-4', client_urls: [] },
  ]);
  const took = Date.now() - started;
  t.same(health, [
    { name: 'pd-0', healthy: true },
    { name: 'pd-1', healthy: false },
    { name: 'pd-2', healthy: false },
    { name: 'pd-3', healthy: true },
    { name: 'pd-4', healthy: false },
  ]);
  t.ok(took < 1000, `answered in ${took} ms with one member hanging (deadline 200 ms each, in parallel)`);
  t.notOk(f.calls.some((c) => c.endsWith('/health')), 'PD /health is not used');
  t.ok(f.headers.every((h) => h === 'true'), 'each member answers for itself (PD-Allow-follower-handle), not through the leader');
});

t.test('region checks and max-replicas', async (t) => {
  const f = fakeFetch({
    'http://pd:2379/pd/api/v1/regions/check/down-peer': { body: '{"count":1,"regions":[{"id":8,"peers":[{"id":9,"store_id":1},{"id":10,"store_id":4},{"id":11,"store_id":5}],"down_peers":[{"peer":{"id":10,"store_id":4},"down_seconds":700}]}]}' },
    'http://pd:2379/pd/api/v1/regions/check/miss-peer': { body: '{"count":0,"regions":[]}' },
    'http://pd:2379/pd/api/v1/regions/check/offline-peer': { body: '{"count":0,"regions":null}' },
    'http://pd:2379/pd/api/v1/config/replicate': { body: '{"max-replicas":5,"location-labels":""}' },
  });
  const pd = new PdClient({ endpoints: ['http://pd:2379'], timeoutMs: 1500, fetchImpl: f.impl });
  t.same(await pd.regionCheck('down-peer'), { count: 1, regions: [{ id: '8', peers: ['1', '4', '5'], down_peers: ['4'] }] });
  t.same(await pd.regionCheck('miss-peer'), { count: 0, regions: [] });
  t.same(await pd.regionCheck('offline-peer'), { count: 0, regions: [] });
  t.equal(await pd.maxReplicas(), 5);
  const broken = new PdClient({ endpoints: ['http://pd:2379'], timeoutMs: 1500, fetchImpl: fakeFetch({}).impl });
  await t.rejects(broken.regionCheck('down-peer'), /region check down-peer answered HTTP 404/);
});
