// Unit tests of the PD client against an in-process HTTP server; the real pd-server is exercised in
// test/e2e.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PdClient, PdError, parseJsonExact, pdEndpointsFor } from '../../src/pd/client.ts';

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

t.test('members, health, stores and evict-leader calls with real shapes', async (t) => {
  const calls: string[] = [];
  const url = await server(t, (req, res, body) => {
    calls.push(`${req.method} ${req.url} ${body}`);
    if (req.url === '/pd/api/v1/members') return json(res, 200, '{"header":{"cluster_id":7441234567890123456},"members":[{"name":"basic-pd-0","member_id":13147295245245421712,"peer_urls":["http://127.0.0.1:12380"],"client_urls":["http://127.0.0.1:12379"]}],"leader":{"name":"basic-pd-0","member_id":13147295245245421712}}');
    if (req.url === '/pd/api/v1/health') return json(res, 200, '[{"name":"basic-pd-0","member_id":13147295245245421712,"client_urls":["http://127.0.0.1:12379"],"health":true}]');
    if (req.url?.startsWith('/pd/api/v1/stores')) return json(res, 200, '{"count":1,"stores":[{"store":{"id":4,"address":"mock:://tikv-4","labels":[{"key":"pod","value":"basic-tikv-0"}],"state_name":"Up","last_heartbeat":1795364995705123456},"status":{"leader_count":17,"region_count":50}}]}');
    if (req.url === '/pd/api/v1/scheduler-config/evict-leader-scheduler/list') return json(res, 200, '{"store-id-ranges":{"4":[{"start-key":"","end-key":""}]},"batch":3}');
    if (req.url === '/pd/api/v1/schedulers' && req.method === 'POST') return json(res, 200, '"The scheduler is created."');
    if (req.url === '/pd/api/v1/schedulers/evict-leader-scheduler-9') return json(res, 500, '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"');
    if (req.url?.startsWith('/pd/api/v1/schedulers/evict-leader-scheduler-')) return json(res, 200, '"The scheduler is removed."');
    if (req.url === '/pd/api/v1/leader/transfer/basic-pd-1') return json(res, 200, '"The transfer command is submitted."');
    if (req.url === '/pd/api/v1/leader/transfer/nobody') return json(res, 500, '"[PD:server:ErrServerNotFound]..."');
    json(res, 404, '"not found"');
  });
  const pd = new PdClient({ endpoints: [url], timeoutMs: 1000 });
  const m = await pd.members();
  t.equal(m.members[0]?.member_id, '13147295245245421712');
  t.equal(m.leader?.name, 'basic-pd-0');
  t.same(await pd.health(), [{ name: 'basic-pd-0', member_id: 13147295245245421712, client_urls: ['http://127.0.0.1:12379'], health: true }].map((h) => ({ ...h, member_id: '13147295245245421712' })));
  const [store] = await pd.stores();
  t.match(store, { store: { id: '4', state_name: 'Up', labels: [{ key: 'pod', value: 'basic-tikv-0' }] }, status: { leader_count: 17 } });
  t.same(await pd.evictingStores(), ['4']);
  await pd.addEvictLeader('4');
  t.match(calls.find((c) => c.startsWith('POST /pd/api/v1/schedulers')), /"name":"evict-leader-scheduler","store_id":4/);
  await pd.removeEvictLeader('4');
  await pd.removeEvictLeader('9');
  await pd.transferLeader('basic-pd-1');
  await t.rejects(pd.transferLeader('nobody'), { message: /PD refused to transfer leadership to nobody: HTTP 500/ });
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
