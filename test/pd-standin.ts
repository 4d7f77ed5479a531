// The PD stand-in: PD v8.5's HTTP API for the parts tidb-steward uses, held to recorded PD traffic
// (test/fixtures/pd/, replayed by test/pd/fixtures.test.ts). One class serves both uses:
// - unit tests call it in process through `standin.fetch` (PdClient's fetchImpl; no socket);
// - e2e tests and the demo `listen()` on 127.0.0.1 so that the tidb-steward process can reach it.
// It answers only the methods and paths PD serves (405 with an empty body for another method on a
// known path, 404 "404 page not found" for any other path, as PD's router does), with PD's bodies and
// error shapes, and logs every call so that tests assert the exact calls made.
// It is a model, not PD: leaders leave an evicted store at a rate set here, and an election takes
// transferDelayMs. Real PD (PD_BIN_DIR) is what the e2e suites prefer. Answers no recording covers
// yet (/store/{id}/label, /leader/resign, /config/schedule, pausing a scheduler, an invalid state
// filter) follow PD v8.5's handlers as read in its source.
//
// A new leader restores its schedulers one by one (restoreStepMs), as real PD does: after an election
// (a transfer, a resign, `leader = ...` or killLeader()) PD's leader reloads its persisted config at
// once (schedulers-v2 in /config/schedule) but re-creates the running schedulers from storage in the
// order of their names, one at a time, once the cluster is prepared. Until the evict-leader scheduler
// is back, GET /schedulers lists only the ones restored so far, its list and a DELETE of one of its
// stores answer 404 and the DELETE changes nothing: the entry is there again once it is restored
// (test/fixtures/pd/leader-restore-*.json; seen against real pd-server v8.5.4, issue 14). A POST of an
// evict-leader entry meanwhile creates the scheduler afresh with that store alone, and the persisted
// stores are lost (read in PD's source: the restore then finds the scheduler existing and skips it).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';

export type StoreState = 'Up' | 'Offline' | 'Tombstone';

export interface StandinStore {
  id: number;
  /** The TiKV pod: stores are labelled pod=<pod> and addressed mock:://tikv-<id>, as pd-simulator's. */
  pod: string;
  leaders: number;
  regions?: number;
  state?: StoreState;
  /** Address override, e.g. a production-style "<pod>.<cluster>-tikv-peer.<ns>.svc:20160". */
  address?: string;
  /** Labels override; default [{key:'pod', value: pod}]. */
  labels?: Array<{ key: string; value: string }>;
}

export interface StandinCall {
  method: string;
  /** Path without the query. */
  path: string;
  query: string;
  body: string;
  status: number;
  at: number;
}

export interface StandinOptions {
  /** Member names (the PD pod names). */
  members: string[];
  leader?: string;
  stores?: StandinStore[];
  /** A leader transfer completes after this long (an election); 0 = at once. Default 0. */
  transferDelayMs?: number;
  /** Leaders an evicted store loses per GET of the stores (for unit tests that step by reading). */
  evictPerRead?: number;
  clusterId?: string;
  maxReplicas?: number;
  /**
   * After an election, the new leader restores one more of its schedulers every this many ms (none
   * during the first step: it lists none, as PD does until the cluster is prepared). 0 = all at once.
   * Default 0.
   */
  restoreStepMs?: number;
  /** The stand-in's clock (ms), for tests that step through a restore; default Date.now. */
  now?: () => number;
}

export interface StandinResponse {
  status: number;
  contentType: string | null;
  body: string;
}

