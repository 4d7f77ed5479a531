// The PD of one TidbCluster driven by the controller (its e2e test and the demo), chosen once per
// process like test/cluster/pd-backend.ts: real pd-server and pd-simulator from PD_BIN_DIR when it is
// set, the pod-following stand-in (pd-fleet.ts) otherwise. Either way members and stores follow the
// cluster's pods, members join and leave PD as the controller scales it, and a test reads the same
// things back: PD's members, leader, stores, evict-leader entries, and a log of what PD went through
// in the stand-in's words ("leader a → b", "member x removed", "store 4 of basic-tikv-3 Tombstone",
// "evict leaders of store 2"). With real PD that log is what a 100 ms poll of PD's API saw.
import { join } from 'node:path';
import { KUBECONFIG } from '../cluster/controlplane.ts';
import { STATE } from '../cluster/paths.ts';
import { pdBackendKind, pdBackendLine, type PdBackendKind } from '../cluster/pd-backend.ts';
import { PD_BASE_PORT, describeFollowEvent, followPods, pdRequest, startPdCluster, startSimulator, type PdCluster, type Simulator, type StoreInfo } from '../cluster/pd.ts';
import type { PdFleet, PdModel } from './pd-fleet.ts';

export interface TcStore {
  id: number;
  pod: string | null;
  state: string;
  /** Region leaders PD counts on it. */
  leaders: number;
  /** When it was first seen Tombstone (ms). */
  tombstoneAt?: number;
}

export interface TcPd {
  kind: PdBackendKind;
  /** The one line saying which PD runs. */
  line: string;
  /** The STEWARD_PD_ENDPOINTS entry of this cluster (known before start()). */
  readonly endpoints: string[];
  /** Member names as PD lists them, sorted. */
  members(): Promise<string[]>;
  leader(): Promise<string | null>;
  /** Makes `name` PD's leader and waits until it is. */
  makeLeader(name: string): Promise<void>;
  /** Every store PD knows of the cluster, Tombstone ones included, by id. */
  stores(): Promise<TcStore[]>;
  /** Store ids in PD's evict-leader scheduler. */
  evicting(): Promise<number[]>;
  /** Puts a store in PD's evict-leader scheduler, as a drain in progress would leave it. */
  evict(storeId: number): Promise<void>;
  /** What PD went through, oldest first. */
  readonly log: ReadonlyArray<{ at: number; what: string }>;
  /** Real PD only: keep every pd-server running whatever the pods do (to read PD after the pods are gone). */
  holdMembers(): void;
  stop(): Promise<void>;
}

