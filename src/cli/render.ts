// What the CLI prints, as pure functions of plain values: a node's drain plan and the clusters at a
// glance, for people (text) and scripts (JSON).
import type { LeavingEntry } from '../domain/drain.ts';
import type { RawTidbCluster } from '../k8s/tidbclusters.ts';

export interface PodPlanRow {
  namespace: string;
  pod: string;
  cluster: string;
  component: 'pd' | 'tikv' | 'tidb';
  allowed: boolean;
  /** For a held pod, the text after "<namespace>/<pod> cannot go yet: " in kubectl drain's output. */
  reason: string;
  /** What the webhook would change first (PD leadership, leader evictions), in words. */
  steps: string[];
  warnings: string[];
  /** Other members of its component already leaving, and why. */
  leaving: string[];
}

export interface NodePlan {
  node: string;
  /** The node is already cordoned or carries a drain taint. */
  draining: boolean;
  pods: PodPlanRow[];
  /** What to do about reasons the plan could not judge (PD unreachable, ...). */
  hints: string[];
}

const COMPONENT: Record<PodPlanRow['component'], string> = { pd: 'PD', tikv: 'TiKV', tidb: 'TiDB' };

export function renderNodePlan(plan: NodePlan): string {
  if (plan.pods.length === 0) return `node ${plan.node}: no PD, TiKV or TiDB pod runs on it; a drain has nothing for tidb-steward to hold\n`;
  const held = plan.pods.filter((p) => !p.allowed).length;
  const lines = [
    `node ${plan.node}${plan.draining ? ' (already cordoned or being drained)' : ''}: ${held === 0 ? `all ${plan.pods.length} TiDB pods would go now` : `${held} of ${plan.pods.length} TiDB pods would be held now`}`,
    `  judged as the webhook would judge an eviction now, with the node cordoned as kubectl drain does first; nothing was changed`,
  ];
  for (const p of plan.pods) {
    lines.push(`  ${p.namespace}/${p.pod} (${COMPONENT[p.component]} of ${p.cluster}): ${p.allowed ? 'goes' : 'HELD'}: ${p.reason}`);
    for (const s of p.steps) lines.push(`      first: ${s}`);
    for (const w of p.warnings) lines.push(`      warning: ${w}`);
    if (p.leaving.length) lines.push(`      already leaving: ${p.leaving.join('; ')}`);
  }
  for (const h of plan.hints) lines.push(`hint: ${h}`);
  return `${lines.join('\n')}\n`;
}

export interface ClusterGlance {
  namespace: string;
  name: string;
  phase: string;
  /** The Ready condition: "True ClusterReady", "False PDUnhealthy", or "unknown". */
  ready: string;
  pd: {
    members: number;
    healthy: number;
    majority: number;
    /** healthy − majority: how many more members may fail (or be drained) before PD loses quorum; negative: lost. */
    margin: number;
    leader: string | null;
    /** 'pd': read from PD now; 'status': PD could not be read, the cluster's last status says so. */
    source: 'pd' | 'status';
    /** Why PD could not be read, when it could not. */
    unknown?: string;
  } | null;
  tikv: { up: number; stores: number; source: 'pd' | 'status' } | null;
  /** Members the DisruptionLedger counts as leaving: "pd basic-pd-1 (eviction)". */
  leaving: string[];
}

export interface PdNow {
  members: ReadonlyArray<{ name: string; healthy: boolean }> | null;
  leader: string | null;
  stores: ReadonlyArray<{ state: string }> | null;
  /** Why the members could not be read. */
  unknown: string | null;
}

const GONE = new Set(['Tombstone', 'Removed']);

/** One TidbCluster at a glance, from PD now (or, failing that, its last status) and its DisruptionLedger. */
export function clusterGlance(tc: RawTidbCluster, pd: PdNow, leaving: readonly LeavingEntry[]): ClusterGlance {
  const status = tc.status ?? {};
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  const fromPd = pd.members !== null;
  const members = pd.members ?? status.pd?.members?.map((m) => ({ name: m.name, healthy: m.health })) ?? null;
  const leader = fromPd ? pd.leader : (status.pd?.leader ?? null);
  let pdGlance: ClusterGlance['pd'] = null;
  if (members) {
    const healthy = members.filter((m) => m.healthy).length;
    const majority = Math.floor(members.length / 2) + 1;
    pdGlance = { members: members.length, healthy, majority, margin: healthy - majority, leader, source: fromPd ? 'pd' : 'status', ...(pd.unknown ? { unknown: pd.unknown } : {}) };
  }
  const stores = (pd.stores ?? status.tikv?.stores ?? null)?.filter((s) => !GONE.has(s.state)) ?? null;
  return {
    namespace: tc.metadata.namespace,
    name: tc.metadata.name,
    phase: status.phase ?? 'unknown',
    ready: ready ? `${ready.status} ${ready.reason}` : 'unknown',
    pd: pdGlance,
    tikv: stores ? { up: stores.filter((s) => s.state === 'Up' || s.state === 'Serving').length, stores: stores.length, source: pd.stores ? 'pd' : 'status' } : null,
    leaving: leaving.map((e) => `${e.component} ${e.member === e.pod ? e.member : `${e.member} of ${e.pod}`} (${e.act ?? 'removal'})`),
  };
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

export function renderStatus(rows: readonly ClusterGlance[]): string {
  if (rows.length === 0) return 'no TidbCluster (tidb-steward.dev) in this Kubernetes cluster\n';
  const table = [['CLUSTER', 'PHASE', 'READY', 'PD HEALTHY', 'QUORUM MARGIN', 'PD LEADER', 'TIKV UP', 'LEAVING']];
  const notes: string[] = [];
  for (const r of rows) {
    const key = `${r.namespace}/${r.name}`;
    const fromStatus = r.pd?.source === 'status' ? '*' : '';
    table.push([
      key,
      r.phase,
      r.ready,
      r.pd ? `${r.pd.healthy}/${r.pd.members}${fromStatus}` : '?',
      r.pd ? `${signed(r.pd.margin)}${fromStatus}` : '?',
      r.pd?.leader ?? '-',
      r.tikv ? `${r.tikv.up}/${r.tikv.stores}${r.tikv.source === 'status' ? '*' : ''}` : '?',
      r.leaving.length ? r.leaving.join(', ') : '-',
    ]);
    if (r.pd?.unknown ?? (!r.pd ? 'no member known' : undefined)) notes.push(`${key}: PD could not be read (${r.pd?.unknown ?? 'no member known'})${r.pd ? '; * = from the last status the controller wrote' : ''}`);
    if (r.pd && r.pd.margin < 0) notes.push(`${key}: PD has lost quorum (${r.pd.healthy} healthy of ${r.pd.members}, a majority is ${r.pd.majority}): no drain of its PD members goes until members recover`);
    else if (r.pd && r.pd.margin === 0) notes.push(`${key}: PD is at its quorum: draining a node with a healthy PD member of it is held until another member is healthy`);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  return `${[...lines, ...notes].join('\n')}\n`;
}
