// PdAccess tells its observer of every snapshot read (the per-cluster metrics), never of a failed one.
import t from 'tap';
import { PdAccess, type PdReads, type PdFacts } from '../../src/pd/facts.ts';

function reads(fail = false): PdReads {
  const m = { name: 'pd-0', member_id: 1, client_urls: ['http://pd-0:2379'] } as never;
  return {
    members: async () => {
      if (fail) throw new Error('PD down');
      return { members: [m], leader: m };
    },
    memberHealth: async () => [{ name: 'pd-0', healthy: true }],
    stores: async () => [],
    evictingStores: async () => [],
    maxReplicas: async () => 3,
    regionCheck: async () => ({ count: 0, regions: [] }),
  };
}

t.test('every snapshot read reaches the observer, with its cluster', async (t) => {
  const seen: Array<[string, string, PdFacts]> = [];
  let now = 0;
  const access = new PdAccess({ client: async () => reads(), ttlMs: 1000, now: () => now, onFacts: (ns, c, f) => seen.push([ns, c, f]) });
  await access.facts('db', 'basic');
  await access.facts('db', 'basic');
  t.equal(seen.length, 1, 'one read within the snapshot lifetime: told once');
  now = 2000;
  await access.facts('db', 'basic');
  t.same(seen.map(([ns, c, f]) => [ns, c, f.leader]), [['db', 'basic', 'pd-0'], ['db', 'basic', 'pd-0']]);
});

t.test('a snapshot whose every read failed still reaches it (the unknown facts are what it shows)', async (t) => {
  const seen: PdFacts[] = [];
  const access = new PdAccess({ client: async () => reads(true), ttlMs: 0, now: () => 0, onFacts: (_ns, _c, f) => seen.push(f) });
  const f = await access.facts('db', 'basic');
  t.equal(f.members, null);
  t.equal(seen.length, 1);
  t.match(seen[0]!.unknown.members, /PD down/);
  const broken = new PdAccess({ client: async () => Promise.reject(new Error('no Secret')), ttlMs: 0, now: () => 0, onFacts: (_ns, _c, x) => seen.push(x) });
  await t.rejects(broken.facts('db', 'basic'), /no Secret/);
  t.equal(seen.length, 1, 'no client, no snapshot: nothing to tell');
});
