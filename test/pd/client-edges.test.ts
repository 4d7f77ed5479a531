// The PD client's edges through an injected fetch: endpoint failover and its memory, deadlines,
// exact requests (method, URL, headers, body), PD's error answers read the way PD words them, and the
// defaults of PD's optional fields. The wire against a PD-shaped server is in client.test.ts.
import t from 'tap';
import { PdClient, PdError, pdEndpointsFor } from '../../src/pd/client.ts';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

type Answer = { status: number; text: string } | 'refuse' | 'hang';

/** A fetch that records each request and answers from the script, per URL prefix. */
function fakeFetch(script: (url: string, call: number) => Answer) {
  const calls: Call[] = [];
  const impl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, method: init?.method ?? 'GET', headers: { ...(init?.headers as Record<string, string>) }, body: init?.body as string | undefined });
    const answer = script(url, calls.length);
    if (answer === 'refuse') throw new TypeError('fetch failed');
    if (answer === 'hang') {
      // AbortSignal.timeout's timer does not keep the process alive; this one does until the abort.
      const alive = setInterval(() => undefined, 1000);
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener('abort', () => {
          clearInterval(alive);
          reject(init.signal!.reason);
        }),
      );
    }
    return new Response(answer.text, { status: answer.status });
  }) as typeof fetch;
  return { calls, impl };
}

/** The HTTP status of the PdError a call rejects with (undefined if it resolves). */
const statusOf = async (p: Promise<unknown>) => ((await p.then(() => undefined, (e: unknown) => e)) as PdError | undefined)?.status;
/** The message of the error a call rejects with, compared whole (t.rejects matches substrings). */
const messageOf = async (p: Promise<unknown>) => ((await p.then(() => undefined, (e: unknown) => e)) as Error | undefined)?.message;
const ok = (text: unknown) => ({ status: 200, text: typeof text === 'string' ? text : JSON.stringify(text) });
/** 400 characters: more than any message quotes of PD's answer. */
const long = (c: string) => c.repeat(400);
const MEMBERS = { members: [{ name: 'basic-pd-0', member_id: 1 }], leader: { name: 'basic-pd-0' } };

t.test('a client needs an endpoint', async (t) => {
  t.throws(() => new PdClient({ endpoints: [], timeoutMs: 10 }), /at least one endpoint/);
});

t.test('failover: an unreachable member is skipped, and the one that answered is asked first next time', async (t) => {
  const f = fakeFetch((url) => (url.startsWith('http://a') ? 'refuse' : ok(MEMBERS)));
  const pd = new PdClient({ endpoints: ['http://a:2379/', 'http://b:2379//'], timeoutMs: 100, fetchImpl: f.impl });
  t.equal((await pd.members()).leader?.name, 'basic-pd-0');
  await pd.health().catch(() => undefined);
  t.same(f.calls.map((c) => c.url), ['http://a:2379/pd/api/v1/members', 'http://b:2379/pd/api/v1/members', 'http://b:2379/pd/api/v1/health'], 'trailing slashes dropped; b first once it answered');
  t.same(pd.endpoints, ['http://a:2379/', 'http://b:2379//']);
});

t.test('a 5xx from one member sends the call to the next; from the last it is the answer', async (t) => {
  const f = fakeFetch((url) => (url.startsWith('http://a') ? { status: 503, text: 'not leader' } : { status: 500, text: 'x'.repeat(1000) }));
  const pd = new PdClient({ endpoints: ['http://a', 'http://b'], timeoutMs: 100, fetchImpl: f.impl });
  const err = (await pd.members().catch((e: unknown) => e)) as PdError;
  t.ok(err instanceof PdError);
  t.equal(err.status, 500);
  t.equal(err.message, `PD GET /pd/api/v1/members answered HTTP 500: ${'x'.repeat(300)}`, 'PD\'s own words, cut at 300 characters');
  t.equal(f.calls.length, 2);
  // 4xx is PD's considered answer: no failover.
  const g = fakeFetch(() => ({ status: 400, text: 'bad' }));
  t.equal(await statusOf(new PdClient({ endpoints: ['http://a', 'http://b'], timeoutMs: 100, fetchImpl: g.impl }).members()), 400);
  t.equal(g.calls.length, 1);
  // 2xx other than 200 is success for reads.
  // Exactly 500 from a follower also sends the call on.
  const j = fakeFetch((url) => (url.startsWith('http://a') ? { status: 500, text: 'no leader' } : ok(MEMBERS)));
  t.equal((await new PdClient({ endpoints: ['http://a', 'http://b'], timeoutMs: 100, fetchImpl: j.impl }).members()).members.length, 1);
  const h = fakeFetch(() => ({ status: 299, text: JSON.stringify(MEMBERS) }));
  t.equal((await new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: h.impl }).members()).members.length, 1);
  const i = fakeFetch(() => ({ status: 300, text: JSON.stringify(MEMBERS) }));
  t.equal(await statusOf(new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: i.impl }).members()), 300);
});

