// TiKV store labels in PD, from the labels of the node a store's pod runs on. PD separates a region's
// replicas by its `replication.location-labels` (e.g. zone, then host) only when every store carries
// those labels; TiKV started by tidb-steward has no --labels (a pod cannot read its node's labels at
// start), so the controller sets them through PD's API, as PingCAP's operator does. Pure: the caller
// reads the node cache and PD, and calls setStoreLabels with what this returns.
import { HOSTNAME_KEY } from './placement.ts';

/**
 * PD label key → the node label keys it is read from, first found wins. A node label named exactly
 * like the PD key wins over all of them (a cluster that labels its nodes `zone=...` needs no mapping).
 */
export type LabelSources = Readonly<Record<string, readonly string[]>>;

/** Short PD keys (PD compares labels on every scheduling decision) for the well-known node labels. */
export const DEFAULT_LABEL_SOURCES: LabelSources = {
  region: ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'],
  zone: ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'],
  host: [HOSTNAME_KEY],
};

/** PD's location labels when the cluster names no topology keys: zone, then host. */
export const DEFAULT_LOCATION_LABELS: readonly string[] = ['zone', 'host'];

// PD's own rules for a label key and value (it refuses anything else).
const PD_KEY = /^\$?[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?$/;
const PD_VALUE = /^[-A-Za-z0-9_./]*$/;

/**
 * Parses a mapping such as "zone=topology.kubernetes.io/zone,rack=example.com/rack|example.com/rack-old"
 * (PD key = node label keys, `|`-separated, first found wins) over the defaults; a PD key given here
 * replaces its default sources. Returns the mapping, or a sentence saying what is wrong.
 */
export function parseLabelSources(value: string, defaults: LabelSources = DEFAULT_LABEL_SOURCES): LabelSources | string {
  const out: Record<string, readonly string[]> = { ...defaults };
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    const sources = eq < 0 ? [] : part.slice(eq + 1).split('|').map((s) => s.trim()).filter(Boolean);
    if (!PD_KEY.test(key) || sources.length === 0) {
      return `store label mapping "${part}" is not <PD label key>=<node label key>[|<node label key>...], e.g. zone=topology.kubernetes.io/zone`;
    }
    out[key] = sources;
  }
  return out;
}

/** The PD key a node label key is known as: the one whose sources list it, else the node key itself. */
export function pdKeyOf(nodeKey: string, sources: LabelSources = DEFAULT_LABEL_SOURCES): string {
  for (const [pdKey, keys] of Object.entries(sources)) if (keys.includes(nodeKey)) return pdKey;
  return nodeKey;
}

/**
 * PD's `replication.location-labels` for a cluster, from the largest domain to the smallest: zone and
 * host always (a node without a zone label just leaves the zone level empty, and PD then separates by
 * host), plus the cluster's own topology keys (spec.pd.topologyKeys) under their PD names, region
 * first, host last, others in between in the order given.
 */
export function locationLabelsFor(topologyKeys: readonly string[] | undefined, sources: LabelSources = DEFAULT_LABEL_SOURCES): string[] {
  const keys = [...new Set([...DEFAULT_LOCATION_LABELS, ...(topologyKeys ?? []).map((k) => pdKeyOf(k, sources))])];
  const rank = (k: string) => (k === 'region' ? 0 : k === 'zone' ? 1 : k === 'host' ? 3 : 2);
  // A stable sort keeps the given order among the others.
  return keys.filter((k) => PD_KEY.test(k)).sort((a, b) => rank(a) - rank(b));
}

/** The value of a PD location label on a node, and the node label it came from; null when it has none. */
export function nodeLabelFor(pdKey: string, nodeLabels: Readonly<Record<string, string>>, sources: LabelSources = DEFAULT_LABEL_SOURCES): { value: string; from: string } | null {
  for (const from of [pdKey, ...(sources[pdKey] ?? [])]) {
    const value = nodeLabels[from];
    if (value !== undefined && value !== '') return { value, from };
  }
  return null;
}

export interface StoreLabelsInput {
  storeId: string;
  /** The store's pod ("ns/name"), for the reason. */
  pod: string;
  /** The node the pod is bound to; null while it is not bound. */
  nodeName: string | null;
  /** That node's labels from the node cache; undefined when the cache does not hold it. */
  nodeLabels: Readonly<Record<string, string>> | undefined;
  /** PD's replication.location-labels, as PD reports them. */
  locationLabels: readonly string[];
  /** The store's labels in PD now. */
  current: Readonly<Record<string, string>>;
  sources?: LabelSources | undefined;
}

