// Overall progress of a first build: how much is left, from what this machine took before (the build
// log's history) or, on a fresh machine, from reference times scaled by how this run is going.

/** Seconds each binary took to build cold (empty Go caches) on a 2-core machine; only a starting guess. */
export const REFERENCE_SECONDS: Readonly<Record<string, number>> = {
  etcd: 90,
  'kube-apiserver': 600,
  'kube-controller-manager': 350,
  'kube-scheduler': 40,
  kubectl: 120,
  kwok: 200,
};
const DEFAULT_SECONDS = 120;

export interface BuiltSoFar {
  name: string;
  seconds: number;
}

/**
 * Seconds left for `left` (binaries not built yet): each one's own past time on this machine when the
 * history has it, else its reference time scaled by how much slower or faster this run has been than
 * the references so far (a busy or fast machine shows in the first binary).
 */
export function secondsLeft(done: readonly BuiltSoFar[], left: readonly string[], history: Readonly<Record<string, number>> = {}): number {
  const ref = (n: string) => REFERENCE_SECONDS[n] ?? DEFAULT_SECONDS;
  const measured = done.filter((d) => d.seconds > 0);
  const pace = measured.length ? measured.reduce((s, d) => s + d.seconds, 0) / measured.reduce((s, d) => s + ref(d.name), 0) : 1;
  return left.reduce((s, n) => s + (history[n] ?? ref(n) * pace), 0);
}

/** The last time each binary took here, from build-times.jsonl lines (unreadable lines are skipped). */
export function historyOf(jsonl: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of jsonl.split('\n')) {
    try {
      const r = JSON.parse(line) as { name?: unknown; seconds?: unknown };
      if (typeof r.name === 'string' && typeof r.seconds === 'number' && r.seconds > 0) out[r.name] = r.seconds;
    } catch {
      // not a record
    }
  }
  return out;
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