t.test('nobody answers: one error naming every endpoint and why', async (t) => {
  const f = fakeFetch((url) => (url.startsWith('http://a') ? 'refuse' : url.startsWith('http://b') ? 'hang' : { status: 502, text: 'y'.repeat(500) }));
  const pd = new PdClient({ endpoints: ['http://a', 'http://b', 'http://c'], timeoutMs: 30, fetchImpl: f.impl });
  const err = (await pd.members().catch((e: unknown) => e)) as PdError;
  t.equal(err.status, 502, 'the last member\'s 5xx is its answer');
  const g = fakeFetch((url) => (url.startsWith('http://a') ? { status: 503, text: 'z'.repeat(500) } : url.startsWith('http://b') ? 'hang' : 'refuse'));
  const pd2 = new PdClient({ endpoints: ['http://a', 'http://b', 'http://c'], timeoutMs: 30, fetchImpl: g.impl });
  const err2 = (await pd2.members().catch((e: unknown) => e)) as PdError;
  t.equal(err2.message, `PD is unreachable (http://a: HTTP 503 ${'z'.repeat(200)}; http://b: no answer within 30 ms; http://c: fetch failed)`);
  t.equal(err2.status, undefined);
});

t.test('requests: GETs carry no body, POSTs a JSON body with its content type', async (t) => {
  const f = fakeFetch(() => ok('{}'));
  const pd = new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: f.impl });
  await pd.addEvictLeader('18');
  await pd.transferLeader('basic pd/1');
  await pd.removeEvictLeader('18');
  await pd.stores();
  t.same(f.calls, [
    { url: 'http://a/pd/api/v1/schedulers', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"evict-leader-scheduler","store_id":18}' },
    { url: 'http://a/pd/api/v1/leader/transfer/basic%20pd%2F1', method: 'POST', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/schedulers/evict-leader-scheduler-18', method: 'DELETE', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/stores?state=0&state=1&state=2', method: 'GET', headers: {}, body: undefined },
  ]);
});

t.test('answers that are not what PD sends are errors that say so', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  t.equal(await messageOf(pd(ok('<html>' + 'h'.repeat(400))).members()), `PD GET /pd/api/v1/members answered with text that is not JSON: <html>${'h'.repeat(194)}`);
  t.equal(await statusOf(pd(ok('<html>' + 'h'.repeat(400))).members()), 200);
  await t.rejects(pd(ok({ members: [{ id: 1 }] })).members(), { message: /^PD GET \/pd\/api\/v1\/members answered an unexpected shape: Invalid input: expected string, received undefined$/ });
  await t.rejects(pd(ok([])).members(), { message: /answered an unexpected shape: /, status: 200 });
  await t.rejects(pd(ok({ 'store-id-ranges': 5 })).evictingStores(), { message: 'PD evict-leader list has an unexpected shape' });
});

t.test('schedulersLoaded: false only when PD lists no scheduler at all (a new leader before it restored them)', async (t) => {
  const f = (a: Answer) => fakeFetch(() => a);
  const recorded = f(ok([]));
  t.equal(await new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: recorded.impl }).schedulersLoaded(), false, '[] as real PD answers in its first seconds as leader');
  t.same(recorded.calls.map((c) => `${c.method} ${c.url}`), ['GET http://a/pd/api/v1/schedulers']);
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: f(a).impl });
  t.equal(await pd(ok(['balance-leader-scheduler', 'evict-leader-scheduler'])).schedulersLoaded(), true);
  t.equal(await pd({ status: 404, text: '404 page not found' }).schedulersLoaded(), true, 'a PD without the list gives no sign');
  t.equal(await pd(ok({ not: 'a list' })).schedulersLoaded(), true);
  t.equal(await messageOf(pd(ok('<html>' + long('h'))).schedulersLoaded()), `PD scheduler list answered with text that is not JSON: <html>${'h'.repeat(194)}`);
  t.equal(await statusOf(pd(ok('<html>')).schedulersLoaded()), 200);
});

