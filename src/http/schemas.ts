// Loose zod envelopes for the scheduler's wire types (Go structs without JSON tags, hence PascalCase
// top-level keys). Only the fields we use are checked; everything else passes through untouched.
import { z } from 'zod';

const ObjectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().default('default'),
  uid: z.string().default(''),
  labels: z.record(z.string(), z.string()).nullish(),
  ownerReferences: z
    .array(z.looseObject({ kind: z.string().optional(), name: z.string().optional(), controller: z.boolean().nullish() }))
    .nullish(),
});

export const ExtenderArgs = z.looseObject({
  Pod: z.looseObject({ metadata: ObjectMeta }, 'ExtenderArgs.Pod must be a Pod object with metadata.name'),
  NodeNames: z.array(z.string()).nullish(),
  Nodes: z.looseObject({ items: z.array(z.looseObject({ metadata: z.looseObject({ name: z.string() }) })).nullish() }).nullish(),
});
export type ExtenderArgs = z.infer<typeof ExtenderArgs>;

export const ExtenderBindingArgs = z.looseObject({
  PodName: z.string().min(1),
  PodNamespace: z.string().min(1),
  PodUID: z.string().min(1),
  Node: z.string().min(1),
});

/** One line naming what is wrong, for the scheduler's Error field and its events. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}
