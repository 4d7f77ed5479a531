// Leader election on a coordination.k8s.io Lease, with client-go's timing (lease, renew deadline,
// retry). Every replica serves the extender and the webhooks; only the holder runs the controller.
// Expiry is judged by this process's own clock from when it last saw the record change, never by
// comparing clocks of two machines.
//
// Fencing: another replica may take over once it has seen our record unchanged for a lease duration,
// counted from when it received that record, which is after our write landed, which is after our
// attempt began. So a leader that stops acting at most renewDeadline after the start of its last
// successful attempt (a timer, also while a call hangs) never acts once another could have taken over.
// Every Lease call is bounded, so a hung API connection cannot hold the loop or the shutdown.

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

/** Why a replica stopped leading. */
export type StopReason = 'renew deadline passed' | 'another replica holds the lease' | 'released';

export interface ElectorOptions {
  identity: string;
  lock: LeaseLock;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Bound on each Lease call (give the lock the same deadline, so the request itself ends too). */
  callTimeoutMs?: number;
  /** `fence` is aborted the moment this leadership ends: acts check it first. */
  onStartedLeading: (fence: AbortSignal) => void;
  onStoppedLeading: (reason: StopReason) => void;
  onNewLeader?: (identity: string) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * 10 s rather than controller-runtime's 15 s: the survivor may first see the last renewal one retry
 * late and notices expiry one retry late, so a 10 s lease keeps takeover after a crash under 15 s.
 * A renew attempt is two calls (get, update): two call timeouts fit in the renew deadline with a
 * retry between them.
 */
export const LEASE_TIMING = { leaseDurationMs: 10_000, renewDeadlineMs: 7_000, retryPeriodMs: 2_000, callTimeoutMs: 1_500 } as const;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

type Options = Required<Omit<ElectorOptions, 'onNewLeader' | 'onError'>> & Pick<ElectorOptions, 'onNewLeader' | 'onError'>;

export class LeaderElector {
  private readonly opts: Options;
  private readonly stopper = new AbortController();
  private leading = false;
  private term: AbortController | null = null;
  private observed: { record: string; at: number } | null = null;
  /** When the last successful acquire or renew attempt began (this process's clock). */
  private lastRenew = 0;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private lastHolder: string | null = null;
  private loop: Promise<void> | null = null;

