// Fakes for the drain's disruption accounting, beside test/fakes.ts: PD with each member's own
// health and region checks, the DisruptionLedger with its resourceVersion semantics, teardown lookups.
import type { EvictionRecord } from '../src/domain/drain.ts';
import { emptyLedger, evictionRecordsOver, type Ledger, type LedgerPort, type VersionedLedger } from '../src/k8s/disruptions.ts';
import type { CheckedRegion, Member, RegionCheck, StoreInfo } from '../src/pd/client.ts';
import type { DrainPdApi, LivePodReader, StatefulSetKind, TeardownLookups } from '../src/services/drain.ts';
import type { PodView } from '../src/domain/model.ts';

/**
 * PD as the drain's disruption accounting sees it, in memory: members with health and a leader,
 * stores with leader counts, region checks. Scenario tables step it directly; the stand-in
 * (test/pd-standin.ts) proves the same calls over PD's wire format.
 */
export class DrainFakePd implements DrainPdApi {
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
    this.restored('PD evict-leader list');
    return [...this.evicting];
  }
  async addEvictLeader(id: string) {
    this.check();
    this.evicting.add(id);
  }
  async removeEvictLeader(id: string) {
    this.check();
    this.restored(`stopping the leader eviction of store ${id}`);
    this.removals.push(id);
    this.evicting.delete(id);
  }
  removals: string[] = [];
  /** False: a new PD leader that has not restored its schedulers yet; the client then refuses to say "none". */
  schedulersRestored = true;
  private restored(what: string) {
    if (!this.schedulersRestored) throw new Error(`${what}: PD's leader has not restored its schedulers yet (it lists none); try again in a few seconds`);
  }
  /** Members that do not answer their own health check at all (process dead, pod Running). */
  silent = new Set<string>();
  checks = new Map<RegionCheck, CheckedRegion[]>();
  replicas = 3;
  memberHealthCalls = 0;

  async memberHealth(members: readonly Member[]) {
    if (this.down) throw new Error('PD is unreachable (http://pd: connect ECONNREFUSED)');
    this.memberHealthCalls++;
    return members.map((m) => ({ name: m.name, healthy: !this.unhealthy.has(m.name) && !this.silent.has(m.name) }));
  }
  async regionCheck(check: RegionCheck) {
    if (this.down) throw new Error('PD is unreachable (http://pd: connect ECONNREFUSED)');
    const regions = this.checks.get(check) ?? [];
    return { count: regions.length, regions };
  }
  async maxReplicas() {
    return this.replicas;
  }
}

/** The DisruptionLedger in memory, with the API server's version check on every write. */
export class MemoryLedger implements LedgerPort {
  private readonly objects = new Map<string, { ledger: Ledger; version: number }>();
  writes = 0;
  conflicts = 0;
  /** Runs between a read and the next write: lets a test slip another writer in. */
  beforeWrite: (() => Promise<void>) | null = null;
  private readonly records = evictionRecordsOver(this);

  async read(namespace: string, cluster: string): Promise<VersionedLedger> {
    const o = this.objects.get(`${namespace}/${cluster}`);
    return o ? { ledger: structuredClone(o.ledger), resourceVersion: String(o.version) } : { ledger: emptyLedger(), resourceVersion: null };
  }
  async write(namespace: string, cluster: string, ledger: Ledger, resourceVersion: string | null): Promise<boolean> {
    const hook = this.beforeWrite;
    this.beforeWrite = null;
    if (hook) await hook();
    const key = `${namespace}/${cluster}`;
    const o = this.objects.get(key);
    if ((o ? String(o.version) : null) !== resourceVersion) {
      this.conflicts++;
      return false;
    }
    this.writes++;
    this.objects.set(key, { ledger: structuredClone(ledger), version: (o?.version ?? 0) + 1 });
    return true;
  }
  async listLedgers() {
    return [...this.objects].map(([k, o]) => ({ namespace: k.split('/')[0]!, cluster: k.split('/')[1]!, ledger: structuredClone(o.ledger), resourceVersion: String(o.version) }));
  }
  async get(namespace: string, cluster: string): Promise<Ledger> {
    return (await this.read(namespace, cluster)).ledger;
  }
  forCluster(namespace: string, cluster: string) {
    return this.records.forCluster(namespace, cluster);
  }
  put(namespace: string, cluster: string, record: EvictionRecord, podName: string) {
    return this.records.put(namespace, cluster, record, podName);
  }
  remove(namespace: string, cluster: string, storeId: string) {
    return this.records.remove(namespace, cluster, storeId);
  }
  list() {
    return this.records.list();
  }
}

export class FakeTeardown implements TeardownLookups {
  namespaces = new Set<string>();
  owners = new Set<string>();
  slowMs = 0;
  async namespaceDeleting(namespace: string) {
    if (this.slowMs) await new Promise((r) => setTimeout(r, this.slowMs));
    return this.namespaces.has(namespace);
  }
  async ownerDeleting(namespace: string, name: string, _kind: StatefulSetKind) {
    return this.owners.has(`${namespace}/${name}`);
  }
}

/** The API server's pods as a live read sees them: a view, null (not a PD/TiKV pod), or gone when absent. */
export class FakeLivePods implements LivePodReader {
  pods = new Map<string, PodView | null>();
  /** Every read throws this, when set. */
  failure: Error | null = null;
  /** Every read never answers, when set. */
  hang = false;
  reads: Array<{ pod: string; timeoutMs: number }> = [];
  async read(namespace: string, name: string, timeoutMs: number): Promise<PodView | null | 'gone'> {
    this.reads.push({ pod: `${namespace}/${name}`, timeoutMs });
    if (this.hang) return new Promise<never>(() => undefined);
    if (this.failure) throw this.failure;
    const key = `${namespace}/${name}`;
    return this.pods.has(key) ? this.pods.get(key)! : 'gone';
  }
}
