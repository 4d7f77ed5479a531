// Leader election over an in-memory Lease with optimistic concurrency, and a fake clock.
import t from 'tap';
import { LeaderElector, type LeaseLock, type LeaseRecord } from '../../src/controller/leader.ts';

class MemoryLease implements LeaseLock {
  record: LeaseRecord | null = null;
  version = 0;
  failing = false;
  describe() {
    return 'memory';
  }
  async get() {
    if (this.failing) throw new Error('API server unreachable');
    return this.record ? { ...this.record, resourceVersion: String(this.version) } : null;
  }
  async create(r: LeaseRecord) {
    if (this.failing) throw new Error('API server unreachable');
    if (this.record) throw new Error('AlreadyExists');
    this.record = r;
    this.version++;
  }
  async update(r: LeaseRecord) {
    if (this.failing) throw new Error('API server unreachable');
    if (r.resourceVersion !== String(this.version)) throw new Error('Conflict');
    this.record = r;
    this.version++;
  }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function elector(id: string, lock: LeaseLock, clock: { now: number }, log: string[]) {
  return new LeaderElector({
    identity: id,
    lock,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 20,
    now: () => clock.now,
    onStartedLeading: () => log.push(`${id} leads`),
    onStoppedLeading: () => log.push(`${id} stops`),
  });
}

t.test('one of two replicas leads; the other takes over after the lease expires', async (t) => {
  const lock = new MemoryLease();
  const clock = { now: 0 };
  const log: string[] = [];
  const a = elector('a', lock, clock, log);
  const b = elector('b', lock, clock, log);
  a.start();
  await wait(30);
  b.start();
  await wait(60);
  t.ok(a.isLeader());
  t.notOk(b.isLeader());
  // a dies without releasing: its renewals stop, b sees the record unchanged for a lease duration.
  (a as unknown as { stopper: AbortController }).stopper.abort();
  await wait(30);
  clock.now += 600;
  await wait(40);
  t.notOk(b.isLeader(), 'not before the lease duration has passed');
  clock.now += 600;
  await wait(60);
  t.ok(b.isLeader(), 'b took over');
  t.equal(lock.record?.holder, 'b');
  t.equal(lock.record?.transitions, 1);
  await b.stop();
  t.equal(lock.record?.holder, null, 'a stopping leader releases the lease');
  t.same(log, ['a leads', 'b leads', 'b stops']);
});

t.test('a leader that cannot renew within the deadline stops leading', async (t) => {
  const lock = new MemoryLease();
  const clock = { now: 0 };
  const log: string[] = [];
  const a = elector('a', lock, clock, log);
  a.start();
  await wait(30);
  t.ok(a.isLeader());
  lock.failing = true;
  clock.now += 700;
  await wait(50);
  t.notOk(a.isLeader());
  await a.stop();
});

/**
 * A Lease whose calls can be made to hang per replica (the API server unreachable for one of them).
 * It records when each call began and whether it succeeded, so a test can measure from the start of
 * the last successful renewal.
 */
class SharedLease {
  record: LeaseRecord | null = null;
  version = 0;
  readonly hung = new Set<string>();
  readonly calls: Array<{ who: string; op: string; began: number; ok: boolean | null }> = [];
  view(who: string): LeaseLock {
    const call = <T>(op: string, fn: () => T): Promise<T> => {
      const c = { who, op, began: Date.now(), ok: null as boolean | null };
      this.calls.push(c);
      if (this.hung.has(who)) return new Promise<T>(() => {});
      try {
        const v = fn();
        c.ok = true;
        return Promise.resolve(v);
      } catch (err) {
        c.ok = false;
        return Promise.reject(err);
      }
    };
    return {
      describe: () => `shared lease seen by ${who}`,
      get: () => call('get', () => (this.record ? { ...this.record, resourceVersion: String(this.version) } : null)),
      create: (r) =>
        call('create', () => {
          if (this.record) throw new Error('AlreadyExists');
          this.record = { ...r };
          this.version++;
        }),
      update: (r) =>
        call('update', () => {
          if (r.resourceVersion !== String(this.version)) throw new Error('Conflict');
          this.record = { ...r };
          this.version++;
        }),
    };
  }
  /** Start of the last get of `who` whose attempt ended in a successful write. */
  lastRenewBegan(who: string): number {
    const mine = this.calls.filter((c) => c.who === who);
    const write = mine.findLastIndex((c) => c.op !== 'get' && c.ok === true);
    return mine.slice(0, write).findLast((c) => c.op === 'get')!.began;
  }
  pending(who: string): number {
    return this.calls.filter((c) => c.who === who && c.ok === null).length;
  }
}

const until = async (what: string, fn: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(5);
  }
};

