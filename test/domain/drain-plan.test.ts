// The drain plan of one pod: a table over the webhook's cases (allowed, held and why, what it would
// change first, who else is leaving), from small builders of the authority's assessment.
import t from 'tap';
import { describeStep, planRemoval, type PlanAssessment, type PlanContext, type PlanPod, type PlanStore } from '../../src/domain/drain-plan.ts';
import type { EvictionRecord } from '../../src/domain/drain.ts';
import type { MemberView } from '../../src/domain/members.ts';

const NOW = 10_000_000;
const pod = (name: string, over: Partial<PlanPod> = {}): PlanPod => ({
  namespace: 'db',
  name,
  cluster: 'basic',
  component: name.includes('-tikv-') ? 'tikv' : name.includes('-tidb-') ? 'tidb' : 'pd',
  uid: `uid-${name}`,
  running: true,
  terminal: false,
  deleting: false,
  skipDrainCheck: false,
  ...over,
});
const pdm = (i: number, over: Partial<MemberView> = {}): MemberView => ({ component: 'pd', name: `basic-pd-${i}`, pod: `basic-pd-${i}`, healthy: true, state: 'serving', why: 'serving', leaving: null, canLead: true, ...over });
const kv = (id: string, over: Partial<MemberView> = {}): MemberView => ({ component: 'tikv', name: id, pod: `basic-tikv-${Number(id) - 1}`, healthy: true, state: 'serving', why: 'serving', leaving: null, canLead: false, storeState: 'Up', ...over });
const storeFact = (id: string, leaders: number, state = 'Up'): PlanStore => ({ store: { id, state_name: state }, status: { leader_count: leaders, region_count: leaders * 3 } });

interface Given {
  members: MemberView[];
  self?: string | null;
  allowed?: boolean;
  reason?: string;
  unknown?: string | null;
  leader?: string | null;
  stores?: PlanStore[];
  evicting?: string[] | null;
  evictions?: EvictionRecord[];
  recorded?: PlanAssessment['recorded'];
}
function assess(g: Given, selfPod: string): PlanAssessment {
  const self = g.self === null ? undefined : g.members.find((m) => m.pod === (g.self ?? selfPod));
  return {
    decision: { allowed: g.allowed ?? true, reason: g.reason ?? 'quorum kept' },
    unknown: g.unknown ?? null,
    self,
    recorded: g.recorded,
    members: g.members,
    facts: { leader: g.leader ?? null, stores: g.stores ?? null, evicting: g.evicting === undefined ? [] : g.evicting, maxReplicas: 3 },
    versioned: { ledger: { evictions: g.evictions ?? [], seenEvictions: [] } },
  };
}
const ctx = (over: Partial<PlanContext> = {}): PlanContext => ({ teardown: null, evictingUnknown: null, podServing: (name) => ({ uid: `uid-${name}`, nodeName: 'n1', serves: true }), evictTimeoutMs: 600_000, now: NOW, ...over });

const PD3 = [pdm(0), pdm(1), pdm(2)];
const KV4 = [kv('1'), kv('2'), kv('3'), kv('4')];

