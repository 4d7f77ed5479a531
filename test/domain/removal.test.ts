// A scale-in or suspend is judged by the same drain rules as a node drain: mayRemoveMember routes each
// component to its policy and hands TiKV the controller's timeout and clock.
import t from 'tap';
import { mayRemoveMember } from '../../src/domain/removal.ts';

const pd = { members: [{ name: 'basic-pd-0', healthy: true, canLead: true }, { name: 'basic-pd-1', healthy: true, canLead: true }, { name: 'basic-pd-2', healthy: true, canLead: true }], leader: 'basic-pd-0' };
const tikv = (leaderCount: number, evictionBeganAt: number | null) => ({ store: { id: '4', stateName: 'Up', leaderCount, regionCount: 9 }, evicting: true, evictionBeganAt });

t.test('mayRemoveMember', async (t) => {
  const table: Array<{ name: string; d: ReturnType<typeof mayRemoveMember>; kind: string; reason: RegExp }> = [
    { name: 'PD follower', d: mayRemoveMember({ component: 'pd', pod: 'basic-pd-2', pd }), kind: 'allow', reason: /^basic-pd-2 is not the PD leader \(basic-pd-0 is\)/ },
    { name: 'PD leader hands over first', d: mayRemoveMember({ component: 'pd', pod: 'basic-pd-0', pd }), kind: 'wait', reason: /^transferring PD leader from basic-pd-0 to basic-pd-1$/ },
    { name: 'TiKV with leaders waits', d: mayRemoveMember({ component: 'tikv', pod: 'basic-tikv-1', tikv: tikv(5, 100_000), evictTimeoutMs: 60_000, now: 130_000 }), kind: 'wait', reason: /^evicting 5 region leaders from TiKV store 4 of basic-tikv-1 \(for 30s\)$/ },
    { name: 'TiKV eviction past the timeout goes', d: mayRemoveMember({ component: 'tikv', pod: 'basic-tikv-1', tikv: tikv(5, 100_000), evictTimeoutMs: 20_000, now: 130_000 }), kind: 'allow', reason: /did not finish within 20s/ },
    { name: 'TiKV without leaders goes', d: mayRemoveMember({ component: 'tikv', pod: 'basic-tikv-1', tikv: tikv(0, null), evictTimeoutMs: 60_000, now: 0 }), kind: 'allow', reason: /leads no regions/ },
  ];
  for (const row of table) {
    t.equal(row.d.kind, row.kind, `${row.name}: kind`);
    t.match(row.d.reason, row.reason, `${row.name}: ${row.d.reason}`);
  }
});
