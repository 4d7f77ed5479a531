// What each TiDB cluster looks like to tidb-steward, as metric samples: pure functions of the last PD
// snapshot and the last DisruptionLedger read (no PD or API call at scrape time). Labels are bounded:
// namespace and cluster, plus a member or store only where one series per member is the point.
import type { PdFacts } from '../pd/facts.ts';
import type { EvictionRecord, LeavingEntry } from './drain.ts';

export interface Sample {
  name: ClusterMetric;
  labels: Record<string, string>;
  value: number;
}

/** Every per-cluster metric, with its help text and label names (the exporter registers them all). */
export const CLUSTER_METRICS = {
  tidb_steward_pd_members: { help: 'PD members PD lists, per TiDB cluster.', labels: ['namespace', 'cluster'] },
  tidb_steward_pd_members_healthy: { help: 'PD members that answered their own health check.', labels: ['namespace', 'cluster'] },
  tidb_steward_pd_quorum_margin: { help: 'PD members that may still fail before PD loses quorum (healthy minus majority); below 0: no quorum.', labels: ['namespace', 'cluster'] },
  tidb_steward_pd_leader: { help: 'The PD leader (1 on its member).', labels: ['namespace', 'cluster', 'member'] },
  tidb_steward_tikv_stores: { help: 'TiKV stores by state.', labels: ['namespace', 'cluster', 'state'] },
  tidb_steward_tikv_store_leaders: { help: 'Region leaders on each TiKV store that is not Tombstone.', labels: ['namespace', 'cluster', 'store'] },
  tidb_steward_pd_evict_leader_entries: { help: 'Stores in PD\'s evict-leader scheduler.', labels: ['namespace', 'cluster'] },
  tidb_steward_pd_fact_unknown: { help: 'A PD fact the last snapshot could not read (1), by fact.', labels: ['namespace', 'cluster', 'fact'] },
  tidb_steward_pd_snapshot_age_seconds: { help: 'Age of the last PD snapshot of the cluster.', labels: ['namespace', 'cluster'] },
  tidb_steward_disruptions_in_flight: { help: 'Members whose removal tidb-steward allowed and that are not back yet (DisruptionLedger), by component and act.', labels: ['namespace', 'cluster', 'component', 'act'] },
  tidb_steward_disruption_oldest_seconds: { help: 'Age of the oldest disruption in flight, by component.', labels: ['namespace', 'cluster', 'component'] },
  tidb_steward_leader_evictions: { help: 'Leader evictions tidb-steward started and has not ended (DisruptionLedger), by cause.', labels: ['namespace', 'cluster', 'cause'] },
  tidb_steward_leader_eviction_oldest_seconds: { help: 'Age of the oldest leader eviction tidb-steward started and has not ended.', labels: ['namespace', 'cluster'] },
} as const;
export type ClusterMetric = keyof typeof CLUSTER_METRICS;

const majority = (n: number) => Math.floor(n / 2) + 1;

/** PD's side: members, health, quorum margin, leader, stores by state, leaders per store, evictions. */
export function pdSamples(namespace: string, cluster: string, facts: PdFacts, now: number): Sample[] {
  const base = { namespace, cluster };
  const out: Sample[] = [{ name: 'tidb_steward_pd_snapshot_age_seconds', labels: base, value: Math.max(0, (now - facts.at) / 1000) }];
  for (const fact of Object.keys(facts.unknown)) out.push({ name: 'tidb_steward_pd_fact_unknown', labels: { ...base, fact }, value: 1 });
  if (facts.members) {
    const healthy = facts.members.filter((m) => m.healthy).length;
    out.push(
      { name: 'tidb_steward_pd_members', labels: base, value: facts.members.length },
      { name: 'tidb_steward_pd_members_healthy', labels: base, value: healthy },
      { name: 'tidb_steward_pd_quorum_margin', labels: base, value: facts.members.length === 0 ? -1 : healthy - majority(facts.members.length) },
    );
    if (facts.leader) out.push({ name: 'tidb_steward_pd_leader', labels: { ...base, member: facts.leader }, value: 1 });
  }
  if (facts.stores) {
    const byState = new Map<string, number>();
    for (const s of facts.stores) {
      const state = s.store.state_name;
      byState.set(state, (byState.get(state) ?? 0) + 1);
      if (state !== 'Tombstone') out.push({ name: 'tidb_steward_tikv_store_leaders', labels: { ...base, store: String(s.store.id) }, value: s.status.leader_count });
    }
    for (const [state, n] of byState) out.push({ name: 'tidb_steward_tikv_stores', labels: { ...base, state }, value: n });
  }
  if (facts.evicting) out.push({ name: 'tidb_steward_pd_evict_leader_entries', labels: base, value: facts.evicting.length });
  return out;
}

/** The ledger's side: disruptions in flight and their age, leader evictions started and their age. */
export function ledgerSamples(namespace: string, cluster: string, ledger: { leaving: readonly LeavingEntry[]; evictions: readonly EvictionRecord[] }, now: number): Sample[] {
  const base = { namespace, cluster };
  const out: Sample[] = [];
  const byAct = new Map<string, { component: string; act: string; n: number }>();
  const oldest = new Map<string, number>();
  for (const e of ledger.leaving) {
    const act = e.act ?? 'eviction';
    const key = `${e.component}/${act}`;
    const row = byAct.get(key) ?? { component: e.component, act, n: 0 };
    row.n++;
    byAct.set(key, row);
    oldest.set(e.component, Math.min(oldest.get(e.component) ?? e.since, e.since));
  }
  for (const r of byAct.values()) out.push({ name: 'tidb_steward_disruptions_in_flight', labels: { ...base, component: r.component, act: r.act }, value: r.n });
  for (const [component, since] of oldest) out.push({ name: 'tidb_steward_disruption_oldest_seconds', labels: { ...base, component }, value: Math.max(0, (now - since) / 1000) });
  const byCause = new Map<string, number>();
  for (const e of ledger.evictions) byCause.set(e.cause, (byCause.get(e.cause) ?? 0) + 1);
  for (const [cause, n] of byCause) out.push({ name: 'tidb_steward_leader_evictions', labels: { ...base, cause }, value: n });
  if (ledger.evictions.length) {
    const first = Math.min(...ledger.evictions.map((e) => e.beganAt));
    out.push({ name: 'tidb_steward_leader_eviction_oldest_seconds', labels: base, value: Math.max(0, (now - first) / 1000) });
  }
  return out;
}
