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
  await pd.setStoreLabels('7/8', { zone: 'z-1', 'topology.kubernetes.io/zone': 'z-1' });
  t.same(f.calls, [
    { url: 'http://a/pd/api/v1/scheduler-config/evict-leader-scheduler/list', method: 'GET', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/schedulers', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"evict-leader-scheduler","store_id":18}' },
    { url: 'http://a/pd/api/v1/leader/transfer/basic%20pd%2F1', method: 'POST', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/schedulers/evict-leader-scheduler-18', method: 'DELETE', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/stores?state=0&state=1&state=2', method: 'GET', headers: {}, body: undefined },
    { url: 'http://a/pd/api/v1/store/7%2F8/label', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"zone":"z-1","topology.kubernetes.io/zone":"z-1"}' },
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

const LIST = 'http://a/pd/api/v1/scheduler-config/evict-leader-scheduler/list';
const CONFIG = 'http://a/pd/api/v1/config/schedule';
const LEADER = 'http://a/pd/api/v1/leader';
const DELETE4 = 'http://a/pd/api/v1/schedulers/evict-leader-scheduler-4';
const SCHEDULERS = 'http://a/pd/api/v1/schedulers';
const NOT_FOUND = { status: 404, text: '404 page not found\n' };
/** PD v8.5's schedulers-v2 of its defaults, and with an evict-leader scheduler created for store 1. */
const DEFAULTS = ['balance-region', 'balance-leader', 'hot-region', 'evict-slow-store'].map((type) => ({ type, args: null, disable: false, 'args-payload': '' }));
const config = (...more: unknown[]) => ok({ 'max-snapshot-count': 64, 'schedulers-v2': [...DEFAULTS, ...more] });
const EVICT_ENTRY = { type: 'evict-leader', args: ['1'], disable: false, 'args-payload': '' };
const RESTORING = "PD's leader has an evict-leader scheduler in its persisted config but does not run it yet (its list answers HTTP 404): it is still restoring its schedulers after an election, and the stores it will hold again are unknown until it has; try again in a few seconds";
const NONE = 'PD has no evict-leader scheduler, running or persisted (its list answers HTTP 404)';

/** A client whose PD answers by URL (`routes`), anything else 404. */
function byUrl(routes: Record<string, Answer>) {
  const f = fakeFetch((url) => routes[url] ?? NOT_FOUND);
  return { pd: new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: f.impl }), calls: () => f.calls.map((c) => `${c.method} ${c.url}`) };
}

t.test('evict-leader state: the list is final; "not found" is final only when PD persisted no evict-leader scheduler', async (t) => {
  // [case, PD's answers, stores, reason, the calls made (after the list)]
  const table: Array<[string, Record<string, Answer>, string[] | null, string, string[]]> = [
    ['the running scheduler lists its stores (uint64 ids exact)', { [LIST]: ok('{"store-id-ranges":{"4":[],"18446744073709551615":[]},"batch":3}') }, ['4', '18446744073709551615'], "PD's evict-leader scheduler holds stores 4, 18446744073709551615", []],
    ['one store', { [LIST]: ok({ 'store-id-ranges': { 4: [] } }) }, ['4'], "PD's evict-leader scheduler holds store 4", []],
    ['no ranges field: none', { [LIST]: ok({}) }, [], "PD's evict-leader scheduler holds no store", []],
    ['404, nothing persisted: none, final', { [LIST]: NOT_FOUND, [CONFIG]: config() }, [], NONE, [`GET ${CONFIG}`]],
    ['404 while PD persisted one: a new leader still restoring, unknown', { [LIST]: NOT_FOUND, [CONFIG]: config(EVICT_ENTRY) }, null, RESTORING, [`GET ${CONFIG}`]],
    // The old rule: a 404 meant none once GET /schedulers listed anything. A partial list is not a restored one.
    ['404, PD lists some schedulers, one persisted: still unknown, and /schedulers is not asked', { [LIST]: NOT_FOUND, [SCHEDULERS]: ok(['balance-hot-region-scheduler', 'balance-leader-scheduler', 'balance-region-scheduler']), [CONFIG]: config(EVICT_ENTRY) }, null, RESTORING, [`GET ${CONFIG}`]],
    ['the new type name counts too', { [LIST]: NOT_FOUND, [CONFIG]: config({ type: 'evict-leader-scheduler', args: ['1'] }) }, null, RESTORING, [`GET ${CONFIG}`]],
    ['a disabled entry is not restored: none', { [LIST]: NOT_FOUND, [CONFIG]: config({ ...EVICT_ENTRY, disable: true }) }, [], NONE, [`GET ${CONFIG}`]],
    ['schedulers-v2 null: none', { [LIST]: NOT_FOUND, [CONFIG]: ok({ 'schedulers-v2': null }) }, [], NONE, [`GET ${CONFIG}`]],
    ['PD\'s "not found" as a 500', { [LIST]: { status: 500, text: '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"' }, [CONFIG]: config() }, [], 'PD has no evict-leader scheduler, running or persisted (its list answers HTTP 500)', [`GET ${CONFIG}`]],
    ['"does not exist" as a 500', { [LIST]: { status: 500, text: 'the scheduler does not exist' }, [CONFIG]: config(EVICT_ENTRY) }, null, RESTORING.replace('HTTP 404', 'HTTP 500'), [`GET ${CONFIG}`]],
    ['"doesn\'t exist" as a 500', { [LIST]: { status: 500, text: "it doesn't exist" }, [CONFIG]: config() }, [], NONE.replace('HTTP 404', 'HTTP 500'), [`GET ${CONFIG}`]],
  ];
  for (const [name, routes, stores, reason, after] of table) {
    const a = byUrl({ ...routes, [LEADER]: ok({ name: 'pd-1', member_id: 1 }) });
    t.strictSame(await a.pd.evictLeaderState(), { stores, reason, leader: 'pd-1' }, `${name}: state`);
    t.strictSame(a.calls(), [`GET ${LIST}`, `GET ${LEADER}`, ...after], `${name}: calls`);
    const b = byUrl(routes);
    if (stores) t.strictSame(await b.pd.evictingStores(), stores, `${name}: evictingStores`);
    else {
      const err = await b.pd.evictingStores().then(() => null, (e: unknown) => e);
      t.ok(err instanceof PdError, `${name}: a PdError`);
      t.equal((err as PdError).message, `PD evict-leader list: ${reason}`, `${name}: its message`);
      t.equal((err as PdError).status, 503, `${name}: 503`);
    }
    t.strictSame(b.calls(), [`GET ${LIST}`, ...after], `${name}: evictingStores asks no leader`);
  }
});

