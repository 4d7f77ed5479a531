// Unit tests of the PD client against the PD stand-in and small servers that misbehave; the recorded
// PD traffic is replayed in fixtures.test.ts, and real pd-server runs in test/e2e when PD_BIN_DIR is set.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PdClient, PdError, parseJsonExact, pdEndpointsFor } from '../../src/pd/client.ts';
import { PdStandin } from '../pd-standin.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function server(t: { teardown(fn: () => unknown): void }, handler: Handler): Promise<string> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}

const json = (res: ServerResponse, status: number, text: string) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
};

t.test('uint64 ids survive parsing exactly', async (t) => {
  const v = parseJsonExact('{"member_id": 18446744073709551557, "small": 42, "f": 1.5}') as Record<string, unknown>;
  t.equal(v.member_id, '18446744073709551557');
  t.equal(v.small, 42);
  t.equal(v.f, 1.5);
});

t.test('every client call against the PD stand-in over HTTP: exact method, path and body', async (t) => {
  const sd = new PdStandin({ members: ['basic-pd-0', 'basic-pd-1'], stores: [{ id: 4, pod: 'basic-tikv-0', leaders: 17, regions: 50 }, { id: 5, pod: 'basic-tikv-1', leaders: 0, state: 'Tombstone' }] });
  const url = await sd.listen();
  t.teardown(() => sd.close());
  const pd = new PdClient({ endpoints: [url], timeoutMs: 1000 });
  const m = await pd.members();
  t.equal(m.members[0]?.member_id, '13147295245245421710', 'uint64 member_id kept exact');
  t.equal(m.leader?.name, 'basic-pd-0');
  t.same((await pd.health()).map((h) => [h.name, h.health]), [['basic-pd-0', true], ['basic-pd-1', true]]);
  const stores = await pd.stores();
  t.match(stores, [{ store: { id: '4', state_name: 'Up', labels: [{ key: 'pod', value: 'basic-tikv-0' }] }, status: { leader_count: 17 } }, { store: { id: '5', state_name: 'Tombstone' } }]);
  t.same(await pd.evictingStores(), [], 'no scheduler: nothing evicted (PD answers 404 and persisted none)');
  await pd.addEvictLeader('4');
  t.same(await pd.evictingStores(), ['4']);
  t.same(await pd.evictLeaderState(), { stores: ['4'], leader: 'basic-pd-0', reason: "PD's evict-leader scheduler holds store 4" });
  await pd.removeEvictLeader('4');
  await pd.removeEvictLeader('9');
  await pd.setStoreLabels('4', { zone: 'z-1' });
  await pd.transferLeader('basic-pd-1');
  await t.rejects(pd.transferLeader('nobody'), { message: /PD refused to transfer leadership to nobody: HTTP 500/ });
  const list = 'GET /pd/api/v1/scheduler-config/evict-leader-scheduler/list';
  const config = 'GET /pd/api/v1/config/schedule'; // a 404 means "none" only once PD's persisted config has none to restore
  t.same(sd.callLines(), [
    'GET /pd/api/v1/members',
    'GET /pd/api/v1/health',
    'GET /pd/api/v1/stores?state=0&state=1&state=2',
    list,
    config,
    list, // adding looks first: a POST would replace a scheduler a new leader has not restored yet
    config,
    'POST /pd/api/v1/schedulers',
    list,
    list,
    'GET /pd/api/v1/leader',
    'DELETE /pd/api/v1/schedulers/evict-leader-scheduler-4',
    'DELETE /pd/api/v1/schedulers/evict-leader-scheduler-9',
    list,
    config,
    'POST /pd/api/v1/store/4/label',
    'POST /pd/api/v1/leader/transfer/basic-pd-1',
    'POST /pd/api/v1/leader/transfer/nobody',
  ]);
  t.same(sd.calls.map((c) => c.status), [200, 200, 200, 404, 200, 404, 200, 200, 200, 200, 200, 200, 404, 404, 200, 200, 200, 500]);
  t.same(JSON.parse(sd.calls[7]!.body), { name: 'evict-leader-scheduler', store_id: 4 }, 'the scheduler body PD expects: store_id a number');
  t.same(JSON.parse(sd.calls[15]!.body), { zone: 'z-1' }, 'labels as PD reads them: one object of strings');
  t.same(sd.store(4)!.labels, [{ key: 'pod', value: 'basic-tikv-0' }, { key: 'zone', value: 'z-1' }]);
  t.equal(sd.leader, 'basic-pd-1', 'the transfer happened');
});