  constructor(opts: ElectorOptions) {
    const renewDeadlineMs = opts.renewDeadlineMs ?? LEASE_TIMING.renewDeadlineMs;
    this.opts = { ...LEASE_TIMING, callTimeoutMs: Math.min(LEASE_TIMING.callTimeoutMs, Math.floor(renewDeadlineMs / 4)), now: Date.now, ...opts };
    const { leaseDurationMs: lease, renewDeadlineMs: renew, retryPeriodMs: retry, callTimeoutMs: call } = this.opts;
    if (!(renew < lease)) throw new Error(`leader election: the renew deadline (${renew} ms) must be shorter than the lease duration (${lease} ms), or another replica may take over while this one still acts`);
    if (!(retry < renew)) throw new Error(`leader election: the retry period (${retry} ms) must be shorter than the renew deadline (${renew} ms), or a leader cannot renew in time`);
    if (!(call < renew)) throw new Error(`leader election: the Lease call timeout (${call} ms) must be shorter than the renew deadline (${renew} ms)`);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning and gives the lease up (holder cleared) so another replica takes over at once. */
  async stop(): Promise<void> {
    await this.stopCampaigning();
    await this.release();
  }

  /**
   * Stops trying to acquire or renew. A leader stays leader (its fence intact) until release() or
   * until its renew deadline passes, so in-flight work can end before the lease is given up.
   */
  async stopCampaigning(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  /** Stops leading now, and clears the holder if the lease still names this replica. */
  async release(): Promise<void> {
    this.stopper.abort();
    this.clearWatchdog();
    const held = this.leading || this.lastHolder === this.opts.identity;
    this.setLeading(false, 'released');
    if (!held) return;
    try {
      const current = await this.call('get', () => this.opts.lock.get());
      if (current?.holder === this.opts.identity) {
        await this.call('update', () => this.opts.lock.update({ ...current, holder: null, leaseDurationSeconds: 1, renewTime: new Date(this.opts.now()).toISOString() }));
      }
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private setLeading(v: boolean, reason: StopReason = 'released'): void {
    if (this.leading === v) return;
    this.leading = v;
    if (v) {
      this.term = new AbortController();
      this.opts.onStartedLeading(this.term.signal);
    } else {
      this.clearWatchdog();
      this.term?.abort(new Error(`leadership ended: ${reason}`));
      this.term = null;
      this.opts.onStoppedLeading(reason);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopper.signal.aborted) {
      const began = this.opts.now();
      try {
        if (await this.tryAcquireOrRenew()) this.renewed(began);
      } catch (err) {
        this.opts.onError?.(err);
      }
      this.checkDeadline();
      await sleep(this.opts.retryPeriodMs, this.stopper.signal);
    }
  }

  /** A successful attempt that began at `began`: lead until began + renewDeadline unless renewed again. */
  private renewed(began: number): void {
    // An attempt that lands after stopCampaigning()/release() may keep a leadership, never start one.
    if (this.stopper.signal.aborted && !this.leading) return;
    this.lastRenew = began;
    if (this.opts.now() - began >= this.opts.renewDeadlineMs) {
      this.setLeading(false, 'renew deadline passed');
      return;
    }
    this.setLeading(true);
    this.armWatchdog();
  }

  private checkDeadline(): void {
    if (this.leading && this.opts.now() - this.lastRenew >= this.opts.renewDeadlineMs) this.setLeading(false, 'renew deadline passed');
  }

  private armWatchdog(): void {
    this.clearWatchdog();
    const left = this.lastRenew + this.opts.renewDeadlineMs - this.opts.now();
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      this.checkDeadline();
      if (this.leading) this.armWatchdog();
    }, Math.max(0, left));
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  /** A Lease call that gives up after callTimeoutMs even if the lock does not. */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const ms = this.opts.callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Lease ${what} on ${this.opts.lock.describe()} got no answer within ${ms} ms`)), ms);
      fn().then(
        (v) => (clearTimeout(timer), resolve(v)),
        (err) => (clearTimeout(timer), reject(err)),
      );
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const me = this.opts.identity;
    const desired = (prev: LeaseRecord | null): LeaseRecord => {
      const now = this.opts.now();
      return {
        holder: me,
        leaseDurationSeconds: Math.round(this.opts.leaseDurationMs / 1000),
        acquireTime: prev?.holder === me && prev.acquireTime ? prev.acquireTime : new Date(now).toISOString(),
        renewTime: new Date(now).toISOString(),
        transitions: prev ? (prev.holder === me ? prev.transitions : prev.transitions + 1) : 0,
        ...(prev?.resourceVersion ? { resourceVersion: prev.resourceVersion } : {}),
      };
    };
    const current = await this.call('get', () => this.opts.lock.get());
    if (!current) {
      await this.call('create', () => this.opts.lock.create(desired(null)));
      this.noteHolder(me);
      return true;
    }
    // Seen when the answer arrived, not when the call began: the record may have changed in between.
    const seenAt = this.opts.now();
    const fingerprint = `${current.holder}|${current.renewTime}|${current.resourceVersion}`;
    if (!this.observed || this.observed.record !== fingerprint) this.observed = { record: fingerprint, at: seenAt };
    this.noteHolder(current.holder);
    const expired = !current.holder || seenAt - this.observed.at > current.leaseDurationSeconds * 1000;
    if (current.holder !== me && !expired) {
      this.setLeading(false, 'another replica holds the lease');
      return false;
    }
    await this.call('update', () => this.opts.lock.update(desired(current)));
    this.noteHolder(me);
    return true;
  }

  private noteHolder(holder: string | null): void {
    if (holder && holder !== this.lastHolder) this.opts.onNewLeader?.(holder);
    this.lastHolder = holder;
  }
}
