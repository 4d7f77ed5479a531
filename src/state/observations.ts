// The last PD snapshot and DisruptionLedger read of each TiDB cluster, kept for the metrics: whoever
// reads PD or the ledger (a drain decision, a controller pass, the eviction cleanup) leaves what it saw
// here, so a scrape costs no PD or API call. Entries not refreshed within `keepMs` are dropped, so a
// deleted cluster leaves no series behind.
import type { PdFacts } from '../pd/facts.ts';
import { ledgerSamples, pdSamples, type Sample } from '../domain/cluster-metrics.ts';
import type { EvictionRecord, LeavingEntry } from '../domain/drain.ts';

interface Seen<T> {
  at: number;
  value: T;
}

export class ClusterObservations {
  private readonly facts = new Map<string, Seen<PdFacts>>();
  private readonly ledgers = new Map<string, Seen<{ leaving: readonly LeavingEntry[]; evictions: readonly EvictionRecord[] }>>();
  private readonly keepMs: number;
  private readonly now: () => number;

  constructor(opts: { keepMs: number; now: () => number }) {
    this.keepMs = opts.keepMs;
    this.now = opts.now;
  }

  pd(namespace: string, cluster: string, facts: PdFacts): void {
    this.facts.set(`${namespace}/${cluster}`, { at: this.now(), value: facts });
  }

  ledger(namespace: string, cluster: string, ledger: { leaving: readonly LeavingEntry[]; evictions: readonly EvictionRecord[] }): void {
    this.ledgers.set(`${namespace}/${cluster}`, { at: this.now(), value: ledger });
  }

  /** Every cluster's samples, from what was last seen; stale entries go first. */
  samples(): Sample[] {
    const now = this.now();
    const out: Sample[] = [];
    for (const [map, fn] of [
      [this.facts, (ns: string, c: string, v: PdFacts) => pdSamples(ns, c, v, now)],
      [this.ledgers, (ns: string, c: string, v: { leaving: readonly LeavingEntry[]; evictions: readonly EvictionRecord[] }) => ledgerSamples(ns, c, v, now)],
    ] as const) {
      for (const [key, seen] of map as Map<string, Seen<unknown>>) {
        if (now - seen.at > this.keepMs) {
          map.delete(key);
          continue;
        }
        const [ns, c] = key.split('/') as [string, string];
        out.push(...(fn as (ns: string, c: string, v: unknown) => Sample[])(ns, c, seen.value));
      }
    }
    return out;
  }

  get size(): number {
    return this.facts.size + this.ledgers.size;
  }
}