export type StoreLabelsDecision =
  /** Call setStoreLabels(storeId, labels): the node's location labels, "" for one the store has and the node no longer does. */
  | { kind: 'set'; labels: Record<string, string>; reason: string }
  | { kind: 'unchanged'; labels: null; reason: string }
  /** A fact is missing: do nothing now, and say why. */
  | { kind: 'unknown'; labels: null; reason: string };

/**
 * The location labels PD should carry for one store. Only PD's location-label keys are managed; other
 * store labels (engine, or any set by hand) are left alone. A label the node no longer has is sent as
 * "" (PD deletes a label set to the empty value): a stale zone would tell PD the store is where it is
 * not. PD compares label keys without regard to case, so this does too.
 */
export function decideStoreLabels(input: StoreLabelsInput): StoreLabelsDecision {
  const { storeId, pod, nodeName, nodeLabels, locationLabels, current } = input;
  const sources = input.sources ?? DEFAULT_LABEL_SOURCES;
  const store = `store ${storeId} (${pod})`;
  if (locationLabels.length === 0) {
    return { kind: 'unchanged', labels: null, reason: `PD has no replication.location-labels, so labels on ${store} would not separate replicas; set location-labels first` };
  }
  if (!nodeName) return { kind: 'unknown', labels: null, reason: `the node of ${store} is not known: its pod is not bound to a node; its labels are left as PD has them` };
  if (!nodeLabels) {
    return { kind: 'unknown', labels: null, reason: `node ${nodeName} of ${store} is not in tidb-steward's node cache yet; its labels are left as PD has them until it is` };
  }
  const has = (key: string): string | undefined => {
    const lower = key.toLowerCase();
    for (const [k, v] of Object.entries(current)) if (k.toLowerCase() === lower) return v;
    return undefined;
  };
  const labels: Record<string, string> = {};
  const changes: string[] = [];
  for (const key of locationLabels) {
    const found = nodeLabelFor(key, nodeLabels, sources);
    if (found && !PD_VALUE.test(found.value)) {
      return { kind: 'unknown', labels: null, reason: `node ${nodeName} label ${found.from}="${found.value}" is not a value PD accepts for ${key}; ${store} keeps its labels` };
    }
    const want = found?.value ?? '';
    const now = has(key) ?? '';
    if (want !== '' || now !== '') labels[key] = want;
    if (now === want) continue;
    changes.push(want === '' ? `${key} ${now} removed (node ${nodeName} has no ${[key, ...(sources[key] ?? [])].join(' or ')} label)` : `${key}=${want} from node label ${found!.from}${now ? ` (was ${now})` : ''}`);
  }
  if (changes.length === 0) {
    return { kind: 'unchanged', labels: null, reason: `${store} already carries the location labels of node ${nodeName}` };
  }
  return { kind: 'set', labels, reason: `${store} on node ${nodeName}: ${changes.join('; ')}` };
}

/**
 * Whether to set PD's replication.location-labels, given what PD has. PD keeps the value of its
 * config file only from its first start (then it lives in PD's storage), so a cluster created before
 * tidb-steward rendered them, or whose topology keys changed, needs them set through PD's API. A value
 * PD already has that differs is left alone: it may have been set on purpose (pd-ctl, spec.pd.config),
 * and changing location labels moves replicas across the whole cluster.
 */
export function decideLocationLabels(current: readonly string[] | null, desired: readonly string[]): { set: string[] | null; reason: string } {
  if (current === null) return { set: null, reason: "PD's replication.location-labels are not known yet; they are checked again on the next reconcile" };
  if (current.join(',') === desired.join(',')) return { set: null, reason: `PD separates replicas by ${desired.join(', ')} already` };
  if (current.length > 0) {
    return { set: null, reason: `PD separates replicas by ${current.join(', ')}, not the ${desired.join(', ')} tidb-steward would set; left as it is (set on purpose, or before a topology change: change it with pd-ctl), and store labels follow PD's` };
  }
  return { set: [...desired], reason: `PD had no location labels: replicas of a region could share a zone; set to ${desired.join(', ')}` };
}
