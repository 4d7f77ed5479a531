// The PD that the e2e drain suites and the demo run against, chosen once per process: real pd-server
// and pd-simulator from PD_BIN_DIR when it is set, the PD stand-in otherwise. Both are reached over
// HTTP on 127.0.0.1 by tidb-steward, and both are watched the same way (PdWatch), so one suite runs the
// same scenarios against either and reports the same figures.
import { join } from 'node:path';
import { PdStandin } from '../pd-standin.ts';
import { KUBECONFIG } from './controlplane.ts';
import { STATE } from './paths.ts';
import { PD_BASE_PORT, describeFollowEvent, followPods, pdBinaries, pdBinDir, pdRequest, startPdCluster, startSimulator, type PdCluster, type Simulator, type StoreInfo } from './pd.ts';

export type PdBackendKind = 'real' | 'stand-in';

/** Which PD this process uses: decided once, from PD_BIN_DIR. */
export function pdBackendKind(): PdBackendKind {
  return pdBinDir() ? 'real' : 'stand-in';
}

/** The one line that says which PD runs. Throws when PD_BIN_DIR is set but unusable. */
export function pdBackendLine(): string {
  if (pdBackendKind() === 'stand-in') return 'PD: the stand-in (test/pd-standin.ts; simulated leader moves). Set PD_BIN_DIR to a folder with pd-server and pd-simulator v8.5 to run against real PD.';
  const b = pdBinaries();
  return `PD: real pd-server ${b.version} (${b.gitHash.slice(0, 12) || 'no hash'}) and pd-simulator from PD_BIN_DIR`;
}

export interface BackendStore {
  id: number;
  pod: string | null;
  state: string;
  leaders: number;
}

export interface PdBackend {
  kind: PdBackendKind;
  line: string;
  namespace: string;
  cluster: string;
  endpoints: string[];
  /** STEWARD_PD_ENDPOINTS for tidb-steward. */
  stewardEnv(): Record<string, string>;
  leader(): Promise<string>;
  /** Makes `name` the leader (before a scenario) and waits until it is. */
  makeLeader(name: string): Promise<void>;
  stores(): Promise<BackendStore[]>;
  /** Store ids in PD's evict-leader scheduler. */
  evicting(): Promise<number[]>;
  /** A member down (stand-in: reported unhealthy; real: its pd-server stopped and kept stopped). */
  memberDown(name: string): Promise<void>;
  memberUp(name: string): Promise<void>;
  /** All of PD unreachable, and back. */
  allDown(): Promise<void>;
  allUp(): Promise<void>;
  /** Gives a store's pod many leaders, so that evicting them takes a while (stand-in only; real PD has its regions). */
  loadStore(pod: string, leaders: number): void;
  stop(): Promise<void>;
  /** The stand-in itself when kind is 'stand-in', to read its call log. */
  standin: PdStandin | null;
}

export interface PdBackendOptions {
  namespace: string;
  cluster: string;
  pdMembers: number;
  tikvStores: number;
  /** Regions in all (real: pd-simulator's total-region; stand-in: spread as leaders over the stores). */
  regions?: number;
  /** Real PD only: called for every member stop/start following the pods. */
  onFollow?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`PD: ${what} not within ${timeoutMs / 1000}s${last ? ` (${last})` : ''}`);
}

