// PingCAP's TidbCluster fields, read with the meaning they have in PingCAP's operator and turned into
// the one shape the controller uses: the volume size from `requests.storage`, the image from
// `baseImage` + version, `config` as TOML whether written as a string or a map, cluster-wide pod
// settings merged into each component. Fields that need something tidb-steward does not run are refused
// naming what is missing; fields that are not needed here are accepted with a warning saying why.
import { parse as parseToml, stringify as stringifyToml, TomlError } from 'smol-toml';
import type { PdComponent, Resources, TidbClusterSpec, TidbClusterSpecWritten, TidbComponent, TikvComponent } from './schema.ts';

export interface FieldProblem {
  path: string;
  message: string;
}

export interface Normalized {
  spec: TidbClusterSpec;
  errors: FieldProblem[];
  warnings: string[];
}

const DEFAULT_STORAGE = { pd: '10Gi', tikv: '100Gi' } as const;

/** What is refused, and why, for each PingCAP field tidb-steward cannot honour. */
const UNSUPPORTED: Record<string, string> = {
  tiflash: 'TiFlash is not run by tidb-steward yet; remove spec.tiflash (or keep this cluster on PingCAP\'s operator)',
  ticdc: 'TiCDC is not run by tidb-steward yet; remove spec.ticdc (or keep this cluster on PingCAP\'s operator)',
  pump: 'Pump (TiDB Binlog) is not run by tidb-steward; remove spec.pump',
  tiproxy: 'TiProxy is not run by tidb-steward yet; remove spec.tiproxy',
  pdms: 'PD microservices (pdms) are not run by tidb-steward; remove spec.pdms',
  tidbNGMonitoring: 'TiDB NG monitoring is not run by tidb-steward; remove it',
  tlsCluster: 'TLS between PD, TiKV and TiDB (tlsCluster) is not supported by tidb-steward yet; remove spec.tlsCluster or keep this cluster on PingCAP\'s operator',
  cluster: 'joining another TidbCluster (spec.cluster, heterogeneous clusters) is not supported by tidb-steward yet',
  clusterDomain: 'clusters across Kubernetes clusters (clusterDomain) are not supported by tidb-steward',
  acrossK8s: 'clusters across Kubernetes clusters (acrossK8s) are not supported by tidb-steward',
  services: 'spec.services is deprecated in PingCAP\'s operator too; set spec.tidb.service (and spec.pd.service) instead',
  suspendAction: 'use spec.suspend: true, which stops TiDB, TiKV and PD in order and keeps their volumes',
  startScriptVersion: 'tidb-steward writes its own start scripts; remove spec.startScriptVersion',
  startScriptV2FeatureFlags: 'tidb-steward writes its own start scripts; remove spec.startScriptV2FeatureFlags',
  hostNetwork: 'host networking is not supported by tidb-steward (pods are addressed by their DNS names); remove spec.hostNetwork',
};

/** Go's time.Duration syntax (10m, 1h30m, 1.5s) in milliseconds; NaN when it is not one. */
export function parseDuration(text: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return Number.NaN;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** The config file a component starts with: a string is checked with a TOML parser and kept as written; a map is rendered. */
export function configText(path: string, value: unknown): { text: string } | { error: FieldProblem } {
  if (typeof value === 'string') {
    try {
      parseToml(value);
      return { text: value };
    } catch (err) {
      const where = err instanceof TomlError ? `line ${err.line}, column ${err.column}: ` : '';
      const first = (err as Error).message.split('\n')[0] ?? String(err);
      return { error: { path, message: `is not valid TOML (${where}${first.replace(/^Invalid TOML document: /, '')}); fix the TOML, or write config as a YAML map` } };
    }
  }
  try {
    const text = stringifyToml(value as Record<string, unknown>);
    return { text: text.endsWith('\n') || text === '' ? text : `${text}\n` };
  } catch (err) {
    return { error: { path, message: `cannot be written as TOML: ${(err as Error).message}` } };
  }
}

function mergeMaps(a: Record<string, string> | undefined, b: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!a && !b) return undefined;
  return { ...(a ?? {}), ...(b ?? {}) };
}

function requestsOf(r: { cpu?: string | undefined; memory?: string | undefined; storage?: string | undefined } | undefined): Resources | undefined {
  if (!r) return undefined;
  const { storage: _storage, ...rest } = r;
  return Object.keys(rest).length ? rest : undefined;
}

