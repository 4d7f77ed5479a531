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
import type { PdApi } from '../src/services/drain.ts';
import type { EvictionRecordPort, ClusterEvictions } from '../src/k8s/evictions.ts';
import type { EventSink, ObjectRef } from '../src/k8s/events.ts';
import type { EvictionRecord } from '../src/domain/drain.ts';
import type { StoreInfo } from '../src/pd/client.ts';

/** PD as the drain sees it: members with health and a leader, stores with leader counts. */
export class FakePd implements PdApi {
  memberNames: string[];
  unhealthy = new Set<string>();
  leader: string | null;
  storeList: StoreInfo[] = [];
  evicting = new Set<string>();
  down = false;
  transfers: string[] = [];
  /** Leader counts drop by this much per stores() call while a store is evicted. */
  evictStep = 100;

  constructor(members: string[], leader: string | null = members[0] ?? null) {
    this.memberNames = members;
    this.leader = leader;
  }
  private check() {
    if (this.down) throw new Error('PD is unreachable (http://pd: connect ECONNREFUSED)');
  }
  addStore(id: string, podName: string, leaders: number, state = 'Up') {
    this.storeList.push({ store: { id, address: `${podName}.basic-tikv-peer.db.svc:20160`, state_name: state, labels: [] }, status: { leader_count: leaders, region_count: leaders * 3 } });
  }
  async members() {
    this.check();
    const ms = this.memberNames.map((name) => ({ name, member_id: '18446744073709551557' }));
    return { members: ms, leader: this.leader ? { name: this.leader } : null };
  }
  async health() {
    this.check();
    return this.memberNames.map((name) => ({ name, health: !this.unhealthy.has(name) }));
  }
  async transferLeader(to: string) {
    this.check();
    this.transfers.push(to);
    this.leader = to;
  }
  async stores() {
    this.check();
    for (const s of this.storeList) if (this.evicting.has(s.store.id)) s.status.leader_count = Math.max(0, s.status.leader_count - this.evictStep);
    return this.storeList.map((s) => ({ store: { ...s.store }, status: { ...s.status } }));
  }
  async evictingStores() {
    this.check();
    return [...this.evicting];
  }
  async addEvictLeader(id: string) {
    this.check();
    this.evicting.add(id);
  }
  async removeEvictLeader(id: string) {
    this.check();
    this.evicting.delete(id);
  }
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