t.test('"no evict-leader scheduler" from a PD leader that has not restored its schedulers is not an answer', async (t) => {
  // Real PD v8.5 in its first seconds as leader: the list and the DELETE answer 404, GET /schedulers [].
  const fresh = fakeFetch((url) => (url.endsWith('/pd/api/v1/schedulers') ? ok([]) : { status: 404, text: '404 page not found' }));
  const pd = new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fresh.impl });
  const why = "PD's leader has not restored its schedulers yet (it lists none); try again in a few seconds";
  t.equal(await messageOf(pd.evictingStores()), `PD evict-leader list: ${why}`);
  t.equal(await messageOf(pd.removeEvictLeader('3')), `stopping the leader eviction of store 3: ${why}`);
  t.equal(await statusOf(pd.removeEvictLeader('3')), 503);
  t.same(fresh.calls.slice(0, 4).map((c) => `${c.method} ${c.url}`), [
    'GET http://a/pd/api/v1/scheduler-config/evict-leader-scheduler/list',
    'GET http://a/pd/api/v1/schedulers',
    'DELETE http://a/pd/api/v1/schedulers/evict-leader-scheduler-3',
    'GET http://a/pd/api/v1/schedulers',
  ]);
  // Once it lists them, the same 404s mean "none".
  const restored = fakeFetch((url) => (url.endsWith('/pd/api/v1/schedulers') ? ok(['balance-leader-scheduler']) : { status: 404, text: '404 page not found' }));
  const later = new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: restored.impl });
  t.same(await later.evictingStores(), []);
  await later.removeEvictLeader('3');
  t.pass('the DELETE of an absent entry is done');
});

t.test('evict-leader list: absent scheduler in each way PD says it, or the ids', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  t.same(await pd({ status: 404, text: 'whatever' }).evictingStores(), []);
  t.same(await pd({ status: 500, text: '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"' }).evictingStores(), []);
  t.same(await pd({ status: 500, text: 'the scheduler does not exist' }).evictingStores(), []);
  t.same(await pd({ status: 500, text: "it doesn't exist" }).evictingStores(), []);
  t.equal(await messageOf(pd({ status: 500, text: 'etcd timeout ' + 'e'.repeat(400) }).evictingStores()), `PD evict-leader list answered HTTP 500: etcd timeout ${'e'.repeat(287)}`);
  t.equal(await statusOf(pd({ status: 500, text: 'etcd timeout ' + 'e'.repeat(400) }).evictingStores()), 500);
  t.equal(await statusOf(pd({ status: 403, text: 'not found' }).evictingStores()), 403, 'only a 500 is read for "not found"');
  t.same(await pd(ok('{"store-id-ranges":{"4":[],"18446744073709551615":[]}}')).evictingStores(), ['4', '18446744073709551615']);
  t.same(await pd(ok({})).evictingStores(), [], 'no ranges field: none');
  t.equal(await messageOf(pd(ok('<html>' + long('h'))).evictingStores()), `PD evict-leader list answered with text that is not JSON: <html>${'h'.repeat(194)}`);
  t.ok((await pd(ok('<html>')).evictingStores().catch((e: unknown) => e)) instanceof PdError);
});

t.test('ending an eviction is idempotent, refusing anything else', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  await pd(ok('"The scheduler is removed."')).removeEvictLeader('4');
  await pd({ status: 404, text: '' }).removeEvictLeader('4');
  await pd({ status: 500, text: '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"' }).removeEvictLeader('4');
  t.equal(await messageOf(pd({ status: 500, text: 'etcd ' + 'e'.repeat(400) }).removeEvictLeader('4')), `PD refused to stop evicting leaders from store 4: HTTP 500 etcd ${'e'.repeat(295)}`);
  t.equal(await statusOf(pd({ status: 500, text: 'etcd ' + 'e'.repeat(400) }).removeEvictLeader('4')), 500);
  t.equal(await statusOf(pd({ status: 400, text: 'not found' }).removeEvictLeader('4')), 400);
  t.equal(await statusOf(pd({ status: 201, text: '' }).removeEvictLeader('4')), 201, 'only 200 is success');
});