t.test('evict-leader state: answers PD would not give are errors, never a default', async (t) => {
  const pd = (routes: Record<string, Answer>) => byUrl(routes).pd;
  t.equal(await messageOf(pd({ [LIST]: { status: 500, text: 'etcd timeout ' + long('e') } }).evictingStores()), `PD evict-leader list answered HTTP 500: etcd timeout ${'e'.repeat(287)}`);
  t.equal(await statusOf(pd({ [LIST]: { status: 500, text: 'etcd timeout' } }).evictLeaderState()), 500);
  t.equal(await statusOf(pd({ [LIST]: { status: 403, text: 'not found' } }).evictingStores()), 403, 'only a 404 or a 500 is read for "not found"');
  t.equal(await messageOf(pd({ [LIST]: ok('<html>' + long('h')) }).evictingStores()), `PD evict-leader list answered with text that is not JSON: <html>${'h'.repeat(194)}`);
  t.equal(await messageOf(pd({ [LIST]: ok({ 'store-id-ranges': 5 }) }).evictLeaderState()), 'PD evict-leader list has an unexpected shape');
  t.equal(await messageOf(pd({ [LIST]: NOT_FOUND, [CONFIG]: { status: 500, text: 'c'.repeat(400) } }).evictingStores()), `PD GET /pd/api/v1/config/schedule answered HTTP 500: ${'c'.repeat(300)}`);
  t.equal(await statusOf(pd({ [LIST]: NOT_FOUND }).evictingStores()), 404, 'a PD without its schedule config: its 404, not "none"');
  t.equal(await messageOf(pd({ [LIST]: NOT_FOUND, [CONFIG]: ok({ 'max-snapshot-count': 64 }) }).evictingStores()), 'PD GET /pd/api/v1/config/schedule answered an unexpected shape: Invalid input: expected array, received undefined');
  t.equal(await messageOf(pd({ [LIST]: NOT_FOUND, [CONFIG]: ok({ 'schedulers-v2': [{ args: [] }] }) }).evictingStores()), 'PD GET /pd/api/v1/config/schedule answered an unexpected shape: Invalid input: expected string, received undefined');
  t.equal(await messageOf(pd({ [LIST]: NOT_FOUND, [CONFIG]: ok('<html>') }).evictingStores()), 'PD GET /pd/api/v1/config/schedule answered with text that is not JSON: <html>');
});