export interface TcPdOptions {
  namespace: string;
  cluster: string;
  /** Members and stores the TidbCluster starts with (its PD and TiKV replicas). */
  pdMembers: number;
  tikvStores: number;
  regions?: number;
  /** The stand-in fleet serving this process's other clusters; the stand-in side of this one lives in it. */
  fleet: PdFleet;
  /** Real PD: every member join/removal and store added, as one line. */
  onFollow?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type TcPdHandle = TcPd & {
  /**
   * Starts PD and its following of the pods. Real PD: once the control plane runs (bringing it up
   * stops pd-servers left under its state folder); its endpoints are known before, for the steward.
   */
  start(): Promise<void>;
};

/** The PD of one TidbCluster, started by `start()`. Stand-in: a model in `fleet` (which the caller follows). */
export function tcPd(opts: TcPdOptions): TcPdHandle {
  if (pdBackendKind() === 'stand-in') return standin(opts.fleet.model(opts.namespace, opts.cluster), opts);
  return real(opts);
}

function standin(model: PdModel, opts: TcPdOptions): TcPdHandle {
  return {
    kind: 'stand-in',
    line: 'PD: the stand-in whose members and stores follow their pods (test/e2e/pd-fleet.ts). Set PD_BIN_DIR to a folder with pd-server and pd-simulator v8.5 to run against real PD.',
    get endpoints() {
      return [opts.fleet.endpoint(opts.namespace, opts.cluster)];
    },
    members: async () => [...model.members.keys()].sort(),
    leader: async () => model.leader,
    async makeLeader(name) {
      model.leader = name;
    },
    stores: async () => model.stores.map((s) => ({ id: s.id, pod: s.pod, state: s.state, leaders: s.leaders, ...(s.tombstoneAt ? { tombstoneAt: s.tombstoneAt } : {}) })),
    evicting: async () => [...model.evicting],
    async evict(id) {
      model.evicting.add(id);
    },
    get log() {
      return model.log;
    },
    holdMembers() {},
    start: async () => undefined,
    stop: async () => undefined,
  };
}

function real(opts: TcPdOptions): TcPdHandle {
  const root = join(STATE, 'pd', `${opts.namespace}-${opts.cluster}`);
  const names = Array.from({ length: opts.pdMembers }, (_, i) => `${opts.cluster}-pd-${i}`);
  // startPdCluster's ports (member i on PD_BASE_PORT + 2i). The steward is told the initial members;
  // the controller finds the others through PD.
  const endpoints = names.map((_, i) => `http://127.0.0.1:${PD_BASE_PORT + 2 * i}`);
  let pd: PdCluster | null = null;
  let sim: Simulator | null = null;
  const hold = new Set<string>();
  let following: { stop(): Promise<void> } | null = null;
  const log: Array<{ at: number; what: string }> = [];
  const note = (what: string) => log.push({ at: Date.now(), what });
  const tombstoneAt = new Map<number, number>();

  const get = async (path: string) => {
    const errors: string[] = [];
    if (!pd) throw new Error('PD is not started');
    const p = pd;
    for (const e of p.endpoints.filter((_, i) => p.isRunning(p.names[i]!))) {
      try {
        const r = await pdRequest(`${e}${path}`, { timeoutMs: 1500 });
        if (r.status < 500) return r;
        errors.push(`${e}: HTTP ${r.status} ${r.text.slice(0, 120)}`);
      } catch (err) {
        errors.push(`${e}: ${(err as Error).message}`);
      }
    }
    throw new Error(`GET ${path}: ${errors.join('; ') || 'no PD member is running'}`);
  };
  const api = {
    async members() {
      if (!pd) throw new Error('PD is not started');
      return pd.memberNames();
    },
    async leader() {
      const r = await get('/pd/api/v1/leader');
      return r.status === 200 ? ((r.json as { name?: string }).name ?? null) : null;
    },
    async stores(): Promise<TcStore[]> {
      const r = await get('/pd/api/v1/stores?state=0&state=1&state=2');
      if (r.status !== 200) throw new Error(`GET /pd/api/v1/stores: HTTP ${r.status} ${r.text.slice(0, 120)}`);
      return ((r.json as { stores?: StoreInfo[] }).stores ?? [])
        .map((s) => ({ id: s.store.id, pod: s.store.labels?.find((l) => l.key === 'pod')?.value ?? null, state: s.store.state_name, leaders: s.status?.leader_count ?? 0, ...(tombstoneAt.has(s.store.id) ? { tombstoneAt: tombstoneAt.get(s.store.id)! } : {}) }))
        .sort((a, b) => a.id - b.id);
    },
    async evicting() {
      const r = await get('/pd/api/v1/scheduler-config/evict-leader-scheduler/list');
      if (r.status !== 200) return [];
      return Object.keys((r.json as { 'store-id-ranges'?: Record<string, unknown> })['store-id-ranges'] ?? {}).map(Number);
    },
  };

  // The log: PD's leader, members, store states and evict-leader entries, every 100 ms.
  let watching = true;
  const seen = { leader: null as string | null, members: null as string[] | null, stores: new Map<number, string>(), evicting: new Set<number>() };
  const watchLoop = async () => {
    while (watching) {
      const [leader, members, stores, evicting] = await Promise.all([api.leader().catch(() => null), api.members().catch(() => null), api.stores().catch(() => null), api.evicting().catch(() => null)]);
      if (leader && leader !== seen.leader) {
        if (seen.leader) note(`leader ${seen.leader} → ${leader}`);
        else note(`leader ${leader}`);
        seen.leader = leader;
      }
      if (members) {
        if (seen.members) {
          for (const m of members) if (!seen.members.includes(m)) note(`member ${m} joined`);
          for (const m of seen.members) if (!members.includes(m)) note(`member ${m} removed`);
        }
        seen.members = members;
      }
      for (const s of stores ?? []) {
        if (seen.stores.get(s.id) === s.state) continue;
        if (s.state === 'Tombstone' && !tombstoneAt.has(s.id)) tombstoneAt.set(s.id, Date.now());
        note(`store ${s.id} of ${s.pod ?? '(no pod)'} ${s.state}`);
        seen.stores.set(s.id, s.state);
      }
      if (evicting) {
        for (const id of evicting) if (!seen.evicting.has(id)) note(`evict leaders of store ${id}`);
        for (const id of seen.evicting) if (!evicting.includes(id)) note(`end evicting leaders of store ${id}`);
        seen.evicting = new Set(evicting);
      }
      await sleep(100);
    }
  };
  let watch: Promise<void> | null = null;

  return {
    kind: 'real',
    line: `${pdBackendLine()}: ${opts.pdMembers} pd-server members that join and leave PD as their pods do, ${opts.tikvStores} pd-simulator stores and a new one per new TiKV pod`,
    endpoints,
    ...api,
    async makeLeader(name) {
      const from = await api.leader();
      if (from === name) return;
      const r = await pdRequest(`${pd!.urlOf(name)}/pd/api/v1/leader/transfer/${encodeURIComponent(name)}`, { method: 'POST', timeoutMs: 10_000 });
      if (r.status !== 200) throw new Error(`PD refused to transfer leadership to ${name}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      const deadline = Date.now() + 30_000;
      while ((await api.leader().catch(() => null)) !== name) {
        if (Date.now() > deadline) throw new Error(`${name} did not become PD's leader within 30s`);
        await sleep(200);
      }
      // The watch must see it before a test acts on it.
      while (seen.leader !== name) await sleep(50);
    },
    async evict(id) {
      const leader = (await api.leader()) ?? '';
      const r = await pdRequest(`${pd!.urlOf(leader)}/pd/api/v1/schedulers`, { method: 'POST', body: { name: 'evict-leader-scheduler', store_id: id }, timeoutMs: 5000 });
      if (r.status !== 200) throw new Error(`PD refused to evict leaders of store ${id}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    },
    log,
    holdMembers() {
      for (const n of pd?.names ?? []) hold.add(n);
    },
    async start() {
      pd = await startPdCluster({ namespace: opts.namespace, cluster: opts.cluster, names, dataRoot: join(root, 'pd') });
      try {
        sim = await startSimulator({
          pdEndpoints: pd.endpoints,
          stores: opts.tikvStores,
          regions: opts.regions ?? 60,
          statusAddr: `127.0.0.1:${PD_BASE_PORT + 40}`,
          dir: join(root, 'sim'),
          cluster: opts.cluster,
          // pd-simulator v8.5.4's add-node puts the new node in its node map before the node's PD
          // client has a connection (about 100 ms); a store heartbeat in that window dereferences a
          // nil gRPC connection and the simulator dies (SIGSEGV in StoreHeartbeat), which nothing can
          // undo: a new simulator refuses a bootstrapped PD. Store heartbeats every 5 s instead of 1 s
          // make that about one add-node in 50 rather than one in 10; a new store is Up a little later.
          storeHeartbeat: '5s',
        });
      } catch (err) {
        await pd.stopAll();
        throw err;
      }
      watch = watchLoop();
      following = await followPods({
        kubeconfig: KUBECONFIG,
        namespace: opts.namespace,
        cluster: opts.cluster,
        pd,
        sim,
        tikv: 'keep',
        membership: true,
        hold,
        onEvent: (e) => opts.onFollow?.(describeFollowEvent(e)),
      });
    },
    async stop() {
      watching = false;
      await watch;
      await following?.stop();
      await sim?.stop();
      await pd?.stopAll();
    },
  };
}
