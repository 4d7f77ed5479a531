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

// NodeNames carries up to thousands of entries per call: a plain loop checks them several times
// faster than a zod array schema, which matters on the scheduler's serial path.
const nodeNames = z.custom<string[]>(
  (v) => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
    return true;
  },
  { message: 'must be a list of node names' },
);

interface WireNode {
  metadata: { name: string };
}
const nodeList = z.custom<{ items?: WireNode[] | null }>(
  (v) => {
    if (typeof v !== 'object' || v === null) return false;
    const items = (v as { items?: unknown }).items;
    if (items === undefined || items === null) return true;
    if (!Array.isArray(items)) return false;
    for (const n of items) if (typeof (n as WireNode | null)?.metadata?.name !== 'string') return false;
    return true;
  },
  { message: 'must be a NodeList whose items have metadata.name' },
);

export const ExtenderArgs = z.looseObject({
  Pod: z.looseObject({ metadata: ObjectMeta }, 'ExtenderArgs.Pod must be a Pod object with metadata.name'),
  NodeNames: nodeNames.nullish(),
  Nodes: nodeList.nullish(),
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
    .map((i) => `${i.path.length ? i.path.join('.').slice(0, 200) : '(body)'}: ${i.message.slice(0, 300)}`)
    .join('; ');
}
