// Wait inside the admission call, or answer 429? kubectl drain sleeps a fixed 5 s after every 429 (it
// ignores Retry-After), so a hand-over PD finishes in a fraction of a second costs a drain 5 s unless
// the webhook holds the call until it is done. Holding a call holds an API server request and a
// webhook slot, so the wait is bounded by a budget counted from the request's arrival, well inside the
// webhook's timeoutSeconds, and only work expected to finish within it is waited for.

/** What stands between the removal and "allowed", when it is a hand-over PD carries out by itself. */
export type HandOver =
  /** PD leadership moves off this member (a transfer under way or started now). */
  | { kind: 'pd-leader'; member: string; to: string | null }
  /** PD's evict-leader scheduler moves the leaders off this store. */
  | { kind: 'tikv-leaders'; storeId: string; leaderCount: number; leadersPerSecond: number | null };

export interface WaitInCallInput {
  handOver: HandOver;
  /** When the admission request arrived (ms). */
  arrivedAt: number;
  /** How long after its arrival a call may be held (ms); 0: never held. */
  budgetMs: number;
  /** Already waiting: it keeps waiting while the time left (and the progress seen) allow. */
  waiting?: boolean;
}

export type WaitInCall = { wait: true; until: number; reason: string } | { wait: false; reason: string };

/** An etcd leader transfer takes about 0.2 s; this leaves room for PD to report the new leader. */
export const PD_TRANSFER_EXPECTED_MS = 500;
/**
 * With no rate seen yet, a store with at most this many leaders is waited for: PD's evict-leader
 * scheduler moves leaders in batches every scheduling round, tens of leaders a second...
 */
export const SMALL_LEADER_COUNT = 20;
/** ...counted at this pace, so the rule stays well inside a budget of a few seconds. */
export const ASSUMED_MS_PER_LEADER = 50;
/** Kept for the answer after the last look at PD (ms). */
export const ANSWER_RESERVE_MS = 150;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The expected time of the hand-over (ms) and how it was judged; Infinity when it cannot be expected to end soon. */
function expected(h: HandOver, waiting: boolean): { ms: number; how: string } {
  if (h.kind === 'pd-leader') {
    // Once waiting, the transfer has no progress to read: the time left decides.
    return waiting ? { ms: 0, how: 'PD leader transfer under way' } : { ms: PD_TRANSFER_EXPECTED_MS, how: `a PD leader transfer takes about ${secs(PD_TRANSFER_EXPECTED_MS)}` };
  }
  const n = h.leaderCount;
  if (n <= 0) return { ms: 0, how: `store ${h.storeId} leads no regions` };
  if (h.leadersPerSecond !== null) {
    if (h.leadersPerSecond <= 0) return { ms: Infinity, how: `no leader left store ${h.storeId} lately` };
    const ms = Math.ceil((n / h.leadersPerSecond) * 1000);
    return { ms, how: `${n} leaders at the ${h.leadersPerSecond.toFixed(1)}/s PD moved lately take about ${secs(ms)}` };
  }
  if (waiting) return { ms: 0, how: `PD is moving the ${n} leaders of store ${h.storeId}` };
  if (n <= SMALL_LEADER_COUNT) return { ms: n * ASSUMED_MS_PER_LEADER, how: `${n} leaders (at most ${SMALL_LEADER_COUNT}, with no rate seen yet) take about ${secs(n * ASSUMED_MS_PER_LEADER)}` };
  return { ms: Infinity, how: `${n} leaders are more than the ${SMALL_LEADER_COUNT} waited for without a rate seen` };
}

/** Hold the call until the hand-over is done, or answer 429 now? Pure; the reason says which and why. */
export function decideWaitInCall(input: WaitInCallInput, now: number): WaitInCall {
  const { handOver, arrivedAt, budgetMs } = input;
  if (budgetMs <= 0) return { wait: false, reason: 'waiting inside the admission call is off (--admission-wait-ms 0)' };
  const until = arrivedAt + budgetMs - ANSWER_RESERVE_MS;
  const left = until - now;
  if (left <= 0) return { wait: false, reason: `the ${budgetMs} ms an admission call may wait (--admission-wait-ms) are spent` };
  const e = expected(handOver, input.waiting ?? false);
  if (e.ms <= left) return { wait: true, until, reason: `${e.how}, within the ${secs(left)} left to wait inside the call` };
  return {
    wait: false,
    reason: Number.isFinite(e.ms) ? `${e.how}, more than the ${secs(left)} left to wait inside the call` : `${e.how}: not waited for inside the call`,
  };
}