/** Resolves PingCAP's aliases and cluster-wide defaults; collects what is refused and what is only warned about. */
export function normalizeSpec(w: TidbClusterSpecWritten): Normalized {
  const errors: FieldProblem[] = [];
  const warnings: string[] = [];
  const raw = w as unknown as Record<string, unknown>;
  for (const [key, why] of Object.entries(UNSUPPORTED)) {
    if (raw[key] !== undefined && raw[key] !== null) errors.push({ path: `spec.${key}`, message: why });
  }
  if (w.discovery !== undefined) warnings.push('spec.discovery has no effect: tidb-steward\'s PD members find each other through the controller, without a discovery service');
  if (w.helper !== undefined) warnings.push('spec.helper has no effect: tidb-steward runs no helper image');
  if (w.enableDynamicConfiguration === false) warnings.push('spec.enableDynamicConfiguration: false has no effect: TiKV always advertises its status address here');

  const common = <C extends 'pd' | 'tikv' | 'tidb'>(c: C) => {
    const x = w[c];
    const cfg = configText(`spec.${c}.config`, x.config);
    if ('error' in cfg) errors.push(cfg.error);
    const version = x.version ?? w.version;
    const image = x.image ?? (x.baseImage || x.version ? `${x.baseImage ?? `pingcap/${c}`}:${version}` : undefined);
    if (x.maxFailoverCount !== undefined && x.maxFailoverCount > 0) {
      warnings.push(`spec.${c}.maxFailoverCount is kept, but tidb-steward does not fail members over yet: a failed member waits for a person`);
    }
    if (x.mountClusterClientSecret) warnings.push(`spec.${c}.mountClusterClientSecret has no effect without TLS between components (tlsCluster), which tidb-steward does not run yet`);
    const { baseImage: _b, config: _c, requests, ...rest } = x as typeof x & { storageSize?: string };
    return {
      ...rest,
      image,
      config: 'text' in cfg ? cfg.text : '',
      requests: requestsOf(requests),
      imagePullPolicy: x.imagePullPolicy ?? w.imagePullPolicy,
      annotations: mergeMaps(w.annotations, x.annotations),
      labels: mergeMaps(w.labels, x.labels),
      nodeSelector: mergeMaps(w.nodeSelector, x.nodeSelector),
      tolerations: x.tolerations ?? w.tolerations,
      podSecurityContext: x.podSecurityContext ?? w.podSecurityContext,
      priorityClassName: x.priorityClassName ?? w.priorityClassName,
      topologySpreadConstraints: x.topologySpreadConstraints ?? w.topologySpreadConstraints,
    };
  };
  const storage = (c: 'pd' | 'tikv') => {
    const x = w[c];
    if (x.storageSize && x.requests?.storage && x.storageSize !== x.requests.storage) {
      errors.push({ path: `spec.${c}.requests.storage`, message: `${x.requests.storage} differs from spec.${c}.storageSize ${x.storageSize}: both size the data volume; set one` });
    }
    const names = new Set<string>();
    for (const [i, v] of (x.storageVolumes ?? []).entries()) {
      if (names.has(v.name)) errors.push({ path: `spec.${c}.storageVolumes[${i}].name`, message: `${v.name} is used twice` });
      names.add(v.name);
    }
    return x.storageSize ?? x.requests?.storage ?? DEFAULT_STORAGE[c];
  };

  const pdRaw = w.pd;
  if (pdRaw.mode !== undefined && pdRaw.mode !== '') errors.push({ path: 'spec.pd.mode', message: `PD mode "${pdRaw.mode}" (PD microservices) is not run by tidb-steward; remove spec.pd.mode` });
  const pd: PdComponent = { ...common('pd'), storageSize: storage('pd') };

  const tk = w.tikv;
  for (const f of ['separateRaftLog', 'raftLogVolumeName', 'separateRocksDBLog', 'rocksDBLogVolumeName'] as const) {
    if (tk[f] !== undefined && tk[f] !== false && tk[f] !== '') {
      errors.push({ path: `spec.tikv.${f}`, message: 'a separate volume for the raft or RocksDB log is not supported by tidb-steward yet; remove it (the logs stay on the data volume), or set the directory in spec.tikv.config on a storageVolumes mount' });
    }
  }
  let evictLeaderTimeoutMs: number | undefined;
  if (tk.evictLeaderTimeout !== undefined) {
    evictLeaderTimeoutMs = parseDuration(tk.evictLeaderTimeout);
    if (!(evictLeaderTimeoutMs > 0)) errors.push({ path: 'spec.tikv.evictLeaderTimeout', message: 'must be a positive duration such as 10m' });
  }
  const tikv: TikvComponent = { ...common('tikv'), storageSize: storage('tikv'), evictLeaderTimeoutMs };

  const td = w.tidb;
  if (td.requests?.storage) warnings.push('spec.tidb.requests.storage has no effect: TiDB keeps no data');
  if (td.storageClassName) warnings.push('spec.tidb.storageClassName has no effect: TiDB keeps no data');
  if (td.initializer !== undefined) errors.push({ path: 'spec.tidb.initializer', message: 'PingCAP\'s initializer is not run by tidb-steward; set the root password with SQL after the cluster is Ready' });
  if ((td.tlsClient as { enabled?: unknown } | undefined)?.enabled === true) {
    errors.push({ path: 'spec.tidb.tlsClient', message: 'MySQL client TLS (tlsClient.enabled) is not supported by tidb-steward yet; remove it or keep this cluster on PingCAP\'s operator' });
  }
  const tidb: TidbComponent = { ...common('tidb'), separateSlowLog: td.separateSlowLog ?? true };

  const spec = { ...w, pd, tikv, tidb } as TidbClusterSpec;
  return { spec, errors, warnings };
}
