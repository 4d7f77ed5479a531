// Fakes for the drain's disruption accounting, beside test/fakes.ts: PD with each member's own
// health and region checks, the DisruptionLedger with its resourceVersion semantics, teardown lookups.
import type { EvictionRecord } from '../src/domain/drain.ts';
import { emptyLedger, evictionRecordsOver, type Ledger, type LedgerPort, type VersionedLedger } from '../src/k8s/disruptions.ts';
import type { CheckedRegion, Member, RegionCheck } from '../src/pd/client.ts';
import type { DrainPdApi, TeardownLookups } from '../src/services/drain.ts';
import { FakePd } from './fakes.ts';

export class DrainFakePd extends FakePd implements DrainPdApi {
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
  async ownerDeleting(namespace: string, name: string) {
    return this.owners.has(`${namespace}/${name}`);
  }
}