t.test('table: one pod, what a drain would get now', async (t) => {
  const rows: Array<{ name: string; pod: PlanPod; given?: Given; ctx?: Partial<PlanContext>; allowed: boolean; reason: RegExp; steps?: string[]; warnings?: RegExp[]; leaving?: string[] }> = [
    { name: 'TiDB server', pod: pod('basic-tidb-0'), allowed: true, reason: /TiDB servers hold no quorum or data/ },
    { name: 'already terminating', pod: pod('basic-pd-0', { deleting: true }), given: { members: PD3 }, allowed: true, reason: /already terminating/ },
    { name: 'escape hatch', pod: pod('basic-pd-0', { skipDrainCheck: true }), given: { members: PD3 }, allowed: true, reason: /escape hatch/, warnings: [/without drain checks/] },
    { name: 'teardown', pod: pod('basic-pd-0'), given: { members: PD3 }, ctx: { teardown: 'namespace db is being deleted' }, allowed: true, reason: /^namespace db is being deleted$/ },
    {
      name: "the controller's own scale-in",
      pod: pod('basic-pd-2'),
      given: { members: PD3, recorded: { component: 'pd', member: 'basic-pd-2', pod: 'basic-pd-2', podUid: 'uid-basic-pd-2', since: NOW - 5000, act: 'scale-in' } },
      allowed: true,
      reason: /controller removes it \(scale-in, recorded in the DisruptionLedger 5s ago\)/,
    },
    { name: 'PD unreadable, pod running: held', pod: pod('basic-pd-0'), given: { members: [], unknown: "PD's members and their health cannot be read: connect ECONNREFUSED" }, allowed: false, reason: /^cannot check it with PD of cluster db\/basic: PD's members and their health cannot be read: connect ECONNREFUSED; will retry$/ },
    { name: 'PD unreadable, pod not running: goes', pod: pod('basic-pd-0', { running: false }), given: { members: [], unknown: 'PD down' }, allowed: true, reason: /not Running and PD cannot be reached/, warnings: [/cannot be asked \(PD down\)/] },
    { name: 'not a member', pod: pod('basic-pd-9'), given: { members: PD3, self: null, reason: 'basic-pd-9 is not a member of this PD cluster' }, allowed: true, reason: /not a member/ },
    {
      name: 'quorum guard: held, and who else is leaving',
      pod: pod('basic-pd-1'),
      given: { members: [pdm(0, { state: 'leaving', leaving: 'pod is terminating' }), pdm(1), pdm(2, { healthy: false, state: 'failed' })], allowed: false, reason: 'would leave 0 of 3 members healthy' },
      allowed: false,
      reason: /^would leave 0 of 3 members healthy$/,
      leaving: ['PD member basic-pd-0 (pod is terminating)'],
    },
    { name: 'PD leader: leadership moves first', pod: pod('basic-pd-0'), given: { members: PD3, leader: 'basic-pd-0' }, allowed: false, reason: /^transferring PD leader from basic-pd-0 to basic-pd-1$/, steps: ['move PD leadership from basic-pd-0 to basic-pd-1'] },
    { name: 'PD leader with no successor that can lead', pod: pod('basic-pd-0'), given: { members: [pdm(0), pdm(1, { canLead: false }), pdm(2, { canLead: false })], leader: 'basic-pd-0' }, allowed: false, reason: /no healthy successor on a schedulable node/, steps: [] },
    { name: 'PD follower goes', pod: pod('basic-pd-2'), given: { members: PD3, leader: 'basic-pd-0', reason: '2 of 3 PD members stay healthy' }, allowed: true, reason: /^2 of 3 PD members stay healthy; basic-pd-2 is not the PD leader \(basic-pd-0 is\)/ },
    { name: 'PD during an election', pod: pod('basic-pd-2'), given: { members: PD3, leader: null }, allowed: false, reason: /election is in progress/ },
    {
      name: 'TiKV with leaders: evict them first',
      pod: pod('basic-tikv-1'),
      given: { members: KV4, stores: [storeFact('1', 5), storeFact('2', 11), storeFact('3', 7), storeFact('4', 2)] },
      allowed: false,
      reason: /^evicting 11 region leaders from TiKV store 2 of basic-tikv-1$/,
      steps: ['evict 11 region leaders from TiKV store 2'],
    },
    {
      name: 'TiKV already evicting (cordon): held, nothing new to start',
      pod: pod('basic-tikv-1'),
      given: { members: KV4, stores: [storeFact('1', 5), storeFact('2', 11)], evicting: ['2'] },
      allowed: false,
      reason: /^evicting 11 region leaders from TiKV store 2 of basic-tikv-1$/,
      steps: [],
    },
    { name: 'TiKV with no leaders goes (and the eviction keeps it so)', pod: pod('basic-tikv-0'), given: { members: KV4, stores: [storeFact('1', 0)] }, allowed: true, reason: /store 1 of basic-tikv-0 leads no regions/, steps: ['evict 0 region leaders from TiKV store 1'] },
    {
      name: 'TiKV eviction past its timeout goes with a warning',
      pod: pod('basic-tikv-0'),
      given: { members: KV4, stores: [storeFact('1', 4)], evicting: ['1'], evictions: [{ storeId: '1', podUid: 'uid-basic-tikv-0', beganAt: NOW - 601_000, cause: 'removal' }] },
      allowed: true,
      reason: /did not finish within 600s/,
      warnings: [/goes with 4 region leaders still on store 1/],
    },
    {
      name: 'TiKV: no room for its leaders',
      pod: pod('basic-tikv-0'),
      given: { members: [kv('1'), kv('2'), kv('3'), kv('4', { storeState: 'Down', healthy: false })], stores: [storeFact('1', 9)], evicting: ['2'] },
      allowed: false,
      reason: /could leave regions with nowhere to put their leaders: store 2 \(evicting.*\), store 4 \(not Up\)/,
      steps: [],
    },
    {
      name: 'TiKV: an abandoned eviction gives way first',
      pod: pod('basic-tikv-0'),
      given: { members: KV4, stores: [storeFact('1', 9)], evicting: ['2', '3'], evictions: [{ storeId: '2', podUid: 'uid-basic-tikv-1', beganAt: NOW - 120_000, cause: 'removal' }] },
      allowed: false,
      reason: /^evicting 9 region leaders from TiKV store 1 of basic-tikv-0$/,
      steps: ['end the abandoned leader evictions of store 2 to make room', 'evict 9 region leaders from TiKV store 1'],
    },
    { name: 'TiKV: evict-leader entries unreadable', pod: pod('basic-tikv-0'), given: { members: KV4, stores: [storeFact('1', 9)], evicting: null }, ctx: { evictingUnknown: "PD's evict-leader entries cannot be read: timeout" }, allowed: false, reason: /cannot check it with PD of cluster db\/basic: PD's evict-leader entries cannot be read: timeout/ },
    { name: 'TiKV store Tombstone', pod: pod('basic-tikv-0'), given: { members: [kv('1', { state: 'gone', storeState: 'Tombstone' })], reason: 'store 1 of basic-tikv-0 is Tombstone' }, allowed: true, reason: /Tombstone/ },
  ];
  for (const r of rows) {
    const p = planRemoval(r.pod, r.given ? assess(r.given, r.pod.name) : null, ctx(r.ctx));
    t.equal(p.allowed, r.allowed, `${r.name}: ${p.reason}`);
    t.match(p.reason, r.reason, r.name);
    if (r.steps) t.same(p.steps.map(describeStep), r.steps, `${r.name}: steps`);
    if (r.warnings) t.match(p.warnings, r.warnings, `${r.name}: warnings`);
    else t.same(p.warnings, [], `${r.name}: no warnings`);
    if (r.leaving) t.same(p.leaving, r.leaving, `${r.name}: leaving`);
  }
});

t.test('a PD/TiKV pod that was not assessed is never allowed', async (t) => {
  t.match(planRemoval(pod('basic-pd-0'), null, ctx()), { allowed: false, reason: /not assessed/ });
});
