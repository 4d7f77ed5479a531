// Holding admission calls while PD finishes a hand-over. One loop per member looks at PD at a short
// interval (through the shared snapshot, never a busy loop); every call for that member joins it and
// leaves at its own deadline, when its client goes away, or when the process shuts down. The loop ends
// when the hand-over is done, when the pure rule says it will not finish in time, or when no call is
// left waiting for it.
import { decideWaitInCall, type HandOver } from '../domain/handover.ts';

/** One look at PD: done, or the hand-over as it stands now (for the rule), with what was seen. */
export type Look = { done: true; reason: string } | { done: false; handOver: HandOver | null; seen: string };

export interface WaitOutcome {
  done: boolean;
  reason: string;
}

interface Shared {
  result: Promise<WaitOutcome>;
  /** The latest arrival among the calls waiting: the loop runs until its budget is spent. */
  arrivedAt: number;
  joined: number;
  stop: AbortController;
  /** What the last look at PD saw, for the answer of a call whose time ran out. */
  seen: string;
  /** The loop has ended: a new call starts its own instead of taking this answer. */
  settled: boolean;
}

export interface InCallWaitsOptions {
  /** How long a call may be held after its arrival (ms); 0: never. */
  budgetMs: number;
  /** Pause between two looks at PD (ms). */
  pollMs: number;
  now: () => number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class InCallWaits {
  private readonly opts: InCallWaitsOptions;
  private readonly shared = new Map<string, Shared>();
  private readonly closing = new AbortController();

  constructor(opts: InCallWaitsOptions) {
    this.opts = opts;
  }

  get budgetMs(): number {
    return this.opts.budgetMs;
  }

  /** Members being waited for now (one loop each). */
  get size(): number {
    return this.shared.size;
  }

  /** Shutdown: every held call is answered now. */
  close(): void {
    this.closing.abort();
  }

  /**
   * Holds this call until the hand-over of `key` is done or it may wait no longer. A call for a key
   * already waited for joins that loop; `look` is used only by the call that starts it.
   */
  async wait(key: string, arrivedAt: number, look: () => Promise<Look>, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.closing.signal.aborted) return { done: false, reason: 'tidb-steward is shutting down' };
    let entry = this.shared.get(key);
    if (!entry || entry.settled) {
      const stop = new AbortController();
      entry = { arrivedAt, joined: 0, stop, seen: 'PD not read yet', settled: false, result: Promise.resolve({ done: false, reason: '' }) };
      entry.result = this.loop(entry, look);
      const mine = entry;
      void entry.result.finally(() => {
        mine.settled = true;
        if (this.shared.get(key) === mine) this.shared.delete(key);
      });
      this.shared.set(key, entry);
    }
    entry.arrivedAt = Math.max(entry.arrivedAt, arrivedAt);
    entry.joined++;
    const leave = new AbortController();
    const until = arrivedAt + this.opts.budgetMs - this.opts.now();
    const gone = (why: string) =>
      new Promise<WaitOutcome>((resolve) => {
        const s = why === 'client' ? signal : this.closing.signal;
        if (!s) return;
        const on = () => resolve({ done: false, reason: why === 'client' ? 'the caller went away' : 'tidb-steward is shutting down' });
        if (s.aborted) return on();
        s.addEventListener('abort', on, { once: true });
        leave.signal.addEventListener('abort', () => s.removeEventListener('abort', on), { once: true });
      });
    const shared = entry;
    const timeUp = pause(Math.max(0, until), leave.signal).then(
      (): WaitOutcome => ({ done: false, reason: `${shared.seen}; not done within the ${this.opts.budgetMs} ms an admission call may wait (--admission-wait-ms)` }),
    );
    try {
      return await Promise.race([entry.result, timeUp, gone('client'), gone('closing')]);
    } finally {
      leave.abort();
      if (--entry.joined === 0) {
        // Nobody waits for it any more: stop looking at PD.
        entry.stop.abort();
        if (this.shared.get(key) === entry) this.shared.delete(key);
      }
    }
  }

  private async loop(entry: Shared, look: () => Promise<Look>): Promise<WaitOutcome> {
    const stopped = AbortSignal.any([entry.stop.signal, this.closing.signal]);
    while (!stopped.aborted) {
      let l: Look;
      try {
        l = await look();
      } catch (err) {
        // A failed read is one look less, not an answer: the next one may succeed within the budget.
        l = { done: false, handOver: null, seen: `PD could not be read: ${(err as Error).message}` };
      }
      if (l.done) return { done: true, reason: l.reason };
      entry.seen = l.seen;
      const now = this.opts.now();
      if (l.handOver) {
        const d = decideWaitInCall({ handOver: l.handOver, arrivedAt: entry.arrivedAt, budgetMs: this.opts.budgetMs, waiting: true }, now);
        if (!d.wait) return { done: false, reason: `${l.seen}; ${d.reason}` };
      }
      const left = entry.arrivedAt + this.opts.budgetMs - now;
      if (left <= 0) break;
      await pause(Math.min(this.opts.pollMs, left), stopped);
    }
    return { done: false, reason: `${entry.seen}; stopped waiting` };
  }
}