// Short real timings: the renew deadline must hold while a call hangs, so real timers are what is tested.
const FAST = { leaseDurationMs: 800, renewDeadlineMs: 300, retryPeriodMs: 50, callTimeoutMs: 250 };

t.test('a renew that hangs: the leader stops within the renew deadline, while the call still hangs', async (t) => {
  const lease = new SharedLease();
  let fence: AbortSignal | null = null;
  let stoppedAt = 0;
  const a = new LeaderElector({
    identity: 'a',
    lock: lease.view('a'),
    ...FAST,
    onStartedLeading: (signal) => void (fence = signal),
    onStoppedLeading: () => void (stoppedAt = Date.now()),
  });
  t.teardown(() => a.stop());
  a.start();
  await until('a leads', () => a.isLeader());
  await wait(120);
  lease.hung.add('a');
  await until('a stops leading', () => !a.isLeader(), 2000);
  const sinceRenew = stoppedAt - lease.lastRenewBegan('a');
  t.ok(sinceRenew <= FAST.renewDeadlineMs + 30, `stopped ${sinceRenew} ms after its last successful renew began (deadline ${FAST.renewDeadlineMs} ms)`);
  t.ok(sinceRenew >= FAST.renewDeadlineMs - 30, `not before the deadline (${sinceRenew} ms)`);
  t.ok(lease.pending('a') > 0, 'a Lease call was still hanging when it stopped');
  t.ok(fence && (fence as AbortSignal).aborted, 'the fence handed out with the leadership is aborted');
});

t.test('the API server unreachable for the leader: it stops acting before the other replica takes over', async (t) => {
  const lease = new SharedLease();
  const log: Array<[string, number]> = [];
  const make = (id: string) =>
    new LeaderElector({
      identity: id,
      lock: lease.view(id),
      ...FAST,
      onStartedLeading: () => void log.push([`${id} leads`, Date.now()]),
      onStoppedLeading: () => void log.push([`${id} stops`, Date.now()]),
    });
  const a = make('a');
  const b = make('b');
  t.teardown(async () => {
    lease.hung.clear();
    await Promise.all([a.stop(), b.stop()]);
  });
  a.start();
  await until('a leads', () => a.isLeader());
  b.start();
  await wait(150);
  lease.hung.add('a');
  const frozeAt = Date.now();
  await until('b leads', () => b.isLeader(), 3000);
  const aStops = log.find(([w]) => w === 'a stops')?.[1];
  const bLeads = log.find(([w]) => w === 'b leads')?.[1];
  t.ok(aStops !== undefined && bLeads !== undefined && aStops < bLeads, `a stopped (${aStops! - frozeAt} ms after the freeze) before b led (${bLeads! - frozeAt} ms)`);
  t.notOk(a.isLeader(), 'a does not lead while it cannot reach the Lease');
  t.equal(lease.record?.holder, 'b');
  t.same(log.map(([w]) => w), ['a leads', 'a stops', 'b leads']);
});

t.test('timings that cannot fence are refused', async (t) => {
  const base = { identity: 'a', lock: new MemoryLease(), onStartedLeading() {}, onStoppedLeading() {} };
  t.throws(() => new LeaderElector({ ...base, leaseDurationMs: 5000, renewDeadlineMs: 5000 }), /renew deadline .* shorter than the lease duration/);
  t.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 1000, retryPeriodMs: 1000 }), /retry period .* shorter than the renew deadline/);
  t.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 1000, retryPeriodMs: 200, callTimeoutMs: 1000 }), /call timeout .* shorter than the renew deadline/);
});

t.test('release() while a renew is in flight: the renew that lands afterwards does not make it lead again', async (t) => {
  const lease = new SharedLease();
  const view = lease.view('a');
  let gate: Promise<void> | null = null;
  let open = () => {};
  const gated: LeaseLock = { ...view, get: async () => (gate && (await gate), view.get()) };
  const log: string[] = [];
  const a = new LeaderElector({ identity: 'a', lock: gated, ...FAST, onStartedLeading: () => void log.push('a leads'), onStoppedLeading: (why) => void log.push(`a stops: ${why}`) });
  a.start();
  await until('a leads', () => a.isLeader());
  gate = new Promise<void>((r) => (open = r));
  await wait(FAST.retryPeriodMs + 20); // the loop's next get waits at the gate
  const released = a.release();
  gate = null;
  open();
  await released;
  await wait(100);
  t.notOk(a.isLeader());
  t.same(log, ['a leads', 'a stops: released']);
});
