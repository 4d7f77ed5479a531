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
