// A typed PD HTTP client. Every response is validated with zod; uint64 ids (member_id, cluster_id,
// last_heartbeat) are kept as exact strings; every call has a short deadline so that an admission
// request always gets an answer inside its webhook timeout.
import { actSignal, writeSignal } from '../act.ts';
import { z } from 'zod';

/** JSON.parse that keeps integers beyond 2^53 as their exact decimal text. */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text, function (this: unknown, _key: string, value: unknown, context?: { source?: string }) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value) && context?.source) return context.source;
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown);
}

/** PD's answer as JSON, or a PdError that says what came instead (an HTML error page, a proxy's text). */
function parseAnswer(what: string, status: number, text: string): unknown {
  try {
    return parseJsonExact(text);
  } catch {
    throw new PdError(`${what} answered with text that is not JSON: ${text.slice(0, 200)}`, status);
  }
}

const Id = z.union([z.string(), z.number()]).transform((v) => String(v));

export const Member = z.looseObject({
  name: z.string(),
  member_id: Id.optional(),
  client_urls: z.array(z.string()).nullish(),
  peer_urls: z.array(z.string()).nullish(),
});
export type Member = z.infer<typeof Member>;

export const Members = z.looseObject({
  members: z.array(Member).nullish().transform((m) => m ?? []),
  leader: Member.nullish(),
});

export const Health = z.array(z.looseObject({ name: z.string(), health: z.boolean() }));

export const StoreInfo = z.looseObject({
  store: z.looseObject({
    id: Id,
    address: z.string().default(''),
    state_name: z.string().default('Up'),
    labels: z.array(z.looseObject({ key: z.string(), value: z.string() })).nullish().transform((l) => l ?? []),
  }),
  status: z.looseObject({ leader_count: z.number().default(0), region_count: z.number().default(0) }).default({ leader_count: 0, region_count: 0 }),
});
export type StoreInfo = z.infer<typeof StoreInfo>;

export const Stores = z.looseObject({ stores: z.array(StoreInfo).nullish().transform((s) => s ?? []) });

export const Replication = z.looseObject({ 'max-replicas': z.number().int().positive() });
export const LocationLabels = z.looseObject({ 'location-labels': z.union([z.string(), z.array(z.string())]).nullish() });
/** One region as PD's region check APIs list it: its peers' stores and the ones that are down. */
export const CheckedRegion = z.looseObject({
  id: Id,
  peers: z.array(z.looseObject({ store_id: Id })).nullish().transform((p) => (p ?? []).map((x) => x.store_id)),
  down_peers: z
    .array(z.looseObject({ peer: z.looseObject({ store_id: Id }).nullish() }))
    .nullish()
    .transform((p) => p?.flatMap((x) => (x.peer ? [x.peer.store_id] : [])) ?? []),
});
export type CheckedRegion = z.infer<typeof CheckedRegion>;
export const CheckedRegions = z.looseObject({
  count: z.number().default(0),
  regions: z.array(CheckedRegion).nullish().transform((r) => r ?? []),
});

/** PD's region checks the drain reads: regions lacking a peer, with a down peer, or with one on an offline store. */
export const REGION_CHECKS = ['miss-peer', 'down-peer', 'offline-peer'] as const;
export type RegionCheck = (typeof REGION_CHECKS)[number];

export const EvictLeaderList = z.looseObject({ 'store-id-ranges': z.record(z.string(), z.unknown()).default({}) });

/** PD's persisted schedule config, as far as read here: the schedulers its leader restores after an election. */
export const ScheduleConfig = z.looseObject({
  'schedulers-v2': z
    .array(z.looseObject({ type: z.string(), disable: z.boolean().nullish() }))
    .nullable()
    .transform((s) => s ?? []),
});