t.test('evict-leader state: the leader is named when PD names one, else null', async (t) => {
  const routes = { [LIST]: ok({ 'store-id-ranges': {} }) };
  const leaderOf = async (leader: Answer) => (await byUrl({ ...routes, [LEADER]: leader }).pd.evictLeaderState()).leader;
  t.equal(await leaderOf(ok('{"name":"basic-pd-2","member_id":13147295245245421712,"client_urls":["http://x:2379"]}')), 'basic-pd-2');
  t.equal(await leaderOf({ status: 500, text: '"no leader"' }), null, 'an election under way');
  t.equal(await leaderOf(ok({ member_id: 1 })), null, 'no name');
  t.equal(await leaderOf(ok('<html>')), null, 'not JSON');
  const refusing = fakeFetch((url) => (url === LEADER ? 'refuse' : ok({})));
  t.equal((await new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: refusing.impl }).evictLeaderState()).leader, null, 'no answer');
});

t.test('ending an eviction: done once PD\'s answer is final, a 503 while its leader restores, refusing anything else', async (t) => {
  // [case, PD's answers, the whole error message (undefined: done), its status, the calls made]
  const restoring = `stopping the leader eviction of store 4: ${RESTORING}`;
  const table: Array<[string, Record<string, Answer>, string | undefined, number | undefined, string[]]> = [
    ['200: done', { [DELETE4]: ok('null') }, undefined, undefined, [`DELETE ${DELETE4}`]],
    ['404, PD has none: done', { [DELETE4]: { status: 404, text: 'null' }, [CONFIG]: config() }, undefined, undefined, [`DELETE ${DELETE4}`, `GET ${LIST}`, `GET ${CONFIG}`]],
    ['404, the running scheduler holds other stores: done', { [DELETE4]: { status: 404, text: 'null' }, [LIST]: ok({ 'store-id-ranges': { 1: [] } }) }, undefined, undefined, [`DELETE ${DELETE4}`, `GET ${LIST}`]],
    ['404 while the new leader restores: not known', { [DELETE4]: { status: 404, text: 'null' }, [CONFIG]: config(EVICT_ENTRY) }, restoring, 503, [`DELETE ${DELETE4}`, `GET ${LIST}`, `GET ${CONFIG}`]],
    // The old rule's leak: GET /schedulers listing some schedulers made this 404 a "done".
    ['404 while it restores, some schedulers listed: not known', { [DELETE4]: { status: 404, text: 'null' }, [SCHEDULERS]: ok(['balance-leader-scheduler']), [CONFIG]: config(EVICT_ENTRY) }, restoring, 503, [`DELETE ${DELETE4}`, `GET ${LIST}`, `GET ${CONFIG}`]],
    ['404, then the scheduler holds the store: restored in between', { [DELETE4]: { status: 404, text: 'null' }, [LIST]: ok({ 'store-id-ranges': { 1: [], 4: [] } }) }, 'stopping the leader eviction of store 4: PD answered the DELETE with HTTP 404 but its evict-leader scheduler holds the store (its leader restored it in between); try again', 503, [`DELETE ${DELETE4}`, `GET ${LIST}`]],
    ['PD\'s "not found" 500, none: done', { [DELETE4]: { status: 500, text: '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"' }, [CONFIG]: config() }, undefined, undefined, [`DELETE ${DELETE4}`, `GET ${LIST}`, `GET ${CONFIG}`]],
    ['500', { [DELETE4]: { status: 500, text: 'etcd ' + long('e') } }, `PD refused to stop evicting leaders from store 4: HTTP 500 etcd ${'e'.repeat(295)}`, 500, [`DELETE ${DELETE4}`]],
    ['400 "not found"', { [DELETE4]: { status: 400, text: 'not found' } }, 'PD refused to stop evicting leaders from store 4: HTTP 400 not found', 400, [`DELETE ${DELETE4}`]],
    ['201: only 200 is success', { [DELETE4]: { status: 201, text: '' } }, 'PD refused to stop evicting leaders from store 4: HTTP 201 ', 201, [`DELETE ${DELETE4}`]],
    ['404, and the list fails', { [DELETE4]: { status: 404, text: 'null' }, [LIST]: { status: 500, text: 'etcd' } }, 'PD evict-leader list answered HTTP 500: etcd', 500, [`DELETE ${DELETE4}`, `GET ${LIST}`]],
  ];
  for (const [name, routes, message, status, calls] of table) {
    const a = byUrl(routes);
    const err = (await a.pd.removeEvictLeader('4').then(() => undefined, (e: unknown) => e)) as PdError | undefined;
    t.equal(err?.message, message, `${name}: message`);
    t.equal(err?.status, status, `${name}: status`);
    if (err) t.ok(err instanceof PdError, `${name}: a PdError`);
    t.strictSame(a.calls(), calls, `${name}: calls`);
  }
});

