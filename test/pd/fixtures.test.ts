// Replays the PD exchanges recorded from real pd-server v8.5 (npm run pd:record; test/fixtures/pd/):
// 1. the stand-in, put into the state PD was in, must answer the same request with the same status,
//    content type and shape (keys and types; ids, counts and timestamps vary; PD's messages must match
//    with digits masked);
// 2. the PD client must send exactly the recorded request and make sense of PD's recorded answer.
// Fixtures with a `modelled` field were not recorded: they are written after real PD's behaviour as
// observed (a new leader's restore window, issue 14) or read in PD v8.5.4's source, and say which.
// Their state may carry `restore.running`: the schedulers a newly elected leader has restored so far.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { PdClient, PdError } from '../../src/pd/client.ts';
import { PdStandin, type StoreState } from '../pd-standin.ts';
import type { PdFixture } from '../cluster/pd-record.ts';

/** A recorded exchange, or one modelled on PD's behaviour (`modelled` says on what), possibly during a new leader's restore. */
type Fixture = PdFixture & { modelled?: string; state: PdFixture['state'] & { restore?: { running: string[] } } };

const dir = new URL('../fixtures/pd/', import.meta.url);
const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Fixture);
const RESTORE_STEP = 1000;

/**
 * Fields PD leaves out while they are 0 (Go's omitempty), so whether a recording has them depends on
 * the moment it was taken: a store's transient counters, and node_state, which is 0 (Preparing) for
 * a new store until PD finds it ready to serve (1). Either side may have them or not.
 */
const OMITTED_WHEN_ZERO = new Set(['node_state', 'learner_count', 'witness_count', 'pending_peer_count', 'sending_snap_count', 'receiving_snap_count', 'applying_snap_count', 'is_busy']);

/**
 * Where `got` does not have the shape of `want` (PD's): the same type, an object the same keys, an
 * array elements each shaped like some element PD wrote (both empty or both not). Values, lengths
 * and the order of keys may differ. Returns the paths that differ; none when it conforms.
 */
export function shapeDiff(got: unknown, want: unknown, path = '$'): string[] {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(got) !== kind(want)) return [`${path}: ${kind(got)} where PD has ${kind(want)}`];
  if (Array.isArray(got) && Array.isArray(want)) {
    if ((got.length === 0) !== (want.length === 0)) return [`${path}: ${got.length} elements where PD has ${want.length}`];
    const out: string[] = [];
    got.forEach((g, i) => {
      const diffs = want.map((w) => shapeDiff(g, w, `${path}[${i}]`));
      if (diffs.every((d) => d.length > 0)) out.push(...diffs.sort((x, y) => x.length - y.length)[0]!);
    });
    return out;
  }
  if (kind(got) === 'object') {
    const g = got as Record<string, unknown>;
    const w = want as Record<string, unknown>;
    const out: string[] = [];
    for (const k of Object.keys(w)) if (!(k in g) && !OMITTED_WHEN_ZERO.has(k)) out.push(`${path}.${k}: missing (PD writes it)`);
    for (const k of Object.keys(g)) if (!(k in w) && !OMITTED_WHEN_ZERO.has(k)) out.push(`${path}.${k}: PD does not write it`);
    for (const k of Object.keys(w)) if (k in g) out.push(...shapeDiff(g[k], w[k], `${path}.${k}`));
    return out;
  }
  return [];
}

function parse(text: string): { json: true; value: unknown } | { json: false } {
  try {
    return { json: true, value: JSON.parse(text) };
  } catch {
    return { json: false };
  }
}

const maskDigits = (s: string) => s.replace(/\d+/g, 'N');

/** A stand-in in the fixture's state; during a restore, elected on a clock moved so far that it runs what the fixture says. */
function standinFor(fx: Fixture): PdStandin {
  const st = fx.state;
  const clock = { now: 0 };
  const sd = new PdStandin({
    members: st.members,
    ...(st.leader ? { leader: st.leader } : {}),
    stores: st.stores.map((s) => ({ id: s.id, pod: s.pod ?? `tikv-${s.id}`, leaders: s.leaders, regions: s.regions, state: s.state as StoreState })),
    maxReplicas: st.maxReplicas,
    restoreStepMs: RESTORE_STEP,
    now: () => clock.now,
  });
  for (const m of st.unhealthy) sd.unhealthy.add(m);
  for (const id of st.evicting) sd.evicting.add(id);
  for (const [kind, ids] of Object.entries(st.regionChecks)) sd.regionChecks.set(kind, ids);
  if (st.restore) {
    sd.elect(sd.leader);
    clock.now = st.restore.running.length * RESTORE_STEP;
  }
  return sd;
}

