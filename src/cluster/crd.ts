// The CustomResourceDefinition, generated from the zod schemas (one source of truth: what the API
// server admits is what the controller validates). `npm run manifests` writes it to manifests/, and a
// unit test fails when the committed file is out of date.
import { z } from 'zod';
import { GROUP, KIND, PLURAL, TidbClusterSpec, TidbClusterStatus, VERSION } from './schema.ts';
import { MAX_NAME_LENGTH } from './validate.ts';

type Json = Record<string, unknown>;

/** JSON Schema (draft 2020-12, as zod writes it) → a Kubernetes structural OpenAPI v3 schema. */
export function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === '$schema' || k === 'propertyNames') continue;
    // Safe-integer bounds zod adds to every int are noise in a CRD.
    if ((k === 'maximum' && v === Number.MAX_SAFE_INTEGER) || (k === 'minimum' && v === Number.MIN_SAFE_INTEGER)) continue;
    if (k === 'additionalProperties') {
      // Structural schemas forbid additionalProperties next to properties, and `{}` (any value) is
      // expressed with x-kubernetes-preserve-unknown-fields instead.
      if (v === false || (v && typeof v === 'object' && Object.keys(v).length === 0)) continue;
      out[k] = structural(v);
      continue;
    }
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, structural(s)])) : structural(v);
  }
  if (out['x-kubernetes-preserve-unknown-fields'] === true && Array.isArray(out.anyOf)) {
    // "A string or a map" (config) and PingCAP fields read only to be refused: structural schemas allow
    // no types under anyOf, and a node with preserve-unknown-fields and no type takes any value.
    delete out.anyOf;
    return out;
  }
  if (out['x-kubernetes-preserve-unknown-fields'] === true && !out.type) out.type = 'object';
  return out;
}

export function openApiSchema(): Json {
  const spec = structural(z.toJSONSchema(TidbClusterSpec, { io: 'input', unrepresentable: 'throw' })) as Json;
  const status = structural(z.toJSONSchema(TidbClusterStatus, { io: 'output', unrepresentable: 'throw' })) as Json;
  return {
    type: 'object',
    description: 'A TiDB cluster (PD, TiKV, TiDB) run by tidb-steward.',
    'x-kubernetes-validations': [
      { rule: `size(self.metadata.name) <= ${MAX_NAME_LENGTH}`, message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters so that pod DNS names fit`, reason: 'FieldValueInvalid' },
    ],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: { ...spec, default: {} },
      status,
    },
  };
}

export function tidbClusterCrd(): Json {
  const col = (name: string, jsonPath: string, extra: Json = {}) => ({ name, type: 'string', jsonPath, ...extra });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'tidb-steward' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'tidbcluster', shortNames: ['tc'], categories: ['tidb'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            col('Ready', '.status.conditions[?(@.type=="Ready")].status'),
            col('PD', '.status.pd.ready'),
            col('TiKV', '.status.tikv.ready'),
            col('TiDB', '.status.tidb.ready'),
            col('Phase', '.status.phase', { priority: 1 }),
            col('Reason', '.status.conditions[?(@.type=="Ready")].reason', { priority: 1 }),
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: openApiSchema() },
        },
      ],
    },
  };
}
