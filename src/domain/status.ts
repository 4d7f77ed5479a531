// The status a TidbCluster should show, derived from one observed snapshot and the steps decided for
// it: per component members as PD reports them, and the conditions Ready, Progressing, Paused,
// Suspended and Degraded with the reason of whatever holds the cluster back. Each PD member's and
// TiKV store's state comes from the member model (members.ts), so Degraded never contradicts the list.
import type { ComponentName, Phase, TidbCluster, TidbClusterStatus } from '../cluster/schema.ts';
import { setCondition, type ConditionInput } from './conditions.ts';
import { deriveMembers, memberNameMatchesPod, type MemberPodFacts, type MemberView, type ReportedMember } from './members.ts';
import type { Diagnosis } from './pending.ts';
import { pdBootstrapped, storeOf, type Observed, type Step } from './steps.ts';

export interface Outcome {
  steps: Step[];
  paused: boolean;
  /** The spec failed validation: nothing was changed. */
  invalid: string | null;
  pending: Array<Diagnosis & { pod: string }>;
  /** What a paused cluster would do if resumed. */
  held: string[];
}

const isUp = (state: string) => state === 'Up' || state === 'Serving';
const GONE = new Set(['Tombstone', 'Removed']);

/**
 * The member model of one component from the controller's snapshot; null when PD's side is unknown.
 * The snapshot has no node facts: a member on a node being drained shows by its pod, not its node.
 */
export function observedMembers(tc: TidbCluster, o: Observed, component: 'pd' | 'tikv'): MemberView[] | null {
  const pods = new Map<string, MemberPodFacts>(o.pods[component].map((p) => [p.name, { name: p.name, uid: p.uid ?? '', running: p.phase === 'Running', ready: p.ready, deleting: p.deleting, nodeName: p.nodeName }]));
  let reported: ReportedMember[];
  if (component === 'pd') {
    if (!o.pd.reachable) return null;
    reported = o.pd.members.map((m) => ({ name: m.name, pod: [...pods.keys()].find((p) => p === m.name) ?? [...pods.keys()].find((p) => memberNameMatchesPod(m.name, [], p)), healthy: m.healthy }));
  } else {
    if (!o.stores) return null;
    const prefix = `${tc.metadata.name}-tikv-`;
    const mine = o.stores.filter((s) => s.pod?.startsWith(prefix));
    // A Tombstone store and the live store of a reused pod name: the live one is the pod's.
    const live = new Set(mine.filter((s) => !GONE.has(s.state)).map((s) => s.pod));
    reported = mine.map((s) => ({ name: s.id, pod: GONE.has(s.state) && live.has(s.pod) ? undefined : s.pod!, healthy: isUp(s.state), storeState: s.state, regionCount: s.regionCount, leaderCount: s.leaderCount }));
  }
  return deriveMembers({ component, members: reported, pods, node: () => undefined, leaving: o.ledger.leaving });
}

const describe = (m: MemberView) => `${m.component === 'pd' ? `PD member ${m.name}` : `store ${m.name}${m.pod ? ` (${m.pod})` : ''}`} ${m.state} (${m.why})`;
/** Why members that should serve do not: PD first, then stores that are down or have no pod, then others. */
const hurtReason = (hurt: readonly MemberView[]) =>
  hurt.some((m) => m.component === 'pd') ? 'PDMemberUnhealthy' : hurt.some((m) => m.state === 'away' || ['Down', 'Disconnected'].includes(m.storeState ?? '')) ? 'StoreDown' : 'StoreNotUp';

