// In-process stand-ins for unit tests of the services. The real API server proves the same paths in
// test/e2e.
import { pino } from 'pino';
import type { BinderPort, LiveNode, LivePod } from '../src/k8s/binder.ts';
import type { Component, PodView } from '../src/domain/model.ts';
import type { PodStore } from '../src/state/stores.ts';

export const silentLogger = pino({ level: 'silent' });

/** A binder over a PodStore standing for the API server: bind sets nodeName there. */
export function fakeBinder(
  api: PodStore,
  opts: { delayMs?: number; failBind?: boolean; live?: (pod: PodView) => Partial<LivePod>; nodes?: Record<string, LiveNode>; owners?: Record<string, number> } = {},
): BinderPort & { binds: Array<[string, string]> } {
  const wait = () => new Promise((r) => setTimeout(r, opts.delayMs ?? 0));
  const binds: Array<[string, string]> = [];
  return {
    binds,
    async getPod(namespace, name) {
      await wait();
      const p = api.get(`${namespace}/${name}`);
      return p ? { uid: p.uid, view: p, schedulerName: 'tidb-scheduler', nodeName: p.nodeName, tolerations: [], claims: [], ...opts.live?.(p) } : null;
    },
    async getNode(name) {
      await wait();
      return opts.nodes?.[name] ?? null;
    },
    async getOwner(namespace, name) {
      await wait();
      const replicas = opts.owners?.[`${namespace}/${name}`];
      return replicas === undefined ? null : { replicas };
    },
    async listMembers(namespace: string, cluster: string, component: Component): Promise<PodView[]> {
      await wait();
      return [...api.members(namespace, cluster, component).values()].map((p) => ({ ...p }));
    },
    async bind(namespace, name, uid, nodeName) {
      await wait();
      if (opts.failBind) throw new Error('conflict');
      const p = api.get(`${namespace}/${name}`);
      if (!p || p.uid !== uid) throw new Error('precondition failed');
      api.upsert(`${namespace}/${name}`, { ...p, nodeName });
      binds.push([name, nodeName]);
    },
  };
}

// ---- drain -------------------------------------------------------------------------------------
import { PdClient } from '../src/pd/client.ts';
import { PdStandin } from './pd-standin.ts';
import type { EvictionRecordPort, ClusterEvictions } from '../src/k8s/evictions.ts';
import type { EventSink, ObjectRef } from '../src/k8s/events.ts';
import type { EvictionRecord } from '../src/domain/drain.ts';

/**
 * The PD stand-in for unit tests: members with a leader, stores with leader counts. Tests read and
 * change its state (leader, unhealthy, stores, evicting, down) and assert its exact calls
 * (`pd.writes()`); the drain talks to it through the real PdClient, in process.
 */
export function standinPd(members: string[], leader: string | null = members[0] ?? null): PdStandin {
  // Leaders drop by 100 per read of the stores while a store is evicted, unless a test sets another step.
  return new PdStandin({ members, ...(leader ? { leader } : {}), evictPerRead: 100 });
}

/** A TiKV store addressed as in production: <pod>.basic-tikv-peer.db.svc:20160, no labels. */
export function addStore(pd: PdStandin, id: number, podName: string, leaders: number, state: 'Up' | 'Offline' | 'Tombstone' = 'Up'): void {
  pd.stores.push({ id, pod: podName, leaders, regions: leaders * 3, state, address: `${podName}.basic-tikv-peer.db.svc:20160`, labels: [] });
}

/** The real PD client over the stand-in, in process. */
export function pdClientFor(pd: PdStandin): PdClient {
  return new PdClient({ endpoints: ['http://basic-pd.db.svc:2379'], timeoutMs: 1000, fetchImpl: pd.fetch });
}

export class FakeRecords implements EvictionRecordPort {
  data = new Map<string, Map<string, EvictionRecord>>();
  async forCluster(namespace: string, cluster: string) {
    return [...(this.data.get(`${namespace}/${cluster}`)?.values() ?? [])];
  }
  async put(namespace: string, cluster: string, record: EvictionRecord) {
    const k = `${namespace}/${cluster}`;
    if (!this.data.has(k)) this.data.set(k, new Map());
    this.data.get(k)!.set(record.storeId, record);
  }
  async remove(namespace: string, cluster: string, storeId: string) {
    this.data.get(`${namespace}/${cluster}`)?.delete(storeId);
  }
  async list(): Promise<ClusterEvictions[]> {
    return [...this.data].map(([k, m]) => ({ namespace: k.split('/')[0]!, cluster: k.split('/')[1]!, records: [...m.values()] }));
  }
}

export class FakeEvents implements EventSink {
  events: Array<{ ref: ObjectRef; type: string; reason: string; message: string }> = [];
  emit(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string) {
    this.events.push({ ref, type, reason, message });
  }
}