t.test('adding an eviction and moving leadership: only 200 is success', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  t.equal(await messageOf(pd({ status: 400, text: 'b'.repeat(400) }).addEvictLeader('4')), `PD refused to evict leaders from store 4: HTTP 400 ${'b'.repeat(300)}`);
  t.equal(await statusOf(pd({ status: 400, text: 'b'.repeat(400) }).addEvictLeader('4')), 400);
  t.equal(await statusOf(pd({ status: 201, text: '' }).addEvictLeader('4')), 201);
  t.equal(await messageOf(pd({ status: 500, text: 't'.repeat(400) }).transferLeader('basic-pd-1')), `PD refused to transfer leadership to basic-pd-1: HTTP 500 ${'t'.repeat(300)}`);
  t.equal(await statusOf(pd({ status: 500, text: 't'.repeat(400) }).transferLeader('basic-pd-1')), 500);
  t.equal(await statusOf(pd({ status: 202, text: '' }).transferLeader('basic-pd-1')), 202);
});

t.test('PD\'s optional fields get their defaults', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  t.same(await pd(ok({ stores: [{ store: { id: 7 } }] })).stores(), [{ store: { id: '7', address: '', state_name: 'Up', labels: [] }, status: { leader_count: 0, region_count: 0 } }]);
  t.same(await pd(ok({ stores: [{ store: { id: 7, labels: null }, status: {} }] })).stores(), [{ store: { id: '7', address: '', state_name: 'Up', labels: [] }, status: { leader_count: 0, region_count: 0 } }]);
  t.same(await pd(ok({ stores: null })).stores(), []);
  t.same(await pd(ok({ count: 0 })).stores(), []);
  t.same(await pd(ok({ members: null })).members(), { members: [] });
  t.same(await pd(ok({ members: [{ name: 'm', client_urls: null, peer_urls: ['http://p'] }], leader: null })).members(), { members: [{ name: 'm', client_urls: null, peer_urls: ['http://p'] }], leader: null });
  t.same(await pd(ok([{ name: 'm', health: true, extra: 1 }])).health(), [{ name: 'm', health: true, extra: 1 }]);
  t.match(await messageOf(pd(ok([{ name: 'm' }])).health()), /unexpected shape/, 'health without its flag is not read as anything');
  t.match(await messageOf(pd(ok({ stores: [{ store: { id: 7, labels: [{ key: 'pod' }] } }] })).stores()), /unexpected shape/, 'a label without a value is not read as anything');
});

t.test('where PD is reached', async (t) => {
  t.same(pdEndpointsFor('db', 'basic', {}), ['http://basic-pd.db.svc:2379']);
  t.same(pdEndpointsFor('db', 'basic', { 'db/basic': ['http://127.0.0.1:12379'], 'db/other': ['x'] }), ['http://127.0.0.1:12379']);
});

