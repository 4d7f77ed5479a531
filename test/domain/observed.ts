// Builders for the controller's step decisions: a TidbCluster "basic" as the controller observes it.
import type { MemberPod, Observed, StoreObserved } from '../../src/domain/steps.ts';

export const pod = (name: string, over: Partial<MemberPod> = {}): MemberPod => ({ name, ordinal: Number(name.split('-').pop()), phase: 'Running', ready: true, deleting: false, nodeName: 'n1', ...over });
export const sts = (replicas: number) => ({ replicas, readyReplicas: replicas, updatedReplicas: replicas, currentRevision: 'r1', updateRevision: 'r1' });
export const store = (id: number, podName: string | null, state = 'Up', leaders = 10): StoreObserved => ({ id: String(id), pod: podName, state, leaderCount: leaders, regionCount: 30 });
export const upStores = (n: number) => Array.from({ length: n }, (_, i) => store(i + 1, `basic-tikv-${i}`));

export function observed(opts: { pd?: number; tikv?: number; tidb?: number; leader?: string | null; unhealthy?: string[]; members?: string[]; stores?: StoreObserved[] | null; maxReplicas?: number | null; evicting?: string[] | null; ledger?: Observed['ledger']; pdReachable?: boolean; pdError?: string } = {}): Observed {
  const n = { pd: opts.pd ?? 3, tikv: opts.tikv ?? 3, tidb: opts.tidb ?? 2 };
  const members = opts.members ?? Array.from({ length: n.pd }, (_, i) => `basic-pd-${i}`);
  return {
    now: 1_000_000,
    sts: { pd: sts(n.pd), tikv: sts(n.tikv), tidb: sts(n.tidb) },
    pods: {
      pd: Array.from({ length: n.pd }, (_, i) => pod(`basic-pd-${i}`)),
      tikv: Array.from({ length: n.tikv }, (_, i) => pod(`basic-tikv-${i}`)),
      tidb: Array.from({ length: n.tidb }, (_, i) => pod(`basic-tidb-${i}`)),
    },
    pd: {
      reachable: opts.pdReachable ?? true,
      ...(opts.pdError ? { error: opts.pdError } : {}),
      members: members.map((m) => ({ name: m, healthy: !(opts.unhealthy ?? []).includes(m) })),
      leader: opts.leader === undefined ? 'basic-pd-0' : opts.leader,
    },
    stores: opts.stores === undefined ? upStores(n.tikv) : opts.stores,
    maxReplicas: opts.maxReplicas === undefined ? 3 : opts.maxReplicas,
    evicting: opts.evicting === undefined ? [] : opts.evicting,
    ledger: opts.ledger ?? { leaving: [], evictions: [] },
  };
}
