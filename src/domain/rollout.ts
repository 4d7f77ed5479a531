// The rolling upgrade folded into a component's step: the partition to apply with the StatefulSet,
// the act of the update decision (domain/update.ts) as a PD action or a restart the act layer asks the
// authority for, and the block that keeps later components waiting until this one is done. Pure.
import type { ComponentName, TidbCluster } from '../cluster/schema.ts';
import { decideUpdate, type EvictProgress, type UpdateDecision, type UpdatePolicy } from './update.ts';
import type { Observed, Step } from './steps.ts';

const LABEL: Record<ComponentName, string> = { pd: 'PD', tikv: 'TiKV', tidb: 'TiDB' };

export interface RolloutInput {
  /** The hash of the pod template the step would apply now. */
  desiredHash: string;
  policy: UpdatePolicy;
  evictProgress?: EvictProgress | null;
}

/** The update decision of a component from one observed snapshot. */
export function updateDecisionOf(c: ComponentName, o: Observed, input: RolloutInput): UpdateDecision {
  const sts = o.sts[c];
  return decideUpdate({
    component: c,
    sts: sts
      ? { replicas: sts.replicas, partition: sts.partition ?? 0, currentRevision: sts.currentRevision, updateRevision: sts.updateRevision, observed: sts.observed ?? true }
      : null,
    pods: o.pods[c].map((p) => ({
      name: p.name,
      ordinal: p.ordinal,
      ...(p.uid !== undefined ? { uid: p.uid } : {}),
      revision: p.revision ?? null,
      running: p.phase === 'Running',
      ready: p.ready,
      deleting: p.deleting,
      createdAt: p.createdAt ?? o.now,
    })),
    pd: o.pd,
    stores: o.stores,
    evicting: o.evicting,
    evictProgress: input.evictProgress ?? null,
    ledger: o.ledger,
    now: o.now,
    policy: input.policy,
  });
}

/**
 * Adds the rolling upgrade to a component's step. A new template is applied with the partition at
 * the current replicas (no pod restarts from it); from the next pass on, the decision lowers it.
 * While a scale step is under way the partition stays where it is.
 */
export function decideRollout(tc: TidbCluster, o: Observed, s: Step, input: RolloutInput): Step {
  const c = s.component;
  const C = LABEL[c];
  const sts = o.sts[c];
  const block = (code: string, message: string, requeue: number) => {
    s.block ??= { code, message: `${c === 'tidb' ? '' : 'later components wait: '}${message}` };
    s.progress ??= { code, message };
    s.requeueAfterMs = Math.min(s.requeueAfterMs ?? requeue, requeue);
  };
  if (!sts || sts.replicas === 0) {
    s.partition = 0;
    return s;
  }
  if ((sts.templateHash ?? '') !== input.desiredHash) {
    s.partition = sts.replicas;
    const message = `${C} has a new pod template (version ${tc.spec.version}${tc.spec[c].image ? `, image ${tc.spec[c].image}` : ''}): applied with the partition at ${sts.replicas}, so no pod restarts until the rolling upgrade starts`;
    s.upgrade = { state: 'Rolling', message };
    s.events.push({ type: 'Normal', reason: 'UpgradeStarted', message });
    block('Upgrading', message, 1000);
    return s;
  }
  const scaling = s.replicas !== null && s.replicas !== sts.replicas;
  const d = updateDecisionOf(c, o, input);
  if (scaling || s.actions.length > 0) {
    s.partition = Math.min(sts.partition ?? 0, s.replicas ?? sts.replicas);
    if (d.act.type !== 'done') {
      s.upgrade = { state: 'Rolling', message: `${C}: the rolling upgrade waits for the scale step to finish` };
      block('Upgrading', s.upgrade.message, 2000);
    }
    return s;
  }
  s.partition = d.partition;
  const a = d.act;
  const member = 'pod' in a ? a.pod : undefined;
  const progressMessage = (what: string) => `upgrading ${C} (${d.updated}/${sts.replicas} members at revision ${sts.updateRevision}): ${what}`;
  switch (a.type) {
    case 'done':
      s.upgrade = { state: 'Done', message: a.reason };
      return s;
    case 'wait':
      s.upgrade = { state: 'Rolling', ...(member ? { member } : {}), message: a.reason };
      block('Upgrading', progressMessage(a.reason), 2000);
      return s;
    case 'stuck':
      s.upgrade = { state: 'Stopped', member: a.pod, message: a.reason };
      s.events.push({ type: 'Warning', reason: 'UpgradeStopped', message: a.reason });
      s.block = { code: 'UpgradeStopped', message: a.reason };
      s.progress = { code: 'UpgradeStopped', message: a.reason };
      s.requeueAfterMs = 10_000;
      return s;
    case 'transfer-pd-leader':
      s.actions.push({ type: 'transfer-pd-leader', to: a.to });
      s.events.push({ type: 'Normal', reason: 'PDLeaderTransferring', message: a.reason });
      s.upgrade = { state: 'Rolling', message: a.reason };
      block('Upgrading', progressMessage(a.reason), 1000);
      return s;
    case 'evict-leaders':
      s.actions.push({ type: 'evict-leaders', storeId: a.storeId });
      s.upgradeEviction = true;
      s.restart = { pod: a.pod, uid: o.pods.tikv.find((p) => p.name === a.pod)?.uid ?? '', deletePod: false };
      s.events.push({ type: 'Normal', reason: 'EvictingLeaders', message: a.reason });
      s.upgrade = { state: 'Rolling', member: a.pod, message: a.reason };
      // The partition stays until the store leads none.
      s.partition = sts.partition ?? sts.replicas;
      block('Upgrading', progressMessage(a.reason), 1000);
      return s;
    case 'end-evict':
      s.actions.push({ type: 'end-evict-leaders', storeId: a.storeId });
      s.upgrade = { state: 'Rolling', member: a.pod, message: a.reason };
      block('Upgrading', progressMessage(a.reason), 1000);
      return s;
    case 'restart':
      s.restart = { pod: a.pod, uid: o.pods[c].find((p) => p.name === a.pod)?.uid ?? '', deletePod: a.deletePod };
      s.events.push({ type: 'Normal', reason: 'MemberRestarting', message: a.reason });
      if (a.warning) s.events.push({ type: 'Warning', reason: 'LeaderEvictionTimeout', message: a.warning });
      s.upgrade = { state: 'Rolling', member: a.pod, message: a.reason };
      block('Upgrading', progressMessage(a.reason), 1000);
      return s;
  }
}
