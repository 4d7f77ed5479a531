// Defaulting and validation of a TidbCluster, shared by the reconciler (which re-checks everything, so
// a cluster is safe without any webhook) and anything else that admits TidbClusters. Every problem is
// collected with its field path, not only the first one.
import { TidbClusterSpec as SpecSchema, type TidbClusterSpec, type TidbClusterSpecInput } from './schema.ts';
import { normalizeSpec } from './normalize.ts';
import { parseQuantity } from './quantity.ts';

export interface FieldError {
  path: string;
  message: string;
}

export type Validation =
  | { ok: true; spec: TidbClusterSpec; warnings: string[] }
  | { ok: false; errors: FieldError[] };

/** Longest cluster name whose pod DNS names (<name>-tikv-99.<name>-tikv-peer) fit a DNS label. */
export const MAX_NAME_LENGTH = 37;
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function pathOf(parts: ReadonlyArray<PropertyKey>): string {
  return parts.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

export function validateTidbCluster(name: string, spec: unknown): Validation {
  const errors: FieldError[] = [];
  if (!DNS_LABEL.test(name)) errors.push({ path: 'metadata.name', message: 'must be a DNS label: lower-case letters, digits and "-", starting with a letter' });
  if (name.length > MAX_NAME_LENGTH) errors.push({ path: 'metadata.name', message: `must be at most ${MAX_NAME_LENGTH} characters so that pod DNS names fit (got ${name.length})` });
  const parsed = SpecSchema.safeParse(spec ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) errors.push({ path: pathOf(['spec', ...issue.path]), message: issue.message });
    return { ok: false, errors };
  }
  const normalized = normalizeSpec(parsed.data);
  errors.push(...normalized.errors);
  const s = normalized.spec;
  const warnings: string[] = [...normalized.warnings];
  if (s.pd.replicas > 0 && s.pd.replicas % 2 === 0) warnings.push(`spec.pd.replicas is ${s.pd.replicas}: an even number of PD members tolerates no more failures than ${s.pd.replicas - 1}`);
  for (const c of ['pd', 'tikv', 'tidb'] as const) {
    const comp = s[c];
    for (const r of ['cpu', 'memory'] as const) {
      const req = parseQuantity(comp.requests?.[r]);
      const lim = parseQuantity(comp.limits?.[r]);
      if (!Number.isNaN(req) && !Number.isNaN(lim) && req > lim) {
        errors.push({ path: `spec.${c}.requests.${r}`, message: `must not exceed spec.${c}.limits.${r} (${comp.requests?.[r]} > ${comp.limits?.[r]})` });
      }
    }
  }
  for (const c of ['pd', 'tikv'] as const) {
    if (!(parseQuantity(s[c].storageSize) > 0)) errors.push({ path: `spec.${c}.storageSize`, message: 'must be greater than zero' });
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, spec: s, warnings };
}

/** One line naming every problem, for a condition message and an Event. */
export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}

export type { TidbClusterSpecInput };
