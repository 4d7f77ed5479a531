// May this TidbCluster be created or changed? The validating webhook asks this pure function. It runs
// the reconciler's own validation (src/cluster/validate.ts), so the webhook and the reconciler agree on
// what a valid spec is, and adds the rules that compare the new spec with the old one: those need the
// previous object, which only an admission request carries.
import { isDeepStrictEqual } from 'node:util';
import { parseQuantity } from '../cluster/quantity.ts';
import type { TidbClusterSpec } from '../cluster/schema.ts';
import { describeErrors, validateTidbCluster, type FieldError } from '../cluster/validate.ts';

export interface TidbClusterChange {
  operation: string;
  namespace: string;
  name: string;
  spec: unknown;
  /** The stored spec, on UPDATE. */
  oldSpec?: unknown;
  /**
   * The stored object's status says the reconciler refuses its spec (Ready=False InvalidSpec): a change
   * may have landed while no webhook judged it, so the stored spec is no baseline and the update rules
   * are left to the reconciler (which compares with what runs); otherwise putting it back would be refused.
   */
  storedRefused?: boolean;
}

/** A field error as the API server words its own (metav1.StatusCause types). */
export interface Violation extends FieldError {
  type: 'FieldValueInvalid' | 'FieldValueForbidden';
}

export type TidbClusterVerdict =
  | { allowed: true; reason: string; warnings: string[] }
  | { allowed: false; reason: string; violations: Violation[]; warnings: string[] };

const VOLUME_COMPONENTS = ['pd', 'tikv'] as const;

/**
 * Changes a running cluster cannot take: its StatefulSets' volumeClaimTemplates are immutable and a
 * volume cannot shrink. The webhook compares with the stored spec; the reconciler, which has no old
 * spec, compares with the running StatefulSets (runningVolumeViolations), so both say the same.
 */
export function transitionViolations(oldSpec: TidbClusterSpec, spec: TidbClusterSpec): Violation[] {
  const out: Violation[] = [];
  for (const c of VOLUME_COMPONENTS) {
    const before = oldSpec[c].storageClassName;
    const after = spec[c].storageClassName;
    if (before !== after) {
      const name = (v: string | undefined) => (v === undefined ? 'the cluster default' : `"${v}"`);
      out.push({
        type: 'FieldValueForbidden',
        path: `spec.${c}.storageClassName`,
        message: `cannot change from ${name(before)} to ${name(after)}: existing volumes keep their StorageClass and the StatefulSet's volume claim template is immutable; put it back, or create a new cluster in the new class and move the data (BR backup and restore)`,
      });
    }
    const was = parseQuantity(oldSpec[c].storageSize);
    const now = parseQuantity(spec[c].storageSize);
    if (now < was) {
      out.push({
        type: 'FieldValueForbidden',
        path: `spec.${c}.storageSize`,
        message: `cannot shrink from ${oldSpec[c].storageSize} to ${spec[c].storageSize}: a volume cannot be made smaller; put it back to ${oldSpec[c].storageSize}`,
      });
    } else if (now > was) {
      out.push({
        type: 'FieldValueForbidden',
        path: `spec.${c}.storageSize`,
        message: `cannot grow from ${oldSpec[c].storageSize} to ${spec[c].storageSize}: tidb-steward does not resize volumes and the StatefulSet's volume claim template is immutable; keep ${oldSpec[c].storageSize} and expand each PersistentVolumeClaim of the ${c === 'pd' ? 'PD' : 'TiKV'} pods instead (kubectl patch pvc, with a StorageClass that allows expansion)`,
      });
    }
    const claims = (x: Pick<TidbClusterSpec['pd'], 'storageVolumes'>) => JSON.stringify((x.storageVolumes ?? []).map((v) => [v.name, v.storageClassName ?? null, v.storageSize]));
    if (claims(oldSpec[c]) !== claims(spec[c])) {
      out.push({
        type: 'FieldValueForbidden',
        path: `spec.${c}.storageVolumes`,
        message: 'cannot add, remove, rename or resize storageVolumes of a running cluster: they are volume claim templates of its StatefulSet, which are immutable; put them back (a mountPath may change)',
      });
    }
  }
  return out;
}

/** The volume claim template of a running StatefulSet (PD or TiKV), as the reconciler sees it. */
export interface RunningVolume {
  storageClassName?: string | undefined;
  storageSize?: string | undefined;
}

/**
 * The reconciler's re-check of the update rules, for a cluster whose spec got past no webhook: the
 * running StatefulSets' volume claim templates stand for the previous spec (they are what the spec
 * was when they were created, and cannot have changed since).
 */
export function runningVolumeViolations(spec: TidbClusterSpec, running: Partial<Record<'pd' | 'tikv', RunningVolume | null>>): Violation[] {
  return transitionViolations({ ...spec, pd: asRunning(spec.pd, running.pd), tikv: asRunning(spec.tikv, running.tikv) }, spec);
}

function asRunning<T extends { storageClassName?: string | undefined; storageSize: string }>(component: T, v: RunningVolume | null | undefined): T {
  if (!v || v.storageSize === undefined) return component;
  const { storageClassName: _spec, ...rest } = component;
  return { ...rest, storageSize: v.storageSize, ...(v.storageClassName !== undefined ? { storageClassName: v.storageClassName } : {}) } as unknown as T;
}

export function reviewTidbCluster(change: TidbClusterChange): TidbClusterVerdict {
  const what = `TidbCluster ${change.namespace}/${change.name}`;
  // An update that leaves the spec alone (finalizers, labels, annotations) is not judged: the
  // controller must be able to add and remove its finalizer even on a cluster stored before the rules.
  if (change.operation === 'UPDATE' && isDeepStrictEqual(change.spec ?? {}, change.oldSpec ?? {})) {
    return { allowed: true, reason: `${what}: the spec is unchanged`, warnings: [] };
  }
  const validation = validateTidbCluster(change.name, change.spec);
  const violations: Violation[] = validation.ok ? [] : validation.errors.map((e) => ({ type: 'FieldValueInvalid', ...e }));
  const warnings = validation.ok ? validation.warnings : [];
  if (change.operation === 'UPDATE' && validation.ok) {
    if (change.storedRefused) {
      warnings.push('the stored spec is refused by the reconciler (Ready=False InvalidSpec), so storage changes are checked by the reconciler against the running StatefulSets, not here');
    } else {
      // An old spec that is itself invalid (stored without the webhook) has nothing to compare with.
      const old = validateTidbCluster(change.name, change.oldSpec);
      if (old.ok) violations.push(...transitionViolations(old.spec, validation.spec));
    }
  }
  if (violations.length === 0) return { allowed: true, reason: `${what} is valid`, warnings };
  return { allowed: false, reason: `${what} is invalid: ${describeErrors(violations)}`, violations, warnings };
}
