// Leader election on a coordination.k8s.io Lease, with client-go's timing (15 s lease, 10 s renew
// deadline, 2 s retry). Every replica serves the extender and the webhooks; only the holder runs the
// controller. Expiry is judged by this process's own clock from when it last saw the record change,
// never by comparing clocks of two machines.

export interface LeaseRecord {
  holder: string | null;
  leaseDurationSeconds: number;
  acquireTime: string | null;
  renewTime: string | null;
  transitions: number;
  /** Opaque version for optimistic concurrency. */
  resourceVersion?: string;
}

export interface LeaseLock {
  get(): Promise<LeaseRecord | null>;
  create(record: LeaseRecord): Promise<void>;
  /** Fails (throws) when the lease changed since record.resourceVersion. */
  update(record: LeaseRecord): Promise<void>;
  describe(): string;
}

export interface ElectorOptions {
  identity: string;
  lock: LeaseLock;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class LeaderElector {
  private readonly opts: Required<Omit<ElectorOptions, 'onNewLeader' | 'onError'>> & Pick<ElectorOptions, 'onNewLeader' | 'onError'>;
  private readonly stopper = new AbortController();
  private leading = false;
  private observed: { record: string; at: number } | null = null;
  private lastRenew = 0;
  private lastHolder: string | null = null;
  private loop: Promise<void> | null = null;

  constructor(opts: ElectorOptions) {
    // 10 s rather than controller-runtime's 15 s: the survivor may first see the last renewal one retry
    // late and notices expiry one retry late, so a 10 s lease keeps takeover after a crash under 15 s.
    this.opts = { leaseDurationMs: 10_000, renewDeadlineMs: 7_000, retryPeriodMs: 2_000, now: Date.now, ...opts };
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a holder gives the lease up (holder cleared) so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      try {
        const current = await this.opts.lock.get();
        if (current?.holder === this.opts.identity) {
          await this.opts.lock.update({ ...current, holder: null, leaseDurationSeconds: 1, renewTime: new Date(this.opts.now()).toISOString() });
        }
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    if (v) this.opts.onStartedLeading();
    else this.opts.onStoppedLeading();
  }

  private async run(): Promise<void> {
    while (!this.stopper.signal.aborted) {
      try {
        const ok = await this.tryAcquireOrRenew();
        if (ok) this.lastRenew = this.opts.now();
      } catch (err) {
        this.opts.onError?.(err);
      }
      if (this.leading && this.opts.now() - this.lastRenew > this.opts.renewDeadlineMs) this.setLeading(false);
      await sleep(this.opts.retryPeriodMs, this.stopper.signal);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.opts.now();
    const me = this.opts.identity;
    const desired = (prev: LeaseRecord | null): LeaseRecord => ({
      holder: me,
      leaseDurationSeconds: Math.round(this.opts.leaseDurationMs / 1000),
      acquireTime: prev?.holder === me && prev.acquireTime ? prev.acquireTime : new Date(now).toISOString(),
      renewTime: new Date(now).toISOString(),
      transitions: prev ? (prev.holder === me ? prev.transitions : prev.transitions + 1) : 0,
      ...(prev?.resourceVersion ? { resourceVersion: prev.resourceVersion } : {}),
    });
    const current = await this.opts.lock.get();
    if (!current) {
      await this.opts.lock.create(desired(null));
      this.noteHolder(me);
      this.setLeading(true);
      return true;
    }
    const fingerprint = `${current.holder}|${current.renewTime}|${current.resourceVersion}`;
    if (!this.observed || this.observed.record !== fingerprint) this.observed = { record: fingerprint, at: now };
    this.noteHolder(current.holder);
    const expired = !current.holder || now - this.observed.at > current.leaseDurationSeconds * 1000;
    if (current.holder !== me && !expired) {
      this.setLeading(false);
      return false;
    }
    await this.opts.lock.update(desired(current));
    this.noteHolder(me);
    this.setLeading(true);
    return true;
  }

  private noteHolder(holder: string | null): void {
    if (holder && holder !== this.lastHolder) this.opts.onNewLeader?.(holder);
    this.lastHolder = holder;
  }
}
