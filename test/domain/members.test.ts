// The member model: per PD member or TiKV store, its pod and its state, from PD's facts, the caches
// and the ledger. Tables with small builders.
import t from 'tap';
import { deriveMembers, disruptionMembers, type MemberFacts, type MemberPodFacts, type ReportedMember } from '../../src/domain/members.ts';
import type { LeavingEntry } from '../../src/domain/drain.ts';

const pod = (name: string, over: Partial<MemberPodFacts> = {}): MemberPodFacts => ({ name, uid: `uid-${name}`, running: true, ready: true, deleting: false, nodeName: 'n1', ...over });
const facts = (component: 'pd' | 'tikv', members: ReportedMember[], pods: MemberPodFacts[], over: Partial<MemberFacts> = {}): MemberFacts => ({
  component,
  members,
  pods: new Map(pods.map((p) => [p.name, p])),
  node: (n) => (n === 'gone-node' ? undefined : { draining: n === 'cordoned' }),
  leaving: [],
  ...over,
});
const entry = (member: string, act: LeavingEntry['act'] = 'eviction'): LeavingEntry => ({ component: 'pd', member, pod: member, podUid: `uid-${member}`, since: 5, act });

t.test('PD members: each state with its reason', async (t) => {
  const rows: Array<[string, ReportedMember, MemberPodFacts | null, Partial<MemberFacts>, string, RegExp, boolean]> = [
    ['healthy, its pod Ready', { name: 'a', pod: 'a', healthy: true }, pod('a'), {}, 'serving', /^serving$/, true],
    ['its removal recorded', { name: 'a', pod: 'a', healthy: true }, pod('a'), { leaving: [entry('a', 'scale-in')] }, 'leaving', /scale-in was allowed/, false],
    ['no pod', { name: 'a', pod: 'a', healthy: false }, null, {}, 'away', /has no pod/, false],
    ['pod terminating', { name: 'a', pod: 'a', healthy: true }, pod('a', { deleting: true }), {}, 'leaving', /terminating/, false],
    ['pod not Ready', { name: 'a', pod: 'a', healthy: true }, pod('a', { ready: false }), {}, 'away', /not Ready/, false],
    ['node being drained', { name: 'a', pod: 'a', healthy: true }, pod('a', { nodeName: 'cordoned' }), {}, 'leaving', /node cordoned is being drained/, false],
    ['unhealthy while its pod is Ready', { name: 'a', pod: 'a', healthy: false }, pod('a'), {}, 'failed', /does not answer its health check/, false],
    ['its node is not in the cache: may not lead', { name: 'a', pod: 'a', healthy: true }, pod('a', { nodeName: 'gone-node' }), {}, 'serving', /serving/, false],
  ];
  for (const [name, member, p, over, state, why, canLead] of rows) {
    const [v] = deriveMembers(facts('pd', [member], p ? [p] : [], over));
    t.equal(v!.state, state, `${name}: state`);
    t.match(v!.why, why, `${name}: why`);
    t.equal(v!.canLead, canLead, `${name}: may lead`);
  }
});

t.test('TiKV stores: gone, joining, and dead stores that hold no data', async (t) => {
  const views = deriveMembers(
    facts(
      'tikv',
      [
        { name: '1', pod: 'kv-0', healthy: true, storeState: 'Up', regionCount: 30 },
        { name: '2', pod: 'kv-1', healthy: false, storeState: 'Tombstone', regionCount: 0 },
        { name: '3', pod: undefined, healthy: false, storeState: 'Down', regionCount: 0 },
        { name: '4', pod: undefined, healthy: false, storeState: 'Down', regionCount: 12 },
      ],
      [pod('kv-0'), pod('kv-2')],
    ),
  );
  t.same(
    views.map((v) => [v.name, v.state, v.holdsNoData ?? false]),
    [
      ['1', 'serving', false],
      ['2', 'gone', false],
      ['3', 'away', true],
      ['4', 'away', false],
      ['kv-2', 'joining', false],
    ],
  );
  t.same(disruptionMembers(views).map((v) => v.name), ['1', '4'], 'gone, joining and dead-without-data members do not count for a disruption');
});