const recorded = fixtures.filter((f) => f.modelled === undefined);
t.ok(recorded.length >= 30, `${recorded.length} recorded exchanges`);
t.ok(fixtures.filter((f) => f.modelled !== undefined).every((f) => /^MODELLED/.test(f.about) && /^Not recorded/.test(f.modelled!)), 'every modelled exchange says so');

t.test('no machine path in a recording', async (t) => {
  for (const fx of fixtures) t.notMatch(JSON.stringify(fx), /\/(tmp|root|home|Users)\//, fx.name);
});

t.test('the stand-in answers each recorded request as PD did', async (t) => {
  for (const fx of fixtures) {
    const sd = standinFor(fx);
    if (fx.state.restore) t.same(sd.runningSchedulers(), fx.state.restore.running, `${fx.name}: the stand-in's leader has restored what PD's had`);
    const got = sd.handle(fx.request.method, fx.request.path, fx.request.body === undefined ? '' : JSON.stringify(fx.request.body));
    const want = fx.response;
    const label = `${fx.name}: ${fx.request.method} ${fx.request.path}`;
    t.equal(got.status, want.status, `${label}: status`);
    t.equal(got.contentType, want.contentType, `${label}: content type`);
    const w = parse(want.body);
    const g = parse(got.body);
    if (!w.json) {
      t.equal(got.body, want.body, `${label}: body`);
    } else if (typeof w.value === 'string') {
      t.equal(g.json && typeof g.value === 'string' ? maskDigits(g.value) : got.body, maskDigits(w.value), `${label}: PD's message`);
    } else {
      t.same(g.json ? shapeDiff(g.value, w.value) : [`not JSON: ${got.body.slice(0, 80)}`], [], `${label}: shape`);
    }
  }
});

interface Check {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  same(found: unknown, wanted: unknown, message: string): unknown;
}

/** A fetch that requires exactly the recorded requests, in order, and answers PD's recorded responses; `used` counts them. */
function replay(t: Check, ...exchanges: PdFixture[]): typeof fetch & { used: () => number } {
  let next = 0;
  const impl = (async (input: string | URL | Request, init?: RequestInit) => {
    const fx = exchanges[Math.min(next++, exchanges.length - 1)]!;
    const url = new URL(String(input));
    t.equal(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`, `${fx.request.method} ${fx.request.path}`, `${fx.name}: the client sends the recorded request`);
    if (fx.request.body !== undefined) t.same(JSON.parse(String(init?.body)), fx.request.body, `${fx.name}: with the recorded body`);
    const r = fx.response;
    return new Response(r.status === 405 || r.body === '' ? null : r.body, { status: r.status, headers: r.contentType ? { 'content-type': r.contentType } : {} });
  }) as typeof fetch;
  return Object.assign(impl, { used: () => next });
}


t.test('the PD client sends the recorded requests and reads PD\'s recorded answers', async (t) => {
  const byName = new Map(fixtures.map((f) => [f.name, f]));
  const need = (name: string) => {
    const fx = byName.get(name);
    if (!fx) throw new Error(`fixture ${name} missing: npm run pd:record`);
    return fx;
  };
  let exchanges: PdFixture[] = [];
  let fetchImpl: ReturnType<typeof replay> | null = null;
  /** A client answered by the named exchanges, in order, then the case's own. */
  const client = (...fxs: PdFixture[]) => {
    exchanges = fxs;
    fetchImpl = replay(t as unknown as Check, ...fxs);
    return new PdClient({ endpoints: ['http://pd:2379'], timeoutMs: 1000, fetchImpl });
  };
  // "No evict-leader scheduler" is final only once PD's persisted config has none to restore.
  const none = ['evict-leader-list-none', 'config-schedule'];
  const before: Record<string, string[]> = {
    'scheduler-add-evict-leader': none,
    'scheduler-add-unknown-store': none,
    'scheduler-add-evict-leader-second': ['evict-leader-list'],
  };
  const after: Record<string, string[]> = {
    'evict-leader-list-none': ['config-schedule'],
    'evict-leader-list-after': ['config-schedule'],
    'scheduler-delete-absent': none,
    'leader-restore-3-evict-leader-list': ['leader-restore-5-config-schedule'],
    'leader-restore-4-scheduler-delete': ['leader-restore-3-evict-leader-list', 'leader-restore-5-config-schedule'],
  };
  const rejects = async (p: Promise<unknown>, message: RegExp, status: number) => {
    const err = await p.then(() => null, (e: unknown) => e);
    t.ok(err instanceof PdError, 'a PdError');
    t.match((err as PdError).message, message);
    t.equal((err as PdError).status, status);
  };
  const cases: Array<[string, (pd: PdClient, fx: Fixture) => Promise<unknown>]> = [
    ['members', async (pd, fx) => {
      const m = await pd.members();
      t.same(m.members.map((x) => x.name).sort(), fx.state.members);
      t.equal(m.leader?.name, fx.state.leader);
      t.match(m.members[0]?.member_id, /^\d{15,20}$/, 'member_id kept as exact digits');
    }],
    ['members-one-down', async (pd, fx) => t.same((await pd.members()).members.map((x) => x.name).sort(), fx.state.members)],
    ['health', async (pd) => t.ok((await pd.health()).every((h) => h.health))],
    ['health-one-down', async (pd, fx) => t.same((await pd.health()).filter((h) => !h.health).map((h) => h.name), fx.state.unhealthy)],
    ['stores-all-states', async (pd, fx) => t.same((await pd.stores()).map((s) => [Number(s.store.id), s.store.state_name]).sort(), fx.state.stores.map((s) => [s.id, s.state]))],
    ['stores-evicted', async (pd, fx) => t.same((await pd.stores()).map((s) => Number(s.store.id)).sort(), fx.state.stores.map((s) => s.id))],
    ['stores-offline', async (pd) => t.ok((await pd.stores()).some((s) => s.store.state_name === 'Offline'), 'an Offline store is seen')],
    ['stores-tombstone', async (pd) => t.ok((await pd.stores()).some((s) => s.store.state_name === 'Tombstone'), 'a Tombstone store is seen')],
    ['evict-leader-list', async (pd, fx) => t.same((await pd.evictingStores()).map(Number), fx.state.evicting)],
    ['evict-leader-list-two', async (pd, fx) => t.same((await pd.evictingStores()).map(Number).sort(), fx.state.evicting)],
    ['evict-leader-list-none', async (pd) => t.same(await pd.evictingStores(), [], 'no scheduler, none persisted: nothing evicted')],
    ['evict-leader-list-after', async (pd) => t.same(await pd.evictingStores(), [])],
    ['scheduler-add-evict-leader', async (pd, fx) => pd.addEvictLeader(String((fx.request.body as { store_id: number }).store_id))],
    ['scheduler-add-evict-leader-second', async (pd, fx) => pd.addEvictLeader(String((fx.request.body as { store_id: number }).store_id))],
    ['scheduler-add-unknown-store', async (pd) => {
      const err = await pd.addEvictLeader('999999').then(() => null, (e: unknown) => e);
      t.ok(err instanceof PdError && err.status === 500, 'an unknown store is refused with HTTP 500');
    }],
    ['scheduler-delete-evict-leader', async (pd, fx) => pd.removeEvictLeader(fx.request.path.split('-').pop()!)],
    ['scheduler-delete-evict-leader-last', async (pd, fx) => pd.removeEvictLeader(fx.request.path.split('-').pop()!)],
    ['scheduler-delete-absent', async (pd, fx) => pd.removeEvictLeader(fx.request.path.split('-').pop()!)],
    // A new leader's restore window: unknown, not "none", until the entry is restored.
    ['leader-restore-3-evict-leader-list', async (pd) => rejects(pd.evictingStores(), /^PD evict-leader list: PD's leader has an evict-leader scheduler in its persisted config but does not run it yet/, 503)],
    ['leader-restore-4-scheduler-delete', async (pd) => rejects(pd.removeEvictLeader('1'), /^stopping the leader eviction of store 1: PD's leader has an evict-leader scheduler/, 503)],
    ['leader-restore-6-evict-leader-list-restored', async (pd, fx) => t.same((await pd.evictingStores()).map(Number), fx.state.evicting, 'restored: the entry is back')],
    ['store-label', async (pd, fx) => pd.setStoreLabels('1', fx.request.body as Record<string, string>)],
    ['store-label-unknown', async (pd, fx) => rejects(pd.setStoreLabels('999999', fx.request.body as Record<string, string>), /^PD refused to set labels \{"zone":"z1"\} on store 999999: HTTP 500 "\[PD:cluster:ErrInvalidStoreID\]invalid store id 999999, not found"/, 500)],
    ['store-label-invalid', async (pd, fx) => rejects(pd.setStoreLabels('1', fx.request.body as Record<string, string>), /^PD refused to set labels \{"bad key":"v"\} on store 1: HTTP 400 .*bad key does not match format/s, 400)],
    ['config-replicate', async (pd) => t.equal(await pd.maxReplicas(), 3)],
    ...(['miss-peer', 'down-peer', 'offline-peer'] as const).flatMap((check) =>
      ['', '-offline'].map((suffix): [string, (pd: PdClient, fx: Fixture) => Promise<unknown>] => [`regions-check-${check}${suffix}`, async (pd, fx) => {
        const got = await pd.regionCheck(check);
        t.same(got.regions.map((r) => Number(r.id)).sort((a, b) => a - b), fx.state.regionChecks[check], `${fx.name}: the regions PD listed`);
        t.equal(got.count, fx.state.regionChecks[check]!.length, `${fx.name}: counted`);
        if (check === 'offline-peer' && suffix) t.ok(got.regions.every((r) => r.peers.includes('3')), 'each has a peer on the Offline store 3');
      }]),
    ),
    ['store-delete', async (pd) => pd.deleteStore('3')],
    ['store-delete-empty', async (pd) => pd.deleteStore('1085')],
    ['store-delete-tombstone', async (pd) => {
      t.equal(await pd.deleteStore('1085').then(() => 'resolved', (e: Error) => e.message), 'PD refused to delete store 1085: HTTP 410 "[PD:core:ErrStoreRemoved]store 1085 has been removed"\n');
    }],
    ['leader-transfer', async (pd, fx) => pd.transferLeader(fx.request.path.split('/').pop()!)],
    ['leader-transfer-to-leader', async (pd, fx) => pd.transferLeader(fx.request.path.split('/').pop()!)],
    ['leader-transfer-unknown', async (pd) => {
      await t.rejects(pd.transferLeader('no-such-member'), { message: /PD refused to transfer leadership to no-such-member: HTTP 500 "no valid pd/ });
    }],
    ['leader-transfer-unhealthy', async (pd, fx) => {
      await t.rejects(pd.transferLeader(fx.request.path.split('/').pop()!), { message: /HTTP 500 .*ErrEtcdMoveLeader/ });
    }],
  ];
  for (const [name, run] of cases) {
    const fx = byName.get(name);
    if (!fx) {
      t.fail(`fixture ${name} missing: npm run pd:record`);
      continue;
    }
    await run(client(...(before[name] ?? []).map(need), fx, ...(after[name] ?? []).map(need)), fx);
    t.equal(fetchImpl!.used(), exchanges.length, `${name}: the client made exactly the calls ${exchanges.map((e) => e.name).join(', ')}`);
  }
});

t.test('the restore window, replayed in order against one stand-in: the DELETE answered 404 does not remove the entry the leader restores', async (t) => {
  const series = fixtures.filter((f) => f.name.startsWith('leader-restore-') && /^leader-restore-\d/.test(f.name));
  t.same(series.map((f) => f.name), ['leader-restore-1-schedulers-none', 'leader-restore-2-schedulers-partial', 'leader-restore-3-evict-leader-list', 'leader-restore-4-scheduler-delete', 'leader-restore-5-config-schedule', 'leader-restore-6-evict-leader-list-restored', 'leader-restore-7-schedulers-restored']);
  const first = series[0]!;
  const clock = { now: 0 };
  const old = first.state.unhealthy[0]!;
  // Before: the old leader runs everything, store 1 was just added.
  const sd = new PdStandin({ members: first.state.members, leader: old, stores: first.state.stores.map((s) => ({ id: s.id, pod: s.pod!, leaders: s.leaders, regions: s.regions })), restoreStepMs: RESTORE_STEP, now: () => clock.now });
  t.equal(sd.handle('POST', '/pd/api/v1/schedulers', JSON.stringify({ name: 'evict-leader-scheduler', store_id: 1 })).status, 200);
  t.equal(sd.killLeader(), first.state.leader, 'the old leader killed, the next one elected');
  for (const fx of series) {
    const running = fx.state.restore?.running;
    clock.now = Math.max(clock.now, (running ? running.length : 10) * RESTORE_STEP);
    const got = sd.handle(fx.request.method, fx.request.path, fx.request.body === undefined ? '' : JSON.stringify(fx.request.body));
    t.equal(got.status, fx.response.status, `${fx.name}: status`);
    const w = parse(fx.response.body);
    const g = parse(got.body);
    if (!w.json) t.equal(got.body, fx.response.body, `${fx.name}: body`);
    else if (!g.json) t.fail(`${fx.name}: not JSON: ${got.body.slice(0, 80)}`);
    else if (Array.isArray(w.value)) t.same([...(g.value as string[])].sort(), [...(w.value as string[])].sort(), `${fx.name}: the schedulers listed`);
    else t.same(shapeDiff(g.value, w.value), [], `${fx.name}: shape`);
    t.same([...sd.evicting], fx.state.evicting, `${fx.name}: PD holds store 1`);
  }
});