t.test('the stand-in answers only what PD serves: 405 for another method, 404 for another path', async (t) => {
  const sd = new PdStandin({ members: ['basic-pd-0'] });
  const table: Array<[string, string, number]> = [
    ['GET', '/pd/api/v1/leader/transfer/basic-pd-0', 405],
    ['PUT', '/pd/api/v1/leader/transfer/basic-pd-0', 405],
    ['GET', '/pd/api/v1/schedulers/evict-leader-scheduler-1', 405],
    ['POST', '/pd/api/v1/members', 405],
    ['DELETE', '/pd/api/v1/stores', 405],
    ['GET', '/pd/api/v1/no-such-thing', 404],
    ['GET', '/pd/api/v2/members', 404],
    ['GET', '/pd/api/v1/members', 200],
  ];
  for (const [method, path, status] of table) t.equal(sd.handle(method, path).status, status, `${method} ${path}`);
  t.equal(sd.handle('GET', '/nope').body, '404 page not found\n');
  t.equal(sd.handle('GET', '/pd/api/v1/leader/transfer/x').body, '', '405 has an empty body');
  // A client that used the wrong method would get 405 and fail: these are the mistakes to catch.
  const wrong = new PdClient({ endpoints: ['http://pd'], timeoutMs: 500, fetchImpl: ((u: string, init?: RequestInit) => sd.fetch(u, { ...init, method: init?.method === 'DELETE' ? 'GET' : init?.method === 'POST' ? 'PUT' : init?.method })) as typeof fetch });
  await t.rejects(wrong.removeEvictLeader('1'), { message: /HTTP 405/ });
  await t.rejects(wrong.transferLeader('basic-pd-0'), { message: /HTTP 405/ });
});

t.test('a member that does not answer is skipped within the deadline; the next one answers', async (t) => {
  const silent = await server(t, () => undefined);
  const ok = await server(t, (_req, res) => json(res, 200, '{"members":[],"leader":null}'));
  const pd = new PdClient({ endpoints: [silent, ok], timeoutMs: 200 });
  const started = Date.now();
  t.same(await pd.members(), { members: [], leader: null });
  t.ok(Date.now() - started < 1000, 'answered after one timeout');
  const again = Date.now();
  await pd.members();
  t.ok(Date.now() - again < 150, 'the member that answered is tried first next time');
});

t.test('PD down: a PdError naming every endpoint, within the deadline', async (t) => {
  const silent = await server(t, () => undefined);
  const pd = new PdClient({ endpoints: [silent, 'http://127.0.0.1:1'], timeoutMs: 150 });
  const started = Date.now();
  const err = await pd.members().then(() => null, (e: unknown) => e);
  t.ok(err instanceof PdError, 'a PdError');
  t.match((err as Error).message, /PD is unreachable \(.*no answer within 150 ms; http:\/\/127\.0\.0\.1:1: .*\)/);
  t.ok(Date.now() - started < 1000);
});

t.test('a follower answering 5xx is skipped; bad shapes and non-JSON are reported', async (t) => {
  const sick = await server(t, (_req, res) => json(res, 503, 'no leader'));
  const weird = await server(t, (req, res) => (req.url === '/pd/api/v1/health' ? json(res, 200, '{"not":"a list"}') : json(res, 200, '<html>')));
  t.match(await new PdClient({ endpoints: [sick, weird], timeoutMs: 500 }).health().catch((e: Error) => e.message), /unexpected shape/);
  t.match(await new PdClient({ endpoints: [weird], timeoutMs: 500 }).members().catch((e: Error) => e.message), /not JSON/);
  t.match(await new PdClient({ endpoints: [sick], timeoutMs: 500 }).members().catch((e: Error) => e.message), /HTTP 503/);
});

t.test('endpoints: override for tests, the PD Service otherwise', async (t) => {
  t.same(pdEndpointsFor('db', 'basic', {}), ['http://basic-pd.db.svc:2379']);
  t.same(pdEndpointsFor('db', 'basic', { 'db/basic': ['http://127.0.0.1:12379'] }), ['http://127.0.0.1:12379']);
});