t.test('adding an eviction: refused while PD\'s leader restores its evict-leader scheduler (PD would replace it); only 200 is success', async (t) => {
  const add = async (routes: Record<string, Answer>) => {
    const a = byUrl(routes);
    const err = (await a.pd.addEvictLeader('4').then(() => undefined, (e: unknown) => e)) as PdError | undefined;
    return { message: err?.message, status: err?.status, calls: a.calls() };
  };
  t.strictSame(await add({ [LIST]: NOT_FOUND, [CONFIG]: config(EVICT_ENTRY) }), { message: `evicting leaders from store 4: ${RESTORING}`, status: 503, calls: [`GET ${LIST}`, `GET ${CONFIG}`] }, 'no POST while restoring');
  t.strictSame(await add({ [LIST]: NOT_FOUND, [CONFIG]: config(), [SCHEDULERS]: ok('"The scheduler is created."') }), { message: undefined, status: undefined, calls: [`GET ${LIST}`, `GET ${CONFIG}`, `POST ${SCHEDULERS}`] }, 'none: created');
  t.strictSame(await add({ [LIST]: ok({ 'store-id-ranges': { 1: [] } }), [SCHEDULERS]: ok('"The scheduler has been applied to the store."') }), { message: undefined, status: undefined, calls: [`GET ${LIST}`, `POST ${SCHEDULERS}`] }, 'running: added');
  const running = { [LIST]: ok({ 'store-id-ranges': {} }) };
  t.strictSame(await add({ ...running, [SCHEDULERS]: { status: 400, text: long('b') } }), { message: `PD refused to evict leaders from store 4: HTTP 400 ${'b'.repeat(300)}`, status: 400, calls: [`GET ${LIST}`, `POST ${SCHEDULERS}`] });
  t.equal((await add({ ...running, [SCHEDULERS]: { status: 201, text: '' } })).status, 201, 'only 200 is success');
  t.equal((await add({ [LIST]: { status: 500, text: 'etcd' } })).message, 'PD evict-leader list answered HTTP 500: etcd', 'the list failing: no POST');
});

t.test('moving leadership: only 200 is success', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  t.equal(await messageOf(pd({ status: 500, text: 't'.repeat(400) }).transferLeader('basic-pd-1')), `PD refused to transfer leadership to basic-pd-1: HTTP 500 ${'t'.repeat(300)}`);
  t.equal(await statusOf(pd({ status: 500, text: 't'.repeat(400) }).transferLeader('basic-pd-1')), 500);
  t.equal(await statusOf(pd({ status: 202, text: '' }).transferLeader('basic-pd-1')), 202);
});

t.test('store labels: PD\'s answer read, only 200 is success', async (t) => {
  const pd = (a: Answer) => new PdClient({ endpoints: ['http://a'], timeoutMs: 100, fetchImpl: fakeFetch(() => a).impl });
  const labels = { zone: 'z-1', host: 'node-1' };
  t.equal(await messageOf(pd(ok('"The store\'s label is updated."\n')).setStoreLabels('4', labels)), undefined);
  t.equal(await messageOf(pd({ status: 500, text: '"[PD:cluster:ErrInvalidStoreID]invalid store id 9, not found"\n' }).setStoreLabels('9', labels)), 'PD refused to set labels {"zone":"z-1","host":"node-1"} on store 9: HTTP 500 "[PD:cluster:ErrInvalidStoreID]invalid store id 9, not found"\n');
  t.equal(await statusOf(pd({ status: 500, text: '' }).setStoreLabels('9', labels)), 500);
  t.equal(await messageOf(pd({ status: 400, text: long('l') }).setStoreLabels('4', { 'bad key': 'v' })), `PD refused to set labels {"bad key":"v"} on store 4: HTTP 400 ${'l'.repeat(300)}`);
  t.equal(await statusOf(pd({ status: 400, text: '' }).setStoreLabels('4', labels)), 400);
  t.equal(await statusOf(pd({ status: 201, text: '' }).setStoreLabels('4', labels)), 201, 'only 200 is success');
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
  // No default is taken for an answer without the number: the caller gets the error.
  t.equal(await messageOf(pd(ok({ 'location-labels': '' })).maxReplicas()), 'PD GET /pd/api/v1/config/replicate answered an unexpected shape: Invalid input: expected number, received undefined');
  t.equal(await messageOf(pd(ok({ 'max-replicas': '3' })).maxReplicas()), 'PD GET /pd/api/v1/config/replicate answered an unexpected shape: Invalid input: expected number, received string');
  t.equal(await messageOf(pd(ok({ 'max-replicas': null })).maxReplicas()), 'PD GET /pd/api/v1/config/replicate answered an unexpected shape: Invalid input: expected number, received null');
  t.equal(await statusOf(pd('refuse').maxReplicas()), undefined, 'unreachable');
  t.match(await messageOf(pd('refuse').maxReplicas()), /^PD is unreachable/);
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