t.test('the controller\'s calls: exact requests, and which answers are success', async (t) => {
  const f = fakeFetch(() => ok('"done"'));
  const pd = new PdClient({ endpoints: ['http://a/'], timeoutMs: 100, fetchImpl: f.impl });
  await pd.deleteMember('basic-pd-2');
  await pd.deleteMember('a b/c');
  await pd.deleteStore('1085');
  await pd.deleteStore('1/2');
  await pd.cancelStoreRemoval('1085');
  await pd.cancelStoreRemoval('1/2');
  t.same(f.calls, [
    { url: 'http://a/pd/api/v1/members/name/basic-pd-2', method: 'DELETE', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/members/name/a%20b%2Fc', method: 'DELETE', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/store/1085', method: 'DELETE', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/store/1%2F2', method: 'DELETE', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/store/1085/state?state=Up', method: 'POST', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/store/1%2F2/state?state=Up', method: 'POST', headers: {}, body: undefined },
  ]);

  const pdAnswering = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  // [call, PD's answer, the whole error message (undefined: success), its status]
  const table: Array<[string, (pd: PdClient) => Promise<void>, Answer, string | undefined, number | undefined]> = [
    ['deleteMember 200', (pd) => pd.deleteMember('basic-pd-2'), ok('"The PD member is removed."'), undefined, undefined],
    ['deleteMember 404: already gone', (pd) => pd.deleteMember('basic-pd-2'), { status: 404, text: '"member not found"' }, undefined, undefined],
    ['deleteMember 500', (pd) => pd.deleteMember('basic-pd-2'), { status: 500, text: long('m') }, `PD refused to remove member basic-pd-2: HTTP 500 ${'m'.repeat(300)}`, 500],
    ['deleteMember 201', (pd) => pd.deleteMember('basic-pd-2'), { status: 201, text: '' }, 'PD refused to remove member basic-pd-2: HTTP 201 ', 201],
    ['deleteMember 400', (pd) => pd.deleteMember('basic-pd-2'), { status: 400, text: 'bad name' }, 'PD refused to remove member basic-pd-2: HTTP 400 bad name', 400],
    ['deleteStore 200', (pd) => pd.deleteStore('3'), ok('"The store is set as Offline."\n'), undefined, undefined],
    ['deleteStore 410: Tombstone', (pd) => pd.deleteStore('1085'), { status: 410, text: '"[PD:core:ErrStoreRemoved]store 1085 has been removed"\n' + long('s') }, `PD refused to delete store 1085: HTTP 410 "[PD:core:ErrStoreRemoved]store 1085 has been removed"\n${'s'.repeat(300 - 55)}`, 410],
    ['deleteStore 404', (pd) => pd.deleteStore('9'), { status: 404, text: 'not found' }, 'PD refused to delete store 9: HTTP 404 not found', 404],
    ['cancelStoreRemoval 200', (pd) => pd.cancelStoreRemoval('3'), ok('"The store\'s state is updated."'), undefined, undefined],
    ['cancelStoreRemoval 500', (pd) => pd.cancelStoreRemoval('1085'), { status: 500, text: long('c') }, `PD refused to bring store 1085 back Up: HTTP 500 ${'c'.repeat(300)}`, 500],
    ['cancelStoreRemoval 202', (pd) => pd.cancelStoreRemoval('3'), { status: 202, text: 'later' }, 'PD refused to bring store 3 back Up: HTTP 202 later', 202],
  ];
  for (const [name, call, answer, message, status] of table) {
    t.equal(await messageOf(call(pdAnswering(answer))), message, `${name}: message`);
    t.equal(await statusOf(call(pdAnswering(answer))), status, `${name}: status`);
  }
});

t.test('max-replicas: read from the replication config, refused when it is not a positive integer', async (t) => {
  const f = fakeFetch(() => ok({ 'max-replicas': 5, 'location-labels': '' }));
  t.equal(await new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: f.impl }).maxReplicas(), 5);
  t.same(f.calls.map((c) => `${c.method} ${c.url}`), ['GET http://a/pd/api/v1/config/replicate']);
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  t.equal(await messageOf(pd(ok({ 'max-replicas': 0 })).maxReplicas()), 'PD GET /pd/api/v1/config/replicate answered an unexpected shape: Too small: expected number to be >0');
  t.equal(await messageOf(pd(ok({ 'max-replicas': 2.5 })).maxReplicas()), 'PD GET /pd/api/v1/config/replicate answered an unexpected shape: Invalid input: expected int, received number');
  t.equal(await messageOf(pd({ status: 404, text: '404 page not found' }).maxReplicas()), 'PD GET /pd/api/v1/config/replicate answered HTTP 404: 404 page not found');
});

t.test('region checks: exact request, peers and down peers as exact store ids, count from the list', async (t) => {
  const f = fakeFetch(() => ok('{"count":1,"regions":[{"id":18446744073709551615,"peers":[{"id":5,"store_id":1},{"id":6,"store_id":"18446744073709551614"}],"down_peers":[{"peer":{"id":6,"store_id":18446744073709551613},"down_seconds":30},{"peer":null},{},{"peer":{"id":7,"store_id":4}}]}]}'));
  const pd = new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: f.impl });
  t.strictSame(await pd.regionCheck('down-peer'), { count: 1, regions: [{ id: '18446744073709551615', peers: ['1', '18446744073709551614'], down_peers: ['18446744073709551613', '4'] }] });
  await pd.regionCheck('miss-peer');
  await pd.regionCheck('offline-peer');
  t.same(f.calls, ['down-peer', 'miss-peer', 'offline-peer'].map((c) => ({ url: `http://a/pd/api/v1/regions/check/${c}`, method: 'GET', headers: {}, body: undefined })));

  const check = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl }).regionCheck('offline-peer');
  const region = (id: number) => ({ id, peers: [{ store_id: 3 }] });
  t.strictSame(await check(ok({ count: 9, regions: [region(7), region(8)] })), { count: 2, regions: [{ id: '7', peers: ['3'], down_peers: [] }, { id: '8', peers: ['3'], down_peers: [] }] }, 'the regions listed count, whatever count says');
  t.same(await check(ok({ count: 9, regions: [] })), { count: 9, regions: [] }, 'a PD that counts without listing: its count');
  t.same(await check(ok({ regions: null })), { count: 0, regions: [] });
  t.strictSame(await check(ok({ regions: [{ id: 7, peers: null, down_peers: null }] })), { count: 1, regions: [{ id: '7', peers: [], down_peers: [] }] });
  t.equal(await messageOf(check({ status: 500, text: long('r') })), `PD region check offline-peer answered HTTP 500: ${'r'.repeat(300)}`);
  t.equal(await statusOf(check({ status: 500, text: 'r' })), 500);
  t.equal(await messageOf(check({ status: 201, text: '{}' })), 'PD region check offline-peer answered HTTP 201: {}', 'only 200 is an answer');
  t.equal(await messageOf(check(ok({ regions: 5 }))), 'PD region check offline-peer answered an unexpected shape: Invalid input: expected array, received number');
  t.equal(await statusOf(check(ok({ regions: [{ peers: [] }] }))), 200);
  t.equal(await messageOf(check(ok('<html>' + long('h')))), `PD region check offline-peer answered with text that is not JSON: <html>${'h'.repeat(194)}`);
  t.equal(await statusOf(check(ok('<html>'))), 200);
});