const API = '/pd/api/v1';
/** The label formats PD v8.5 accepts (pkg/schedule/config: keyFormat, valueFormat). */
const LABEL_KEY = /^[$]?[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^[-A-Za-z0-9_./]*$/;
const JSON_TYPE = 'application/json; charset=UTF-8';

/** 64-bit ids as PD writes them: bare numbers that JSON.parse would round. */
function memberId(i: number): string {
  return `1314729524524542171${i}`;
}

type Handler = (m: RegExpMatchArray, query: URLSearchParams, body: string) => StandinResponse;

const EVICT_LEADER = 'evict-leader-scheduler';
/** PD v8.5's default schedulers, with the types its schedulers-v2 config names them by. */
const DEFAULT_SCHEDULERS: ReadonlyArray<[name: string, type: string]> = [
  ['balance-region-scheduler', 'balance-region'],
  ['balance-leader-scheduler', 'balance-leader'],
  ['balance-hot-region-scheduler', 'hot-region'],
  ['evict-slow-store-scheduler', 'evict-slow-store'],
];

export class PdStandin {
  members: string[];
  unhealthy = new Set<string>();
  stores: StandinStore[];
  /**
   * Store ids in the evict-leader scheduler as PD persisted them, in the order they were added: what
   * the leader runs, or restores after an election.
   */
  evicting = new Set<number>();
  /** While true, every call fails as a refused connection does. */
  down = false;
  maxReplicas: number;
  transferDelayMs: number;
  evictPerRead: number;
  readonly clusterId: string;
  /** Every call answered, in order. */
  readonly calls: StandinCall[] = [];
  /** Completed leader transfers, and when each evicted store reached 0 leaders (ms since epoch). */
  readonly transfers: Array<{ from: string; to: string; at: number }> = [];
  readonly drainedAt = new Map<number, number>();
  /** Region ids per check kind (down-peer, offline-peer, miss-peer, ...): what the region checks report. */
  readonly regionChecks = new Map<string, number[]>();
  /** Completed elections: who became leader, when (stand-in clock). */
  readonly elections: Array<{ leader: string; at: number }> = [];
  restoreStepMs: number;
  readonly now: () => number;
  private currentLeader: string;
  /** While the leader restores its schedulers: those it runs so far, in the order restored. */
  private running: string[] | null = null;
  /** The schedulers the leader restores, in order, and when it was elected. */
  private restore: { order: string[]; from: number } | null = null;
  /** The store whose POST created the evict-leader scheduler: PD keeps it as the scheduler's args. */
  private evictCreatedWith: number | null = null;
  private server: Server | null = null;
  /** Base URL while listening: members' client URLs point here (<base>/member/<name>) so each can be pinged. */
  private base = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly routes: Array<{ pattern: RegExp; methods: Record<string, Handler> }>;

  constructor(opts: StandinOptions) {
    if (opts.members.length === 0) throw new Error('PdStandin needs at least one member');
    this.members = [...opts.members];
    this.currentLeader = opts.leader ?? opts.members[0]!;
    this.restoreStepMs = opts.restoreStepMs ?? 0;
    this.now = opts.now ?? Date.now;
    this.stores = (opts.stores ?? []).map((s) => ({ ...s }));
    this.transferDelayMs = opts.transferDelayMs ?? 0;
    this.evictPerRead = opts.evictPerRead ?? 0;
    this.clusterId = opts.clusterId ?? '7441234567890123456';
    this.maxReplicas = opts.maxReplicas ?? 3;
    this.routes = this.buildRoutes();
  }

  // ---- calls ---------------------------------------------------------------------------------

  /** "METHOD /path?query" of every call, or of those matching `filter`. */
  callLines(filter?: (c: StandinCall) => boolean): string[] {
    return this.calls.filter(filter ?? (() => true)).map((c) => `${c.method} ${c.path}${c.query ? `?${c.query}` : ''}`);
  }

  /** The calls that change PD (every method but GET), e.g. ["POST /pd/api/v1/leader/transfer/basic-pd-1"]. */
  writes(): string[] {
    return this.callLines((c) => c.method !== 'GET');
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  // ---- model ---------------------------------------------------------------------------------

  get leader(): string {
    return this.currentLeader;
  }

  /** Another leader is an election: the new one restores its schedulers (restoreStepMs). */
  set leader(name: string) {
    if (name !== this.currentLeader) this.elect(name);
  }

  /** `name` becomes leader and starts restoring the persisted schedulers, one per restoreStepMs. */
  elect(name: string): void {
    this.currentLeader = name;
    const at = this.now();
    this.elections.push({ leader: name, at });
    this.running = null;
    this.restore = null;
    if (this.restoreStepMs > 0) {
      // PD loads the scheduler configs by key, i.e. by name.
      this.restore = { order: this.persistedSchedulers().sort(), from: at };
      this.running = [];
    }
  }

  /** The leader's process dies: it is unhealthy from now on and the next healthy member is elected. Returns the new leader. */
  killLeader(): string {
    const old = this.currentLeader;
    this.unhealthy.add(old);
    const next = this.members.find((m) => m !== old && !this.unhealthy.has(m));
    if (!next) throw new Error(`no healthy member left to take over from ${old}`);
    this.elect(next);
    return next;
  }

  /** The schedulers PD persisted (and restores after an election): its defaults and the evict-leader one while it holds a store. */
  persistedSchedulers(): string[] {
    return [...(this.evicting.size ? [EVICT_LEADER] : []), ...DEFAULT_SCHEDULERS.map(([name]) => name)];
  }

  /** The schedulers the leader runs now: all persisted ones, or during a restore those restored so far. */
  runningSchedulers(): string[] {
    this.settleRestore();
    return this.running ? [...this.running] : this.persistedSchedulers();
  }

  /** Whether the leader is still restoring its schedulers. */
  get restoring(): boolean {
    this.settleRestore();
    return this.running !== null;
  }

  private isRunning(name: string): boolean {
    return this.runningSchedulers().includes(name);
  }

  /** Brings the restore up to the clock: one scheduler per restoreStepMs since the election. */
  private settleRestore(): void {
    if (!this.restore || !this.running) return;
    const due = Math.floor((this.now() - this.restore.from) / this.restoreStepMs);
    for (const name of this.restore.order.slice(0, due)) {
      // A scheduler that exists already (created by a POST meanwhile) is skipped, as PD does; the
      // evict-leader one is restored only while it holds a store.
      if (this.running.includes(name) || (name === EVICT_LEADER && this.evicting.size === 0)) continue;
      this.running.push(name);
    }
    if (due >= this.restore.order.length) {
      this.running = null;
      this.restore = null;
    }
  }

  /** Store ids whose leaders the running evict-leader scheduler moves away. */
  private evictingNow(): Set<number> {
    return this.isRunning(EVICT_LEADER) ? this.evicting : new Set();
  }

  store(id: number): StandinStore | undefined {
    return this.stores.find((s) => s.id === id);
  }

  /** Moves `step` leaders off every evicted store onto the Up store with the fewest. */
  stepEviction(step: number, now = Date.now()): void {
    const evicting = this.evictingNow();
    for (const s of this.stores) {
      if (!evicting.has(s.id) || s.leaders === 0) continue;
      const moved = Math.min(step, s.leaders);
      s.leaders -= moved;
      const to = this.stores.filter((x) => x.id !== s.id && (x.state ?? 'Up') === 'Up' && !evicting.has(x.id)).sort((a, b) => a.leaders - b.leaders)[0];
      if (to) to.leaders += moved;
      if (s.leaders === 0) this.drainedAt.set(s.id, now);
    }
    // balance-leader: a store that is not evicted (any more) gets leaders back from the one with the most.
    const eligible = this.stores.filter((x) => (x.state ?? 'Up') === 'Up' && !evicting.has(x.id)).sort((a, b) => a.leaders - b.leaders);
    const low = eligible[0];
    const high = eligible[eligible.length - 1];
    if (low && high && high.leaders - low.leaders > step) {
      high.leaders -= step;
      low.leaders += step;
    }
  }

  /** Evicts `step` leaders every `everyMs` (as PD's evict-leader scheduler does over time). */
  startEvicting(everyMs = 300, step = 5): void {
    this.stopEvicting();
    this.timer = setInterval(() => this.stepEviction(step), everyMs);
  }

  stopEvicting(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // ---- transport -----------------------------------------------------------------------------

  /** A fetch for PdClient's fetchImpl: answers in process, or fails like a refused connection while down. */
  readonly fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (this.down) throw new TypeError('fetch failed', { cause: new Error(`connect ECONNREFUSED ${url.host}`) });
    const body = typeof init?.body === 'string' ? init.body : '';
    const r = this.handle(init?.method ?? 'GET', `${url.pathname}${url.search}`, body, url.hostname);
    return new Response(r.status === 405 || r.body === '' ? null : r.body, { status: r.status, headers: r.contentType ? { 'content-type': r.contentType } : {} });
  }) as typeof fetch;

  /**
   * Serves on 127.0.0.1 (port 0 = any); resolves to the base URL. With `tls`, over https requiring a
   * client certificate signed by `tls.ca`, as PD with tidb-operator's tlsCluster does.
   */
  async listen(port = 0, opts: { tls?: { key: string; cert: string; ca: string } } = {}): Promise<string> {
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      if (this.down) {
        req.socket.destroy();
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const r = this.handle(req.method ?? 'GET', req.url ?? '/', body);
        res.writeHead(r.status, r.contentType ? { 'content-type': r.contentType } : {});
        res.end(r.body);
      });
    };
    this.server = opts.tls ? (createTlsServer({ ...opts.tls, requestCert: true, rejectUnauthorized: true }, serve) as unknown as Server) : createServer(serve);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', resolve);
    });
    this.base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.base;
  }

  async close(): Promise<void> {
    this.stopEvicting();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** One request: routes it, logs it, answers as PD would. */
  handle(method: string, pathAndQuery: string, body = '', host?: string): StandinResponse {
    const q = pathAndQuery.indexOf('?');
    const path = q >= 0 ? pathAndQuery.slice(0, q) : pathAndQuery;
    const query = q >= 0 ? pathAndQuery.slice(q + 1) : '';
    let r: StandinResponse = { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' };
    // A member's own /ping (GET <client URL>/pd/api/v1/ping): 200 while it runs, as PD answers.
    const ping = path.match(/^(?:\/member\/([^/]+))?\/pd\/api\/v1\/ping$/);
    if (ping && method.toUpperCase() === 'GET') {
      const name = ping[1] ? decodeURIComponent(ping[1]) : (host && this.members.find((m) => host.startsWith(`${m}.`))) || this.leader;
      r = this.members.includes(name) && !this.unhealthy.has(name) ? { status: 200, contentType: null, body: '' } : { status: 503, contentType: 'text/plain; charset=utf-8', body: 'no leader\n' };
      this.calls.push({ method: 'GET', path, query, body, status: r.status, at: Date.now() });
      return r;
    }
    for (const route of this.routes) {
      const m = path.match(route.pattern);
      if (!m) continue;
      const h = route.methods[method.toUpperCase()];
      r = h ? h(m, new URLSearchParams(query), body) : { status: 405, contentType: null, body: '' };
      break;
    }
    this.calls.push({ method: method.toUpperCase(), path, query, body, status: r.status, at: Date.now() });
    return r;
  }

  // ---- PD's answers --------------------------------------------------------------------------

  private json(status: number, payload: unknown): StandinResponse {
    return this.raw(status, JSON.stringify(payload));
  }

  /** JSON text written by hand (for 64-bit numbers JSON.stringify cannot write). */
  private raw(status: number, text: string): StandinResponse {
    return { status, contentType: JSON_TYPE, body: `${text}\n` };
  }

  /** A member as PD writes it (member_id a bare 64-bit number): /members adds deploy_path and versions, /health has health. */
  private memberJson(name: string, part: 'members' | 'leader' | 'health'): string {
    const i = this.members.indexOf(name);
    // Listening, each member's client URL reaches this server under its own prefix, so that it can be
    // asked for its own health; in process, the URL host names the member.
    const client = this.base ? `${this.base}/member/${encodeURIComponent(name)}` : `http://${name}.${name.replace(/-\d+$/, '')}-peer:2379`;
    const urls = { peer_urls: [`http://${name}.${name.replace(/-\d+$/, '')}-peer:2380`], client_urls: [client] };
    const m =
      part === 'health'
        ? { name, member_id: '@ID@', client_urls: urls.client_urls, health: !this.unhealthy.has(name) }
        : { name, member_id: '@ID@', ...urls, ...(part === 'members' ? { deploy_path: '/', binary_version: 'v8.5.4', git_hash: 'ab1848b1274bfef46e949b9056c98c57aaf3da34' } : {}) };
    return JSON.stringify(m).replace('"@ID@"', memberId(i < 0 ? 9 : i));
  }

  /** A store as PD writes it: `state` only when not Up (0 is left out), node_state 1 (Serving) for an Up store that is ready; transient counters (learner_count, ...) left out as PD does while they are 0. */
  private storeJson(s: StandinStore): string {
    const state = s.state ?? 'Up';
    const code = { Up: 0, Offline: 1, Tombstone: 2 }[state];
    const nodeState = { Up: 1, Offline: 2, Tombstone: 3 }[state];
    const regions = s.regions ?? s.leaders * 3;
    const labels = s.labels ?? [{ key: 'pod', value: s.pod }];
    const store = {
      id: s.id,
      address: s.address ?? `mock:://tikv-${s.id}`,
      ...(code ? { state: code } : {}),
      ...(labels.length ? { labels } : {}),
      version: 'v8.5.4',
      last_heartbeat: '@HB@',
      node_state: nodeState,
      state_name: state,
    };
    const now = new Date().toISOString();
    const status = {
      capacity: '1TiB',
      available: '1021GiB',
      used_size: '2.812GiB',
      leader_count: s.leaders,
      leader_weight: 1,
      leader_score: s.leaders,
      leader_size: s.leaders * 96,
      region_count: regions,
      region_weight: 1,
      region_score: regions * 122.8,
      region_size: regions * 96,
      start_ts: '1970-01-01T00:00:00Z',
      last_heartbeat_ts: now,
      uptime: '1h0m0s',
    };
    // last_heartbeat is Unix nanoseconds, beyond 2^53.
    return JSON.stringify({ store, status }).replace('"@HB@"', `${BigInt(Date.now()) * 1_000_000n}`);
  }

  /** A region as the region checks list it. */
  private regionJson(id: number): unknown {
    const peers = this.stores.slice(0, 3).map((s, i) => ({ role_name: 'Voter', id: id * 10 + i, store_id: s.id }));
    return { id, start_key: '', end_key: '', epoch: { conf_ver: 1, version: 1 }, peers, leader: peers[0] ?? {}, cpu_usage: 0, written_bytes: 0, read_bytes: 0, written_keys: 0, read_keys: 0, approximate_size: 96, approximate_keys: 960000 };
  }

  /** The evict-leader scheduler removed (its last store, or by name): gone from storage and from the running ones. */
  private dropEvictLeader(): void {
    this.evicting.clear();
    this.evictCreatedWith = null;
    if (this.running) this.running = this.running.filter((n) => n !== EVICT_LEADER);
  }

  /** GET /config/schedule: PD v8.5's schedule config with its defaults, and schedulers-v2 as persisted. */
  private scheduleConfig(): Record<string, unknown> {
    const evictArg = this.evictCreatedWith !== null && this.evicting.has(this.evictCreatedWith) ? this.evictCreatedWith : [...this.evicting][0];
    const schedulers = [
      ...DEFAULT_SCHEDULERS.map(([, type]) => ({ type, args: null, disable: false, 'args-payload': '' })),
      // PD keeps the args the scheduler was created with (its first store), whatever stores it holds now.
      ...(this.evicting.size ? [{ type: 'evict-leader', args: [String(evictArg)], disable: false, 'args-payload': '' }] : []),
    ];
    return {
      'max-snapshot-count': 64,
      'max-pending-peer-count': 64,
      'max-merge-region-size': 54,
      'max-merge-region-keys': 540000,
      'split-merge-interval': '1h0m0s',
      'switch-witness-interval': '1h0m0s',
      'enable-one-way-merge': 'false',
      'enable-cross-table-merge': 'true',
      'patrol-region-interval': '10ms',
      'max-store-down-time': '30m0s',
      'max-store-preparing-time': '48h0m0s',
      'leader-schedule-limit': 4,
      'leader-schedule-policy': 'count',
      'region-schedule-limit': 2048,
      'witness-schedule-limit': 4,
      'replica-schedule-limit': 64,
      'merge-schedule-limit': 8,
      'hot-region-schedule-limit': 4,
      'hot-region-cache-hits-threshold': 3,
      'store-limit': Object.fromEntries(this.stores.filter((s) => s.state !== 'Tombstone').map((s) => [String(s.id), { 'add-peer': 15, 'remove-peer': 15 }])),
      'tolerant-size-ratio': 0,
      'low-space-ratio': 0.8,
      'high-space-ratio': 0.7,
      'region-score-formula-version': 'v2',
      'scheduler-max-waiting-operator': 5,
      'enable-remove-down-replica': 'true',
      'enable-replace-offline-replica': 'true',
      'enable-make-up-replica': 'true',
      'enable-remove-extra-replica': 'true',
      'enable-location-replacement': 'true',
      'enable-debug-metrics': 'false',
      'enable-joint-consensus': 'true',
      'enable-tikv-split-region': 'true',
      'enable-heartbeat-breakdown-metrics': 'true',
      'enable-heartbeat-concurrent-runner': 'true',
      'schedulers-v2': schedulers,
      'hot-regions-write-interval': '10m0s',
      'hot-regions-reserved-days': 7,
      'max-movable-hot-peer-size': 512,
      'enable-diagnostic': 'true',
      'enable-witness': 'false',
      'slow-store-evicting-affected-store-ratio-threshold': 0.3,
      'store-limit-version': 'v1',
      'patrol-region-worker-count': 1,
    };
  }

  private buildRoutes(): Array<{ pattern: RegExp; methods: Record<string, Handler> }> {
    const r = (path: string, methods: Record<string, Handler>) => ({ pattern: new RegExp(`^${API}${path}$`), methods });
    const storeStates = (query: URLSearchParams): StoreState[] | null => {
      const all = query.getAll('state');
      if (all.length === 0) return ['Up', 'Offline'];
      const names: StoreState[] = [];
      for (const v of all) {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 2) return null;
        names.push((['Up', 'Offline', 'Tombstone'] as const)[n]!);
      }
      return names;
    };
    const regionCheck = (kind: string): StandinResponse => {
      const ids = this.regionChecks.get(kind) ?? [];
      // PD writes these without a JSON content type.
      return { status: 200, contentType: 'application/octet-stream', body: JSON.stringify({ count: ids.length, regions: ids.map((id) => this.regionJson(id)) }) };
    };
    const NOT_FOUND: StandinResponse = { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' };
    const storeNotFound = (id: string) => this.json(404, `[PD:core:ErrStoreNotFound]store ${id} not found`);
    return [
      r('/members', {
        GET: () => this.raw(200, `{"header":{"cluster_id":${this.clusterId}},"members":[${this.members.map((m) => this.memberJson(m, 'members')).join(',')}],"leader":${this.memberJson(this.leader, 'members')},"etcd_leader":${this.memberJson(this.leader, 'members')}}`),
      }),
      r('/health', {
        GET: () => this.raw(200, `[${this.members.map((m) => this.memberJson(m, 'health')).join(',')}]`),
      }),
      r('/leader', { GET: () => this.raw(200, this.memberJson(this.leader, 'leader')) }),
      r('/leader/resign', {
        POST: () => {
          // Another healthy member campaigns and wins; alone, the leader is elected again.
          const next = this.members.find((m) => m !== this.currentLeader && !this.unhealthy.has(m)) ?? this.currentLeader;
          this.elect(next);
          return this.json(200, 'The resign command is submitted.');
        },
      }),
      r('/leader/transfer/([^/]+)', {
        POST: (m) => {
          const to = decodeURIComponent(m[1]!);
          if (!this.members.includes(to)) return this.json(500, 'no valid pd to transfer etcd leader');
          if (this.unhealthy.has(to)) return this.json(500, '[PD:etcd:ErrEtcdMoveLeader]etcdserver: request timed out, leader transfer took too long: etcdserver: request timed out, leader transfer took too long');
          const from = this.leader;
          const done = () => {
            this.leader = to;
            this.transfers.push({ from, to, at: Date.now() });
          };
          if (this.transferDelayMs > 0) setTimeout(done, this.transferDelayMs);
          else done();
          return this.json(200, 'The transfer command is submitted.');
        },
      }),
      r('/stores', {
        GET: (_m, query) => {
          const states = storeStates(query);
          if (!states) return this.json(500, `[PD:apiutil:ErrInvalidStoreState]invalid store state ${query.getAll('state').join(',')}`);
          if (this.evictPerRead > 0) this.stepEviction(this.evictPerRead);
          const list = this.stores.filter((s) => states.includes(s.state ?? 'Up'));
          return this.raw(200, `{"count":${list.length},"stores":[${list.map((s) => this.storeJson(s)).join(',')}]}`);
        },
      }),
      r('/store/(\\d+)', {
        GET: (m) => {
          const s = this.store(Number(m[1]));
          return s ? this.raw(200, this.storeJson(s)) : storeNotFound(m[1]!);
        },
        DELETE: (m) => {
          const s = this.store(Number(m[1]));
          if (!s) return storeNotFound(m[1]!);
          if (s.state === 'Tombstone') return this.json(410, `[PD:core:ErrStoreRemoved]store ${s.id} has been removed`);
          s.state = 'Offline';
          return this.json(200, 'The store is set as Offline.');
        },
      }),
      r('/store/(\\d+)/label', {
        POST: (m, query, body) => {
          let input: unknown;
          try {
            input = JSON.parse(body);
          } catch {
            return this.json(400, { code: 'input', msg: 'invalid character in the request body', data: {} });
          }
          if (typeof input !== 'object' || input === null || Array.isArray(input) || Object.values(input).some((v) => typeof v !== 'string')) {
            return this.json(400, { code: 'input', msg: 'json: cannot unmarshal into Go value of type map[string]string', data: {} });
          }
          const labels = Object.entries(input as Record<string, string>);
          for (const [k, v] of labels) {
            if (!LABEL_KEY.test(k)) return this.json(400, { code: 'input', msg: `${k} does not match format "${LABEL_KEY.source}"`, data: {} });
            if (!LABEL_VALUE.test(v)) return this.json(400, { code: 'input', msg: `${v} does not match format "${LABEL_VALUE.source}"`, data: {} });
          }
          const s = this.store(Number(m[1]));
          if (!s) return this.json(500, `[PD:cluster:ErrInvalidStoreID]invalid store id ${m[1]}, not found`);
          if (query.has('force')) {
            s.labels = labels.map(([key, value]) => ({ key, value }));
          } else {
            // Merged into the store's labels, keys compared without case; an empty value removes the label.
            const merged = (s.labels ?? [{ key: 'pod', value: s.pod }]).map((l) => ({ ...l }));
            for (const [key, value] of labels) {
              const same = merged.find((l) => l.key.toLowerCase() === key.toLowerCase());
              if (same) same.value = value;
              else merged.push({ key, value });
            }
            s.labels = merged.filter((l) => l.value !== '');
          }
          return this.json(200, "The store's label is updated.");
        },
      }),
      r('/schedulers', {
        GET: () => this.json(200, this.runningSchedulers()),
        POST: (_m, _q, body) => {
          let input: Record<string, unknown>;
          try {
            input = JSON.parse(body) as Record<string, unknown>;
          } catch {
            return this.json(400, 'invalid character in the request body');
          }
          if (typeof input.name !== 'string') return this.json(400, 'missing scheduler name');
          if (input.name !== EVICT_LEADER) return this.json(400, 'unknown scheduler');
          if (typeof input.store_id !== 'number') return this.json(400, 'missing store id');
          const s = this.store(input.store_id);
          if (!s) return this.json(500, `[PD:core:ErrStoreNotFound]store ${input.store_id} not found`);
          if (this.isRunning(EVICT_LEADER)) {
            this.evicting.add(s.id);
            return this.json(200, 'The scheduler has been applied to the store.');
          }
          // No running evict-leader scheduler: PD creates one holding this store alone and saves it over
          // any persisted one, which a restore under way then skips as existing.
          this.evicting.clear();
          this.evicting.add(s.id);
          this.evictCreatedWith = s.id;
          this.running?.push(EVICT_LEADER);
          return this.json(200, 'The scheduler is created.');
        },
      }),
      r('/schedulers/([^/]+)', {
        DELETE: (m) => {
          const name = decodeURIComponent(m[1]!);
          const id = /^evict-leader-scheduler-(\d+)$/.exec(name)?.[1];
          const running = this.isRunning(EVICT_LEADER);
          if (id === undefined) {
            // The whole scheduler, by name.
            if (name !== EVICT_LEADER || !running) return this.json(404, '[PD:scheduler:ErrSchedulerNotFound]scheduler not found');
            this.dropEvictLeader();
            return this.json(200, 'The scheduler is removed.');
          }
          // One store: PD forwards to the scheduler's own config handler, which is not routed while the
          // scheduler does not run; either way it answers a JSON null with the status it got.
          if (!running || !this.evicting.delete(Number(id))) return this.raw(404, 'null');
          // PD drops the scheduler with its last store.
          if (this.evicting.size === 0) this.dropEvictLeader();
          return this.raw(200, 'null');
        },
        POST: () => this.json(200, 'Pause or resume the scheduler successfully.'),
      }),
      r('/scheduler-config/evict-leader-scheduler/list', {
        GET: () => {
          // Without the running scheduler, its config path is unknown to PD's router.
          if (!this.isRunning(EVICT_LEADER)) return NOT_FOUND;
          return this.json(200, { 'store-id-ranges': Object.fromEntries([...this.evicting].map((id) => [String(id), [{ 'start-key': '', 'end-key': '' }]])), batch: 3 });
        },
      }),
      r('/config/schedule', {
        // The leader's persisted schedule config, reloaded at its election: schedulers-v2 lists the
        // schedulers it restores, before they run.
        GET: () => this.json(200, this.scheduleConfig()),
      }),
      r('/regions/check/(miss-peer|extra-peer|pending-peer|down-peer|learner-peer|empty-region|offline-peer|oversized-region|undersized-region)', {
        GET: (m) => regionCheck(m[1]!),
      }),
      r('/config/replicate', {
        GET: () => this.json(200, { 'max-replicas': this.maxReplicas, 'location-labels': '', 'strictly-match-label': 'false', 'enable-placement-rules': 'true', 'enable-placement-rules-cache': 'false', 'isolation-level': '' }),
      }),
    ];
  }
}
