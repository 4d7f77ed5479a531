// Standard conditions (type, status, reason, message, lastTransitionTime, observedGeneration): the
// transition time moves only when the status flips.
import type { Condition } from '../cluster/schema.ts';

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

export function setCondition(list: readonly Condition[], c: ConditionInput, generation: number, now: number): Condition[] {
  const previous = list.find((x) => x.type === c.type);
  const lastTransitionTime = previous && previous.status === c.status ? previous.lastTransitionTime : new Date(now).toISOString();
  const next: Condition = { ...c, message: c.message.slice(0, 1024), lastTransitionTime, observedGeneration: generation };
  return [...list.filter((x) => x.type !== c.type), next].sort((a, b) => CONDITION_ORDER.indexOf(a.type) - CONDITION_ORDER.indexOf(b.type));
}

export const CONDITION_ORDER = ['Ready', 'Progressing', 'Paused', 'Suspended', 'Degraded'];

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}
