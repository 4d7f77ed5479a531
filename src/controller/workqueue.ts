// A keyed, deduplicating work queue (controller-runtime's contract): a key is queued at most once, the
// same key is never processed by two workers at once (a key added while it is being processed runs
// again afterwards), failures come back with per-key exponential backoff, and a result may ask for a
// later look (requeueAfter). Level-triggered: a key carries no event, only "look at this again".

export type ReconcileResult = { requeueAfterMs?: number } | void;

export interface WorkQueueOptions {
  concurrency: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Timers are injectable for tests. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

const defaultTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return { cancel: () => clearTimeout(t) };
};

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: { cancel(): void } }>();
  private handler: ((key: string) => Promise<ReconcileResult>) | null = null;
  private running = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly opts: Required<Omit<WorkQueueOptions, 'onError'>> & Pick<WorkQueueOptions, 'onError'>;

  constructor(opts: WorkQueueOptions) {
    this.opts = { backoffBaseMs: 500, backoffMaxMs: 60_000, setTimer: defaultTimer, ...opts };
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    const d = this.delayed.get(key);
    if (d) {
      d.timer.cancel();
      this.delayed.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after ms, unless an earlier add (or a sooner delayed add) comes first. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.opts.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** The delay the next failure of this key would get. */
  backoffFor(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** n);
  }

  start(handler: (key: string) => Promise<ReconcileResult>): void {
    this.handler = handler;
    this.stopped = false;
    this.pump();
  }

  /** Stops taking keys; resolves when the keys being processed are done. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    if (this.running === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.handler && !this.stopped && this.running < this.opts.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(key, this.handler);
    }
  }

  private async process(key: string, handler: (key: string) => Promise<ReconcileResult>): Promise<void> {
    try {
      const result = await handler(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const delay = this.backoffFor(key);
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      this.opts.onError?.(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      if (this.running === 0 && this.stopped) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }
}