/** Starts the PD chosen by pdBackendKind() for one TiDB cluster whose pods are named <cluster>-pd-<i>, <cluster>-tikv-<i>. */
export async function startPdBackend(opts: PdBackendOptions): Promise<PdBackend> {
  const pdNames = Array.from({ length: opts.pdMembers }, (_, i) => `${opts.cluster}-pd-${i}`);
  const tikvNames = Array.from({ length: opts.tikvStores }, (_, i) => `${opts.cluster}-tikv-${i}`);
  const regions = opts.regions ?? 60;
  const line = pdBackendLine();
  let endpoints: string[];
  let standin: PdStandin | null = null;
  let pd: PdCluster | null = null;
  let sim: Simulator | null = null;
  let follow: { stop(): Promise<void> } | null = null;
  const hold = new Set<string>();

  if (pdBackendKind() === 'stand-in') {
    standin = new PdStandin({
      members: pdNames,
      stores: tikvNames.map((pod, i) => ({ id: i + 1, pod, leaders: Math.floor(regions / opts.tikvStores), regions })),
      // An election takes a moment.
      transferDelayMs: 500,
    });
    endpoints = [await standin.listen()];
    // Evicted stores lose 5 leaders every 300 ms.
    standin.startEvicting(300, 5);
  } else {
    const root = join(STATE, 'pd', `${opts.namespace}-${opts.cluster}`);
    pd = await startPdCluster({ namespace: opts.namespace, cluster: opts.cluster, names: pdNames, dataRoot: join(root, 'pd') });
    try {
      sim = await startSimulator({ pdEndpoints: pd.endpoints, stores: opts.tikvStores, regions, statusAddr: `127.0.0.1:${PD_BASE_PORT + 40}`, dir: join(root, 'sim'), cluster: opts.cluster });
      follow = await followPods({
        kubeconfig: KUBECONFIG,
        namespace: opts.namespace,
        cluster: opts.cluster,
        pd,
        sim,
        tikv: 'keep',
        hold,
        onEvent: (e) => opts.onFollow?.(describeFollowEvent(e)),
      });
    } catch (err) {
      await sim?.stop();
      await pd.stopAll();
      throw err;
    }
    endpoints = pd.endpoints;
  }

  const any = async (path: string) => {
    const errors: string[] = [];
    for (const e of endpoints) {
      try {
        const r = await pdRequest(`${e}${path}`, { timeoutMs: 2000 });
        if (r.status < 500) return r;
        errors.push(`${e}: HTTP ${r.status}`);
      } catch (err) {
        errors.push(`${e}: ${(err as Error).message}`);
      }
    }
    throw new Error(`GET ${path}: ${errors.join('; ')}`);
  };

  const backend: PdBackend = {
    kind: pdBackendKind(),
    line,
    namespace: opts.namespace,
    cluster: opts.cluster,
    endpoints,
    standin,
    stewardEnv: () => ({ STEWARD_PD_ENDPOINTS: JSON.stringify({ [`${opts.namespace}/${opts.cluster}`]: endpoints }) }),
    async leader() {
      const r = await any('/pd/api/v1/leader');
      const name = (r.json as { name?: string } | undefined)?.name;
      if (r.status !== 200 || !name) throw new Error(`GET /pd/api/v1/leader: HTTP ${r.status} ${r.text.slice(0, 120)}`);
      return name;
    },
    async makeLeader(name) {
      if ((await backend.leader()) === name) return;
      if (standin) {
        standin.leader = name;
        return;
      }
      const r = await pdRequest(`${endpoints[0]}/pd/api/v1/leader/transfer/${name}`, { method: 'POST', timeoutMs: 10_000 });
      if (r.status !== 200) throw new Error(`transfer to ${name}: HTTP ${r.status} ${r.text}`);
      await waitFor(`${name} leader`, async () => (await backend.leader()) === name, 30_000);
    },
    async stores() {
      const r = await any('/pd/api/v1/stores?state=0&state=1&state=2');
      if (r.status !== 200) throw new Error(`GET /pd/api/v1/stores: HTTP ${r.status} ${r.text.slice(0, 120)}`);
      const list = ((r.json as { stores?: StoreInfo[] }).stores ?? []).slice().sort((a, b) => a.store.id - b.store.id);
      return list.map((s) => ({ id: s.store.id, pod: s.store.labels?.find((l) => l.key === 'pod')?.value ?? null, state: s.store.state_name, leaders: s.status.leader_count ?? 0 }));
    },
    async evicting() {
      const r = await any('/pd/api/v1/scheduler-config/evict-leader-scheduler/list');
      if (r.status !== 200) return [];
      return Object.keys((r.json as { 'store-id-ranges'?: Record<string, unknown> })['store-id-ranges'] ?? {}).map(Number);
    },
    async memberDown(name) {
      if (standin) {
        standin.unhealthy.add(name);
        return;
      }
      hold.add(name);
      await pd!.stop(name);
      await waitFor(`${name} reported unhealthy`, async () => {
        const r = await any('/pd/api/v1/health');
        return (r.json as Array<{ name: string; health: boolean }>).some((h) => h.name === name && !h.health);
      });
    },
    async memberUp(name) {
      if (standin) {
        standin.unhealthy.delete(name);
        return;
      }
      if (!hold.has(name) && pd!.isRunning(name)) return;
      await pd!.start(name);
      hold.delete(name);
      await pd!.waitHealthy(60_000);
    },
    async allDown() {
      if (standin) {
        standin.down = true;
        return;
      }
      for (const n of pdNames) hold.add(n);
      await pd!.stopAll();
    },
    async allUp() {
      if (standin) {
        standin.down = false;
        return;
      }
      await Promise.all(pdNames.map((n) => pd!.start(n, { wait: false })));
      await pd!.waitHealthy(60_000);
      hold.clear();
    },
    loadStore(pod, leaders) {
      const s = standin?.stores.find((x) => x.pod === pod);
      if (s) s.leaders = leaders;
    },
    async stop() {
      await follow?.stop();
      await sim?.stop();
      await pd?.stopAll();
      await standin?.close();
    },
  };
  return backend;
}

export interface WatchSample {
  at: number;
  leader: string | null;
  /** Leader count by store id. */
  leaders: Map<number, number>;
}

/**
 * Polls PD's leader and the stores' leader counts every `everyMs`, the same way for either back end,
 * so that a test can say when the leader moved and how a store's leader count fell.
 */
export class PdWatch {
  readonly samples: WatchSample[] = [];
  private stopped = false;
  private loop: Promise<void>;

  constructor(backend: PdBackend, everyMs = 100) {
    this.loop = (async () => {
      while (!this.stopped) {
        const at = Date.now();
        const [leader, stores] = await Promise.all([backend.leader().catch(() => null), backend.stores().catch(() => null)]);
        if (stores) this.samples.push({ at, leader, leaders: new Map(stores.map((s) => [s.id, s.leaders])) });
        await sleep(everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** When the leader first changed away from `from` (the first sample naming another leader). */
  leaderLeft(from: string): { at: number; to: string } | null {
    let seen = false;
    for (const s of this.samples) {
      if (s.leader === from) seen = true;
      else if (seen && s.leader) return { at: s.at, to: s.leader };
    }
    return null;
  }

  /** A store's leader count: the highest seen before it first read 0, and when it first read 0. */
  storeDrained(id: number): { from: number; fromAt: number; zeroAt: number } | null {
    let from = -1;
    let fromAt = 0;
    for (const s of this.samples) {
      const n = s.leaders.get(id);
      if (n === undefined) continue;
      if (n === 0 && from > 0) return { from, fromAt, zeroAt: s.at };
      if (n > 0) {
        // The last time the count was at its peak: the start of the fall.
        if (n >= from) fromAt = s.at;
        from = Math.max(from, n);
      }
    }
    return null;
  }
}
