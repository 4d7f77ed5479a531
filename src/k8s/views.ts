// Wire objects (typed list items or raw watch JSON: same field names) → the narrow views the caches
// keep. Anything that is not a TiDB PD/TiKV object maps to null and is not kept.
import { ANNOTATION_SKIP_DRAIN_CHECK, objectKey, tidbIdentity, type NodeView, type PodView, type StatefulSetView } from '../domain/model.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = any;

export interface Keyed<T> {
  key: string;
  value: T | null;
}

export function podView(obj: Wire): Keyed<PodView> {
  const meta = obj?.metadata ?? {};
  const namespace: string = meta.namespace ?? '';
  const name: string = meta.name ?? '';
  const key = objectKey(namespace, name);
  const identity = tidbIdentity(namespace, meta.labels);
  if (!identity) return { key, value: null };
  const phase = obj?.status?.phase;
  const owner = (meta.ownerReferences ?? []).find((o: Wire) => o?.kind === 'StatefulSet' && o?.controller !== false);
  return {
    key,
    value: {
      uid: meta.uid ?? '',
      namespace,
      name,
      cluster: identity.cluster,
      component: identity.component,
      nodeName: obj?.spec?.nodeName || null,
      terminal: phase === 'Succeeded' || phase === 'Failed',
      deleting: Boolean(meta.deletionTimestamp),
      owner: owner?.name ?? null,
      running: phase === 'Running',
      skipDrainCheck: meta.annotations?.[ANNOTATION_SKIP_DRAIN_CHECK] === 'true',
    },
  };
}

export function nodeViewFor(topologyKeys: readonly string[]) {
  return (obj: Wire): Keyed<NodeView> => {
    const meta = obj?.metadata ?? {};
    const all = meta.labels ?? {};
    const labels: Record<string, string> = {};
    for (const k of topologyKeys) if (typeof all[k] === 'string') labels[k] = all[k];
    return { key: meta.name ?? '', value: { name: meta.name ?? '', labels, unschedulable: Boolean(obj?.spec?.unschedulable) } };
  };
}

export function statefulSetView(obj: Wire): Keyed<StatefulSetView> {
  const meta = obj?.metadata ?? {};
  const namespace: string = meta.namespace ?? '';
  const key = objectKey(namespace, meta.name ?? '');
  if (!tidbIdentity(namespace, meta.labels)) return { key, value: null };
  const replicas = obj?.spec?.replicas;
  // The API defaults replicas to 1; a missing field in a partial object still means 1.
  return { key, value: { namespace, name: meta.name, replicas: typeof replicas === 'number' ? replicas : 1 } };
}