t.test('member health: each member\'s own /ping in parallel, healthy when any of its URLs answers 200', async (t) => {
  const answers: Record<string, Answer> = {
    'http://m0:2379/pd/api/v1/ping': ok(''),
    'http://m1:2379/pd/api/v1/ping': 'refuse',
    'http://m1b:2379/pd/api/v1/ping': ok(''),
    'http://m2:2379/pd/api/v1/ping': { status: 503, text: 'no leader' },
    'http://m3:2379/pd/api/v1/ping': 'hang',
    'http://m4:2379/pd/api/v1/ping': { status: 204, text: '' },
  };
  const f = fakeFetch((url) => answers[url] ?? { status: 404, text: `unexpected ${url}` });
  const pd = new PdClient({ endpoints: ['http://pd'], timeoutMs: 100, memberTimeoutMs: 30, fetchImpl: f.impl });
  const members = [
    { name: 'm0', client_urls: ['http://m0:2379//'] },
    { name: 'm1', client_urls: ['http://m1:2379', 'http://m1b:2379/'] },
    { name: 'm2', client_urls: ['http://m2:2379'] },
    { name: 'm3', client_urls: ['http://m3:2379'] },
    { name: 'm4', client_urls: ['http://m4:2379'] },
    { name: 'no-urls' },
    { name: 'null-urls', client_urls: null },
    { name: 'empty-urls', client_urls: [] },
  ];
  t.same(await pd.memberHealth(members), [
    { name: 'm0', healthy: true },
    { name: 'm1', healthy: true },
    { name: 'm2', healthy: false },
    { name: 'm3', healthy: false },
    { name: 'm4', healthy: false },
    { name: 'no-urls', healthy: false },
    { name: 'null-urls', healthy: false },
    { name: 'empty-urls', healthy: false },
  ]);
  const follower = { 'PD-Allow-follower-handle': 'true' };
  t.same(f.calls, ['m0', 'm1', 'm1b', 'm2', 'm3', 'm4'].map((h) => ({ url: `http://m${h.slice(1)}:2379/pd/api/v1/ping`, method: 'GET', headers: follower, body: undefined })), 'GET, a follower answers for itself, no call for a member without URLs');
  t.same(await pd.memberHealth([{ name: 'm1', client_urls: ['http://m1b:2379', 'http://m1:2379'] }]), [{ name: 'm1', healthy: true }], 'any URL, in either order');
  t.same(await pd.memberHealth([]), []);
});

t.test('member health deadline: its own, else the call deadline up to 1 s', async (t) => {
  const deadlines: number[] = [];
  const timeout = AbortSignal.timeout;
  AbortSignal.timeout = (ms: number) => {
    deadlines.push(ms);
    return timeout.call(AbortSignal, ms);
  };
  t.teardown(() => void (AbortSignal.timeout = timeout));
  const f = fakeFetch(() => ok(''));
  const ping = (opts: { timeoutMs: number; memberTimeoutMs?: number }) => new PdClient({ endpoints: ['http://pd'], ...opts, fetchImpl: f.impl }).memberHealth([{ name: 'm0', client_urls: ['http://m0'] }]);
  await ping({ timeoutMs: 5000 });
  await ping({ timeoutMs: 250 });
  await ping({ timeoutMs: 5000, memberTimeoutMs: 2000 });
  await new PdClient({ endpoints: ['http://pd'], timeoutMs: 700, fetchImpl: f.impl }).members().catch(() => undefined);
  t.same(deadlines, [1000, 250, 2000, 700]);
});
