// One view of PD per TiDB cluster, shared by the drain webhooks and the controller: a short-lived
// snapshot of PD's facts (members with each member's own health, leader, stores, evict-leader
// entries, region checks, max-replicas), read with every call in parallel and under a deadline.
// Callers within the snapshot's lifetime share one read, so a drain decision and a controller step
// judge the same facts. A fact PD did not give is null with the reason, never a default.
import { REGION_CHECKS, type CheckedRegion, type Member, type RegionCheck, type StoreInfo } from './client.ts';

/** The PD reads a snapshot takes; PdClient implements them. */
export interface PdReads {
  members(): Promise<{ members: Member[]; leader?: Member | null | undefined }>;
  memberHealth(members: readonly Member[]): Promise<Array<{ name: string; healthy: boolean }>>;
  stores(): Promise<StoreInfo[]>;
  evictingStores(): Promise<string[]>;
  maxReplicas(): Promise<number>;
  regionCheck(check: RegionCheck): Promise<{ count: number; regions: CheckedRegion[] }>;
  /** PD's replication.location-labels; a client without it leaves them unknown. */
  locationLabels?(): Promise<string[]>;
}

export type FactName = 'members' | 'stores' | 'evicting' | 'maxReplicas' | 'regionChecks' | 'locationLabels';

export interface PdMemberFact {
  name: string;
  /** The member answered its own /ping. */
  healthy: boolean;
  member: Member;
}

export interface PdFacts {
  /** When the snapshot was read (ms). */
  at: number;
  members: PdMemberFact[] | null;
  leader: string | null;
  stores: StoreInfo[] | null;
  evicting: string[] | null;
  maxReplicas: number | null;
  regionChecks: ReadonlyMap<RegionCheck, CheckedRegion[]> | null;
  locationLabels: string[] | null;
  /** Why each fact that is null could not be known. */
  unknown: Partial<Record<FactName, string>>;
}

const message = (err: unknown) => (err as Error)?.message ?? String(err);

/** Reads one snapshot; each fact on its own, so one failing read leaves the others known. */
export async function readPdFacts(pd: PdReads, now: number): Promise<PdFacts> {
  const unknown: PdFacts['unknown'] = {};
  const settle = async <T>(name: FactName, p: Promise<T>): Promise<T | null> => {
    try {
      return await p;
    } catch (err) {
      unknown[name] = message(err);
      return null;
    }
  };
  const membersWithHealth = async (): Promise<{ members: PdMemberFact[]; leader: string | null }> => {
    const list = await pd.members();
    const health = new Map((await pd.memberHealth(list.members)).map((h) => [h.name, h.healthy]));
    // The member list came from PD, but no member answered tidb-steward directly: this process cannot
    // see the members (network policy, DNS), so their health is unknown, not "all down".
    if (list.members.length > 0 && ![...health.values()].some(Boolean)) {
      throw new Error(`PD listed ${list.members.length} members but none answered its own health check (GET <client URL>/pd/api/v1/ping) from tidb-steward`);
    }
    return { members: list.members.map((m) => ({ name: m.name, healthy: health.get(m.name) ?? false, member: m })), leader: list.leader?.name ?? null };
  };
  const [members, stores, evicting, maxReplicas, checks, locationLabels] = await Promise.all([
    settle('members', membersWithHealth()),
    settle('stores', pd.stores()),
    settle('evicting', pd.evictingStores()),
    settle('maxReplicas', pd.maxReplicas()),
    settle('regionChecks', Promise.all(REGION_CHECKS.map(async (c) => [c, (await pd.regionCheck(c)).regions] as const))),
    settle('locationLabels', pd.locationLabels ? pd.locationLabels() : Promise.reject(new Error('not asked'))),
  ]);
  return {
    at: now,
    members: members?.members ?? null,
    leader: members?.leader ?? null,
    stores,
    evicting,
    maxReplicas,
    regionChecks: checks ? new Map(checks) : null,
    locationLabels,
    unknown,
  };
}

/** The first of `needed` that is unknown, as a sentence; null when all are known. */
export function missingFact(facts: PdFacts, needed: readonly FactName[]): string | null {
  for (const name of needed) {
    if (facts[name] === null) return `PD's ${LABELS[name]} cannot be read: ${facts.unknown[name] ?? 'no answer'}`;
  }
  return null;
}

const LABELS: Record<FactName, string> = {
  members: 'members and their health',
  stores: 'TiKV stores',
  evicting: 'evict-leader entries',
  maxReplicas: 'max-replicas',
  regionChecks: 'region checks',
  locationLabels: 'location labels',
};

export interface PdAccessOptions<C extends PdReads> {
  /** The PD client of a cluster (TLS from the cluster's Secret, deadlines on every call). */
  client(namespace: string, cluster: string): Promise<C>;
  /** How long a snapshot serves (ms). */
  ttlMs: number;
  now: () => number;
  /** Told of every snapshot read (the metrics keep the last one per cluster). */
  onFacts?: (namespace: string, cluster: string, facts: PdFacts) => void;
}

/**
 * The shared snapshots, one per cluster. A caller that just changed PD (a leader transfer, an
 * eviction) invalidates it so the next decision reads again.
 */
export class PdAccess<C extends PdReads = PdReads> {
  private readonly opts: PdAccessOptions<C>;
  private readonly snapshots = new Map<string, { at: number; facts: Promise<PdFacts> }>();

  constructor(opts: PdAccessOptions<C>) {
    this.opts = opts;
  }

  /** The cluster's client, for the calls that change PD (each caller invalidates the snapshot after). */
  client(namespace: string, cluster: string): Promise<C> {
    return this.opts.client(namespace, cluster);
  }

  facts(namespace: string, cluster: string): Promise<PdFacts> {
    const key = `${namespace}/${cluster}`;
    const now = this.opts.now();
    const cached = this.snapshots.get(key);
    if (cached && now - cached.at < this.opts.ttlMs) return cached.facts;
    // Expired snapshots go as new ones are taken, so clusters that are gone leave nothing behind.
    for (const [k, s] of this.snapshots) if (now - s.at >= this.opts.ttlMs) this.snapshots.delete(k);
    const facts = this.opts.client(namespace, cluster).then((pd) => readPdFacts(pd, now));
    this.snapshots.set(key, { at: now, facts });
    // A failed read is not kept: the next caller asks again.
    facts.then(
      (f) => this.opts.onFacts?.(namespace, cluster, f),
      () => this.snapshots.get(key)?.facts === facts && this.snapshots.delete(key),
    );
    return facts;
  }

  invalidate(namespace: string, cluster: string): void {
    this.snapshots.delete(`${namespace}/${cluster}`);
  }

  get size(): number {
    return this.snapshots.size;
  }
}
