// The PD behind the e2e drain scenarios: real pd-server (and pd-simulator for TiKV stores) when
// PD_BIN_DIR is set, else the PD stand-in. Either way the scenarios see members they can stop and
// start as their pods come and go, and count the members that answer.
import { PD_BASE_PORT, startPdCluster, startSimulator, type PdCluster, type Simulator } from '../cluster/pd.ts';
import { PdStandin } from '../pd-standin.ts';

export interface PdBackend {
  description: string;
  /** STEWARD_PD_ENDPOINTS entry of the cluster. */
  endpoints: string[];
  /** PD members and the pods they belong to. */
  memberPods(): Array<{ name: string; pod: string }>;
  isRunning(member: string): boolean;
  stopMember(member: string, opts?: { kill?: boolean }): Promise<void>;
  startMember(member: string): Promise<void>;
  /** Members that answer GET /pd/api/v1/ping (a stopped one refuses at once; 1.5 s for a busy machine). */
  servingMembers(): Promise<number>;
  leader(): Promise<string>;
  stopAllMembers(): Promise<void>;
  close(): Promise<void>;
}

export interface BackendOptions {
  namespace: string;
  cluster: string;
  /** PD member names; each belongs to the pod named by its first DNS label. */
  pdMembers: string[];
  /** pd-simulator stores labelled pod=<cluster>-tikv-<i>. */
  tikvStores?: number;
  dataRoot: string;
  /** Several PD clusters in one test file: each slot gets its own ports. */
  portSlot: number;
  /** Stand-in only: serve PD over https requiring this client CA (tlsCluster). */
  tls?: { key: string; cert: string; ca: string };
}

/** Real PD when PD_BIN_DIR is set, else the stand-in; said in `description`. */
export const pdKind = (): 'real' | 'stand-in' => (process.env.PD_BIN_DIR ? 'real' : 'stand-in');

const podOf = (member: string) => member.split('.')[0]!;

async function ping(url: string): Promise<boolean> {
  try {
    // Each member answers for itself (a follower would otherwise forward /ping to the leader).
    const r = await fetch(`${url}/pd/api/v1/ping`, { headers: { 'PD-Allow-follower-handle': 'true' }, signal: AbortSignal.timeout(1500) });
    await r.text();
    return r.status === 200;
  } catch {
    return false;
  }
}

export async function startPdBackend(opts: BackendOptions): Promise<PdBackend> {
  if (pdKind() === 'stand-in' || opts.tls) return startStandin(opts);
  const basePort = PD_BASE_PORT + 20 * opts.portSlot;
  const pd: PdCluster = await startPdCluster({ namespace: opts.namespace, cluster: opts.cluster, names: opts.pdMembers, dataRoot: opts.dataRoot, basePort });
  let sim: Simulator | null = null;
  if (opts.tikvStores) {
    sim = await startSimulator({
      pdEndpoints: pd.endpoints,
      stores: opts.tikvStores,
      regions: 30,
      statusAddr: `127.0.0.1:${PD_BASE_PORT + 90 + opts.portSlot}`,
      dir: `${opts.dataRoot}-sim`,
      cluster: opts.cluster,
    });
  }
  return {
    description: `real PD (pd-server${sim ? ' and pd-simulator' : ''} from PD_BIN_DIR), ${opts.pdMembers.length} members${sim ? `, ${opts.tikvStores} simulated stores` : ''}`,
    endpoints: pd.endpoints,
    memberPods: () => opts.pdMembers.map((name) => ({ name, pod: podOf(name) })),
    isRunning: (m) => pd.isRunning(m),
    stopMember: (m, o = {}) => pd.stop(m, { ...(o.kill ? { kill: true } : {}), graceMs: 3000 }),
    startMember: (m) => pd.start(m, { wait: false }),
    async servingMembers() {
      return (await Promise.all(opts.pdMembers.map((m) => ping(pd.urlOf(m))))).filter(Boolean).length;
    },
    leader: () => pd.leader(),
    stopAllMembers: () => pd.stopAll(),
    async close() {
      await sim?.stop();
      await pd.stopAll();
    },
  };
}

/**
 * The stand-in: a member "stopped" answers its /ping with 503 and PD reports it unhealthy; a stopped
 * leader hands leadership to the first member still up, as an election would.
 */
async function startStandin(opts: BackendOptions): Promise<PdBackend> {
  const stores = Array.from({ length: opts.tikvStores ?? 0 }, (_, i) => ({ id: i + 1, pod: `${opts.cluster}-tikv-${i}`, leaders: 20, regions: 60 }));
  const standin = new PdStandin({ members: [...opts.pdMembers], stores, transferDelayMs: 500 });
  const base = await standin.listen(0, opts.tls ? { tls: opts.tls } : {});
  // Evicted stores lose 5 leaders every 300 ms.
  standin.startEvicting(300, 5);
  const fetchOpts = opts.tls ? null : {};
  return {
    description: `the PD stand-in (test/pd-standin.ts${opts.tls ? ', over mutual TLS' : ''}), ${opts.pdMembers.length} members${stores.length ? `, ${stores.length} stores` : ''}; set PD_BIN_DIR for real PD`,
    endpoints: [base],
    memberPods: () => opts.pdMembers.map((name) => ({ name, pod: podOf(name) })),
    isRunning: (m) => !standin.unhealthy.has(m),
    async stopMember(m) {
      standin.unhealthy.add(m);
      if (standin.leader === m) {
        const next = standin.members.find((x) => !standin.unhealthy.has(x));
        if (next) standin.leader = next;
      }
    },
    async startMember(m) {
      standin.unhealthy.delete(m);
    },
    async servingMembers() {
      // Over the wire when plain http (as tidb-steward asks); from the model when mutual TLS.
      if (!fetchOpts) return standin.members.filter((m) => !standin.unhealthy.has(m)).length;
      return (await Promise.all(opts.pdMembers.map((m) => ping(`${base}/member/${encodeURIComponent(m)}`)))).filter(Boolean).length;
    },
    leader: async () => standin.leader,
    async stopAllMembers() {
      for (const m of standin.members) standin.unhealthy.add(m);
    },
    close: () => standin.close(),
  };
}