export function deriveStatus(tc: TidbCluster, o: Observed, out: Outcome): TidbClusterStatus {
  const spec = tc.spec;
  const gen = tc.metadata.generation;
  const now = o.now;
  const ready = (c: ComponentName) => o.pods[c].filter((p) => p.phase === 'Running' && p.ready && !p.deleting).length;
  const desired = (c: ComponentName) => (spec.suspend ? 0 : spec[c].replicas);
  // Stryker disable next-line ArrayDeclaration: equivalent, a non-store element has no pod and is filtered out
  const tikvStores = (o.stores ?? [])
    .filter((s) => s.pod && s.pod.startsWith(`${tc.metadata.name}-tikv-`))
    .map((s) => ({ id: s.id, pod: s.pod!, state: s.state, leaderCount: s.leaderCount, regionCount: s.regionCount }))
    .sort((a, b) => Number(a.id) - Number(b.id));
  const upStores = Array.from({ length: desired('tikv') }, (_, i) => storeOf(o, `${tc.metadata.name}-tikv-${i}`)).filter((s) => s && isUp(s.state)).length;
  const healthyMembers = o.pd.members.filter((m) => m.healthy).length;

  const blocked = out.steps.find((s) => s.block);
  const moving = out.steps.find((s) => s.progress);
  const refused = out.steps.find((s) => s.refused);
  const allPods = o.pods.pd.length + o.pods.tikv.length + o.pods.tidb.length;
  const suspended = spec.suspend && allPods === 0;
  const stsSettled = (['pd', 'tikv', 'tidb'] as const).every((c) => {
    const s = o.sts[c];
    return s !== null && s.replicas === desired(c) && s.readyReplicas === desired(c) && s.updatedReplicas === desired(c) && s.currentRevision === s.updateRevision;
  });
  const componentsReady =
    !spec.suspend &&
    ready('pd') === desired('pd') &&
    healthyMembers === desired('pd') &&
    o.pd.leader !== null &&
    upStores === desired('tikv') &&
    ready('tikv') === desired('tikv') &&
    ready('tidb') === desired('tidb');

  const unhealthyPd = o.pd.members.filter((m) => !m.healthy).map((m) => m.name);
  const pdMembers = observedMembers(tc, o, 'pd');
  const tikvMembers = observedMembers(tc, o, 'tikv');
  const members = [...(pdMembers ?? []), ...(tikvMembers ?? [])].filter((m) => m.state !== 'gone');
  const hurt = members.filter((m) => m.state === 'failed' || m.state === 'away');
  const changing = members.filter((m) => m.state === 'leaving' || m.state === 'joining');

  let conditions = tc.status.conditions ?? [];
  const set = (c: ConditionInput) => (conditions = setCondition(conditions, c, gen, now));

  let readyCond: ConditionInput;
  if (out.invalid) readyCond = { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: out.invalid };
  else if (spec.suspend) readyCond = { type: 'Ready', status: 'False', reason: 'Suspended', message: suspended ? 'the cluster is suspended (spec.suspend)' : 'the cluster is being suspended' };
  else if (componentsReady && stsSettled && !blocked) readyCond = { type: 'Ready', status: 'True', reason: 'ClusterReady', message: `PD ${ready('pd')}/${desired('pd')} (leader ${o.pd.leader}), TiKV ${upStores}/${desired('tikv')} stores Up, TiDB ${ready('tidb')}/${desired('tidb')} ready` };
  else if (out.pending.length) readyCond = { type: 'Ready', status: 'False', reason: 'PodsPending', message: out.pending.map((p) => p.message).join('; ') };
  else if (blocked) readyCond = { type: 'Ready', status: 'False', reason: blocked.block!.code, message: blocked.block!.message };
  else if (moving) readyCond = { type: 'Ready', status: 'False', reason: moving.progress!.code, message: moving.progress!.message };
  else if (unhealthyPd.length) readyCond = { type: 'Ready', status: 'False', reason: 'PDUnhealthy', message: `PD members not healthy: ${unhealthyPd.join(', ')}` };
  else if (upStores < desired('tikv')) readyCond = { type: 'Ready', status: 'False', reason: 'TiKVStoreNotUp', message: `${upStores} of ${desired('tikv')} TiKV stores Up` };
  else readyCond = { type: 'Ready', status: 'False', reason: 'StatefulSetNotReady', message: `pods ready: PD ${ready('pd')}/${desired('pd')}, TiKV ${ready('tikv')}/${desired('tikv')}, TiDB ${ready('tidb')}/${desired('tidb')}` };
  set(readyCond);

  if (out.invalid) set({ type: 'Progressing', status: 'False', reason: 'InvalidSpec', message: out.invalid });
  else if (refused) set({ type: 'Progressing', status: 'False', reason: refused.refused!.code, message: refused.refused!.message });
  else if (out.paused && out.held.length) set({ type: 'Progressing', status: 'False', reason: 'Paused', message: `held while paused: ${out.held.join('; ')}` });
  else if (moving) set({ type: 'Progressing', status: 'True', reason: moving.progress!.code, message: moving.progress!.message });
  else if (blocked) set({ type: 'Progressing', status: 'True', reason: blocked.block!.code, message: blocked.block!.message });
  else if (!stsSettled && !suspended) set({ type: 'Progressing', status: 'True', reason: 'RollingOut', message: 'StatefulSets are being brought to their desired state' });
  else set({ type: 'Progressing', status: 'False', reason: 'Settled', message: 'nothing to change' });

  set(out.paused
    ? { type: 'Paused', status: 'True', reason: 'Paused', message: out.held.length ? `spec.paused: changes held: ${out.held.join('; ')}` : 'spec.paused: no change is made to the cluster objects' }
    : { type: 'Paused', status: 'False', reason: 'NotPaused', message: 'changes are applied' });

  // A step is only found as blocked when its block is set.
  const suspendingMessage = blocked?.block!.message ?? 'stopping TiDB, then TiKV, then PD';
  set(suspended
    ? { type: 'Suspended', status: 'True', reason: 'Suspended', message: 'all pods are stopped; volumes are kept' }
    : spec.suspend
      ? { type: 'Suspended', status: 'False', reason: 'Suspending', message: suspendingMessage }
      : { type: 'Suspended', status: 'False', reason: 'NotSuspended', message: 'the cluster runs' });

  // From the member list below: "every member is healthy" only when every member serves.
  if (out.pending.length) set({ type: 'Degraded', status: 'True', reason: out.pending[0]!.code, message: out.pending.map((p) => p.message).join('; ') });
  else if (spec.suspend) set({ type: 'Degraded', status: 'False', reason: 'Suspend', message: suspended ? 'every member is stopped on purpose (spec.suspend)' : 'members stop on purpose while the cluster is suspended' });
  // Members' health is unknown while PD does not answer: say so rather than "every member is healthy".
  else if (!pdMembers) set({ type: 'Degraded', status: 'Unknown', reason: 'PDUnreachable', message: `members' health is unknown: ${o.pd.error ?? 'PD does not answer'}` });
  else if (!tikvMembers) set({ type: 'Degraded', status: 'Unknown', reason: 'StoresUnknown', message: "TiKV stores' state is unknown: PD did not list its stores" });
  else if (hurt.length) set({ type: 'Degraded', status: 'True', reason: hurtReason(hurt), message: `not serving: ${hurt.map(describe).join('; ')}` });
  else if (refused) set({ type: 'Degraded', status: 'True', reason: refused.refused!.code, message: refused.refused!.message });
  else if (changing.length) set({ type: 'Degraded', status: 'False', reason: 'MembersChanging', message: `no member failed; changing on purpose: ${changing.map(describe).join('; ')}` });
  else set({ type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'every member is healthy' });

  // The rolling upgrade: which component rolls, and the member that waits for what (or stopped it).
  const rolling = out.steps.find((s) => s.upgrade && s.upgrade.state !== 'Done');
  if (rolling?.upgrade?.state === 'Stopped') set({ type: 'Upgrading', status: 'True', reason: 'UpgradeStopped', message: rolling.upgrade.message });
  else if (rolling) set({ type: 'Upgrading', status: 'True', reason: 'Rolling', message: `${rolling.component}: ${rolling.upgrade!.message}` });
  else if (out.steps.some((s) => s.upgrade)) set({ type: 'Upgrading', status: 'False', reason: 'UpToDate', message: 'every member runs the current pod template' });

  let phase: Phase;
  if (out.invalid) phase = 'Failed';
  else if (suspended) phase = 'Suspended';
  else if (spec.suspend) phase = 'Suspending';
  else if (out.paused) phase = 'Paused';
  else if (readyCond.status === 'True') phase = 'Normal';
  else if (rolling) phase = 'Upgrading';
  else if (moving && /Scal/.test(moving.progress!.code)) phase = 'Scaling';
  else if (!o.sts.pd || !pdBootstrapped(tc, o)) phase = 'Creating';
  else phase = 'Waiting';

  const component = (c: ComponentName, readyCount: number) => {
    const sts = o.sts[c];
    const step = out.steps.find((s) => s.component === c);
    const up = step?.upgrade;
    // The version is recorded once every member runs the current template.
    const version = up?.state === 'Done' ? (spec[c].image ?? spec.version) : tc.status[c]?.version;
    return {
      phase: spec.suspend ? (o.pods[c].length ? ('Suspending' as const) : ('Suspended' as const)) : up && up.state !== 'Done' ? ('Upgrading' as const) : readyCount === desired(c) ? ('Normal' as const) : ('Waiting' as const),
      replicas: desired(c),
      readyReplicas: readyCount,
      ready: `${readyCount}/${desired(c)}`,
      ...(sts ? { currentRevision: sts.currentRevision, updateRevision: sts.updateRevision, updatedReplicas: sts.updatedReplicas } : {}),
      ...(version ? { version } : {}),
      ...(up ? { upgrade: up } : tc.status[c]?.upgrade ? { upgrade: tc.status[c]!.upgrade! } : {}),
    };
  };
  return {
    observedGeneration: gen,
    phase,
    pd: {
      ...component('pd', ready('pd')),
      ...(o.pd.leader ? { leader: o.pd.leader } : {}),
      members: o.pd.members.map((m) => ({ name: m.name, health: m.healthy, leader: m.name === o.pd.leader })).sort((a, b) => a.name.localeCompare(b.name)),
      bootstrapped: pdBootstrapped(tc, o),
    },
    tikv: { ...component('tikv', upStores), stores: tikvStores },
    tidb: { ...component('tidb', ready('tidb')), members: o.pods.tidb.map((p) => ({ name: p.name, ready: p.phase === 'Running' && p.ready })) },
    members: members.map((m) => ({ component: m.component, name: m.name, ...(m.pod ? { pod: m.pod } : {}), state: m.state, reason: m.why })),
    conditions,
  };
}