/** What PD says of its evict-leader scheduler (PdClient.evictLeaderState). */
export interface EvictLeaderState {
  /** Store ids it holds ([] when PD has none, running or persisted); null while PD's answer is not final. */
  stores: string[] | null;
  /** PD's leader as GET /pd/api/v1/leader named it alongside; null when it named none or did not answer. */
  leader: string | null;
  /** Why `stores` is what it is, for a log line or an Event. */
  reason: string;
}

/** Types schedulers-v2 names the evict-leader scheduler by (PD v8.5 writes the old one). */
const EVICT_LEADER_TYPES = new Set(['evict-leader', 'evict-leader-scheduler']);

/** PD's ways of saying a scheduler (or its config path) does not exist. */
function notFound(status: number, text: string): boolean {
  return status === 404 || (status === 500 && /not found|doesn't exist|not exist/i.test(text));
}

export class PdError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

export interface PdClientOptions {
  /** PD endpoints of one cluster, tried in order; the first that answers wins. */
  endpoints: readonly string[];
  /** Deadline of one HTTP call, per endpoint. */
  timeoutMs: number;
  fetchImpl?: typeof fetch;
  /** Deadline of one member's own health check (its /ping), asked of all members in parallel. */
  memberTimeoutMs?: number;
}

export const EVICT_LEADER = 'evict-leader-scheduler';

export class PdClient {
  private readonly opts: PdClientOptions;
  /** The endpoint that answered last is tried first next time. */
  private preferred = 0;

  constructor(opts: PdClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('PdClient needs at least one endpoint');
    this.opts = opts;
  }

  get endpoints(): readonly string[] {
    return this.opts.endpoints;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const doFetch = this.opts.fetchImpl ?? fetch;
    const errors: string[] = [];
    const n = this.opts.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.preferred + i) % n;
      const base = this.opts.endpoints[index]!.replace(/\/+$/, '');
      try {
        const res = await doFetch(`${base}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          // Stryker disable next-line ConditionalExpression: equivalent, JSON.stringify(undefined) is undefined, i.e. no body
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          // A write made for a controller act also ends with that act (leadership lost, act deadline).
          signal: method === 'GET' ? AbortSignal.timeout(this.opts.timeoutMs) : writeSignal(AbortSignal.timeout(this.opts.timeoutMs)),
        });
        const text = await res.text();
        // A follower that cannot reach the leader answers 5xx: another member may do better.
        if (res.status >= 500 && i < n - 1) {
          errors.push(`${base}: HTTP ${res.status} ${text.slice(0, 200)}`);
          continue;
        }
        this.preferred = index;
        return { status: res.status, text };
      } catch (err) {
        const e = err as Error;
        // The act ended: no other endpoint is tried.
        if (method !== 'GET' && actSignal()?.aborted) throw new PdError(`PD ${method} ${path} abandoned: ${String(actSignal()!.reason?.message ?? actSignal()!.reason)}`);
        errors.push(`${base}: ${e.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs} ms` : e.message}`);
      }
    }
    throw new PdError(`PD is unreachable (${errors.join('; ')})`);
  }

  private async json<T>(schema: z.ZodType<T>, method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.call(method, path, body);
    // Stryker disable next-line ConditionalExpression: equivalent, fetch never resolves with a status below 200
    if (status < 200 || status >= 300) throw new PdError(`PD ${method} ${path} answered HTTP ${status}: ${text.slice(0, 300)}`, status);
    const parsed = schema.safeParse(parseAnswer(`PD ${method} ${path}`, status, text));
    // Stryker disable next-line OptionalChaining,StringLiteral,LogicalOperator: equivalent, a failed zod parse always has a first issue (the fallback is for the type)
    if (!parsed.success) throw new PdError(`PD ${method} ${path} answered an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`, status);
    return parsed.data;
  }

  members() {
    return this.json(Members, 'GET', '/pd/api/v1/members');
  }

  health() {
    return this.json(Health, 'GET', '/pd/api/v1/health');
  }

  async transferLeader(to: string): Promise<void> {
    const { status, text } = await this.call('POST', `/pd/api/v1/leader/transfer/${encodeURIComponent(to)}`);
    if (status !== 200) throw new PdError(`PD refused to transfer leadership to ${to}: HTTP ${status} ${text.slice(0, 300)}`, status);
  }

  async stores(): Promise<StoreInfo[]> {
    // Up, Offline and Tombstone: a Tombstone store must be recognised, not mistaken for a missing one.
    return (await this.json(Stores, 'GET', '/pd/api/v1/stores?state=0&state=1&state=2')).stores;
  }

  /**
   * Health of each member, asked of the member itself (GET <client URL>/pd/api/v1/ping) in parallel
   * with a short deadline. PD's own /health asks members one after another with 3 s each, so one
   * unreachable member makes it miss any webhook deadline. No answer means unhealthy.
   */
  async memberHealth(members: readonly Member[]): Promise<Array<{ name: string; healthy: boolean }>> {
    const doFetch = this.opts.fetchImpl ?? fetch;
    const timeoutMs = this.opts.memberTimeoutMs ?? Math.min(this.opts.timeoutMs, 1000);
    const ping = async (url: string): Promise<boolean> => {
      try {
        // Without this header a follower forwards /ping to the leader: during an election, or while the
        // leader is the unreachable one, every member would look unhealthy.
        const res = await doFetch(`${url.replace(/\/+$/, '')}/pd/api/v1/ping`, { headers: { 'PD-Allow-follower-handle': 'true' }, signal: AbortSignal.timeout(timeoutMs) });
        await res.text();
        return res.status === 200;
      }
      // Stryker disable next-line BlockStatement: equivalent, an empty catch yields undefined, which some(Boolean) counts as no answer just like false
      catch {
        return false;
      }
    };
    return Promise.all(
      members.map(async (m) => {
        // A member without a client URL cannot be asked: no answer, unhealthy.
        const answers = await Promise.all((m.client_urls ?? []).map(ping));
        return { name: m.name, healthy: answers.some(Boolean) };
      }),
    );
  }

  /** Regions PD lists for one check (miss-peer, down-peer, offline-peer). */
  async regionCheck(check: RegionCheck): Promise<{ count: number; regions: CheckedRegion[] }> {
    const { status, text } = await this.call('GET', `/pd/api/v1/regions/check/${check}`);
    if (status !== 200) throw new PdError(`PD region check ${check} answered HTTP ${status}: ${text.slice(0, 300)}`, status);
    const parsed = CheckedRegions.safeParse(parseAnswer(`PD region check ${check}`, status, text));
    // Stryker disable next-line OptionalChaining,StringLiteral,LogicalOperator: equivalent, a failed zod parse always has a first issue (the fallback is for the type)
    if (!parsed.success) throw new PdError(`PD region check ${check} answered an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`, status);
    return { count: parsed.data.regions.length || parsed.data.count, regions: parsed.data.regions };
  }

  /**
   * The evict-leader scheduler as PD's leader knows it, and whether that answer is final.
   *
   * The rule (PD v8.5's source: server campaignLeader, schedule Coordinator.InitSchedulers; and seen
   * against real pd-server v8.5.4, issue 14): a newly elected leader reloads its persisted config at
   * once, schedulers-v2 of GET /config/schedule included, but re-creates the running schedulers from
   * storage one by one, and only once the cluster is prepared (seconds). Until the evict-leader
   * scheduler is re-created, PD routes nothing to it: its list and a DELETE of one store answer 404,
   * the DELETE changes nothing, and the entry is back once the scheduler is. GET /schedulers meanwhile
   * lists the schedulers restored so far, so a list that is not empty proves nothing about this one.
   * Hence: the list answering is final (it is the running scheduler's own config); a 404 (or PD's
   * "not found" 500) is final only when schedulers-v2 has no evict-leader entry, i.e. nothing to
   * restore; with one there, the leader is still restoring it and the stores are unknown (null).
   * PD unreachable or an answer it would not give is a PdError, as for every call.
   */
  async evictLeaderState(): Promise<EvictLeaderState> {
    const [state, leader] = await Promise.all([this.readEvictLeader(), this.leaderName()]);
    return { ...state, leader };
  }

  /** The PD leader's name (GET /leader), or null when PD names none or cannot be asked. */
  private async leaderName(): Promise<string | null> {
    try {
      const { status, text } = await this.call('GET', '/pd/api/v1/leader');
      if (status !== 200) return null;
      const parsed = Member.safeParse(parseJsonExact(text));
      return parsed.success ? parsed.data.name : null;
    } catch {
      return null;
    }
  }

  private async readEvictLeader(): Promise<{ stores: string[] | null; reason: string }> {
    const { status, text } = await this.call('GET', `/pd/api/v1/scheduler-config/${EVICT_LEADER}/list`);
    if (status === 200) {
      const parsed = EvictLeaderList.safeParse(parseAnswer('PD evict-leader list', status, text));
      if (!parsed.success) throw new PdError('PD evict-leader list has an unexpected shape');
      const stores = Object.keys(parsed.data['store-id-ranges']);
      return { stores, reason: stores.length ? `PD's evict-leader scheduler holds store${stores.length > 1 ? 's' : ''} ${stores.join(', ')}` : "PD's evict-leader scheduler holds no store" };
    }
    if (!notFound(status, text)) throw new PdError(`PD evict-leader list answered HTTP ${status}: ${text.slice(0, 300)}`, status);
    const persisted = await this.json(ScheduleConfig, 'GET', '/pd/api/v1/config/schedule');
    if (persisted['schedulers-v2'].some((c) => EVICT_LEADER_TYPES.has(c.type) && !c.disable)) {
      return { stores: null, reason: `PD's leader has an evict-leader scheduler in its persisted config but does not run it yet (its list answers HTTP ${status}): it is still restoring its schedulers after an election, and the stores it will hold again are unknown until it has; try again in a few seconds` };
    }
    return { stores: [], reason: `PD has no evict-leader scheduler, running or persisted (its list answers HTTP ${status})` };
  }

  /** Store ids currently in the evict-leader scheduler; a PdError (503) while PD's answer is not final (see evictLeaderState). */
  async evictingStores(): Promise<string[]> {
    const { stores, reason } = await this.readEvictLeader();
    if (stores === null) throw new PdError(`PD evict-leader list: ${reason}`, 503);
    return stores;
  }

  /**
   * Adds a store to the evict-leader scheduler. Refused (PdError 503) while PD's leader has not
   * restored that scheduler: PD would create it afresh with this store alone, saved over the persisted
   * one, and the stores that were in it would silently get leaders back.
   */
  async addEvictLeader(storeId: string): Promise<void> {
    const { stores, reason } = await this.readEvictLeader();
    if (stores === null) throw new PdError(`evicting leaders from store ${storeId}: ${reason}`, 503);
    const { status, text } = await this.call('POST', '/pd/api/v1/schedulers', { name: EVICT_LEADER, store_id: Number(storeId) });
    if (status !== 200) throw new PdError(`PD refused to evict leaders from store ${storeId}: HTTP ${status} ${text.slice(0, 300)}`, status);
  }

  /**
   * Idempotent: a store that is not being evicted is not an error, once PD's answer is final. PD
   * answers the DELETE 404 both for a store it does not evict and while its new leader has not
   * restored the scheduler (the entry then comes back): only evictLeaderState tells them apart, and a
   * PdError (503) says when it cannot yet.
   */
  async removeEvictLeader(storeId: string): Promise<void> {
    const { status, text } = await this.call('DELETE', `/pd/api/v1/schedulers/${EVICT_LEADER}-${encodeURIComponent(storeId)}`);
    if (status === 200) return;
    if (!notFound(status, text)) throw new PdError(`PD refused to stop evicting leaders from store ${storeId}: HTTP ${status} ${text.slice(0, 300)}`, status);
    const { stores, reason } = await this.readEvictLeader();
    if (stores === null) throw new PdError(`stopping the leader eviction of store ${storeId}: ${reason}`, 503);
    if (stores.includes(storeId)) {
      throw new PdError(`stopping the leader eviction of store ${storeId}: PD answered the DELETE with HTTP ${status} but its evict-leader scheduler holds the store (its leader restored it in between); try again`, 503);
    }
  }

  /**
   * Sets labels of a store (POST /store/{id}/label). PD merges them into the store's labels (keys
   * compared without case) and drops a label given an empty value; it refuses an unknown store (500)
   * and a key or value outside its label format (400).
   */
  async setStoreLabels(storeId: string, labels: Readonly<Record<string, string>>): Promise<void> {
    const { status, text } = await this.call('POST', `/pd/api/v1/store/${encodeURIComponent(storeId)}/label`, labels);
    if (status !== 200) throw new PdError(`PD refused to set labels ${JSON.stringify(labels)} on store ${storeId}: HTTP ${status} ${text.slice(0, 300)}`, status);
  }

  // --- used by the TidbCluster controller (scale-in, suspend) ---

  /** Removes a PD member by name; a member that is already gone is not an error. */
  async deleteMember(name: string): Promise<void> {
    const { status, text } = await this.call('DELETE', `/pd/api/v1/members/name/${encodeURIComponent(name)}`);
    if (status === 200 || status === 404) return;
    throw new PdError(`PD refused to remove member ${name}: HTTP ${status} ${text.slice(0, 300)}`, status);
  }

  /** Asks PD to take a store offline (its regions move away; it becomes Tombstone when empty). */
  async deleteStore(storeId: string): Promise<void> {
    const { status, text } = await this.call('DELETE', `/pd/api/v1/store/${encodeURIComponent(storeId)}`);
    if (status === 200) return;
    throw new PdError(`PD refused to delete store ${storeId}: HTTP ${status} ${text.slice(0, 300)}`, status);
  }

  /** Cancels the removal of an Offline store (back to Up). */
  async cancelStoreRemoval(storeId: string): Promise<void> {
    const { status, text } = await this.call('POST', `/pd/api/v1/store/${encodeURIComponent(storeId)}/state?state=Up`);
    if (status === 200) return;
    throw new PdError(`PD refused to bring store ${storeId} back Up: HTTP ${status} ${text.slice(0, 300)}`, status);
  }

  /** PD's replication max-replicas: how many copies of each region it keeps. */
  async maxReplicas(): Promise<number> {
    return (await this.json(Replication, 'GET', '/pd/api/v1/config/replicate'))['max-replicas'];
  }

  /** PD's replication.location-labels: the store label keys it separates a region's replicas by. */
  async locationLabels(): Promise<string[]> {
    const value = (await this.json(LocationLabels, 'GET', '/pd/api/v1/config/replicate'))['location-labels'];
    // PD writes the list as one comma-separated string.
    const list = Array.isArray(value) ? value : (value ?? '').split(',');
    return list.map((x) => x.trim()).filter(Boolean);
  }

  /** Sets replication.location-labels (PD reads the comma-separated form). */
  async setLocationLabels(labels: readonly string[]): Promise<void> {
    const { status, text } = await this.call('POST', '/pd/api/v1/config/replicate', { 'location-labels': labels.join(',') });
    if (status !== 200) throw new PdError(`PD refused location-labels ${labels.join(',')}: HTTP ${status} ${text.slice(0, 300)}`, status);
  }
}

/** Where PD is reached: the test/demo override, else the PD Service of the cluster. */
export function pdEndpointsFor(namespace: string, cluster: string, overrides: Readonly<Record<string, readonly string[]>>, tls = false): readonly string[] {
  return overrides[`${namespace}/${cluster}`] ?? [`${tls ? 'https' : 'http'}://${cluster}-pd.${namespace}.svc:2379`];
}
