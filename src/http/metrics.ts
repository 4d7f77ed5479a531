// Prometheus metrics on a registry of our own (no global state, so tests build as many as they like).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLUSTER_METRICS, type ClusterMetric, type Sample } from '../domain/cluster-metrics.ts';

export interface Metrics {
  registry: Registry;
  observeRequest(route: string, method: string, code: number, seconds: number): void;
  filterDecisions: Counter<'component' | 'outcome'>;
  nodesRefused: Counter<'component'>;
  binds: Counter<'component' | 'outcome'>;
  reflectorRestarts: Counter<'reflector' | 'reason'>;
  certReloads: Counter<'result'>;
  admissions: Counter<'webhook' | 'outcome'>;
  drainDecisions: Counter<'component' | 'outcome'>;
  drainWaitSeconds: Histogram<'component'>;
  /** Calls refused for lack of a trusted client certificate. */
  unauthenticated?: Counter<'route'>;
  /** Reports cache sizes when scraped. */
  watchCaches(sizes: () => Record<string, number>): void;
  /** Per-TiDB-cluster gauges (domain/cluster-metrics.ts), computed when scraped. */
  watchClusters(samples: () => Sample[]): void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'tidb_steward_' });
  const duration = new Histogram({
    name: 'tidb_steward_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route, method and status code.',
    labelNames: ['route', 'method', 'code'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // prom-client hashes the label object on every observe; one child per label set avoids that.
  const children = new Map<string, ReturnType<typeof duration.labels>>();
  let sizes: () => Record<string, number> = () => ({});
  new Gauge({
    name: 'tidb_steward_cache_objects',
    help: 'Objects held in each cache.',
    labelNames: ['cache'] as const,
    registers: [registry],
    collect() {
      for (const [cache, n] of Object.entries(sizes())) this.set({ cache }, n);
    },
  });
  // Each scrape resets the per-cluster series, so a cluster or store that is gone disappears.
  let clusterSamples: () => Sample[] = () => [];
  // Each gauge takes the samples afresh: a few per cluster, cheap beside a scrape.
  const samplesOf = (name: ClusterMetric): Sample[] => clusterSamples().filter((s) => s.name === name);
  for (const [name, m] of Object.entries(CLUSTER_METRICS) as Array<[ClusterMetric, (typeof CLUSTER_METRICS)[ClusterMetric]]>) {
    new Gauge({
      name,
      help: m.help,
      labelNames: m.labels,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of samplesOf(name)) this.set(s.labels, s.value);
      },
    });
  }
  return {
    registry,
    observeRequest(route, method, code, seconds) {
      const key = `${route}|${method}|${code}`;
      let child = children.get(key);
      if (!child) {
        child = duration.labels(route, method, String(code));
        children.set(key, child);
      }
      child.observe(seconds);
    },
    filterDecisions: new Counter({
      name: 'tidb_steward_extender_filter_decisions_total',
      help: 'Filter answers by component (pd, tikv, other) and outcome (passthrough, all_fit, some_refused, none_fit, error).',
      labelNames: ['component', 'outcome'] as const,
      registers: [registry],
    }),
    nodesRefused: new Counter({
      name: 'tidb_steward_extender_nodes_refused_total',
      help: 'Nodes refused by the placement rule, by component.',
      labelNames: ['component'] as const,
      registers: [registry],
    }),
    binds: new Counter({
      name: 'tidb_steward_extender_binds_total',
      help: 'Bind verb calls by component (pd, tikv, other) and outcome (bound, refused, error).',
      labelNames: ['component', 'outcome'] as const,
      registers: [registry],
    }),
    reflectorRestarts: new Counter({
      name: 'tidb_steward_reflector_restarts_total',
      help: 'List/watch restarts by cache and reason.',
      labelNames: ['reflector', 'reason'] as const,
      registers: [registry],
    }),
    certReloads: new Counter({
      name: 'tidb_steward_certificate_reloads_total',
      help: 'Serving certificate reloads by result (ok, error).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    admissions: new Counter({
      name: 'tidb_steward_admission_requests_total',
      help: 'Admission replies by webhook (pods, nodes, tidbclusters) and outcome (allowed, denied, invalid).',
      labelNames: ['webhook', 'outcome'] as const,
      registers: [registry],
    }),
    drainDecisions: new Counter({
      name: 'tidb_steward_drain_decisions_total',
      help: 'Removal checks of PD/TiKV pods by component and outcome (allow, wait, error: PD unreachable or slow).',
      labelNames: ['component', 'outcome'] as const,
      registers: [registry],
    }),
    drainWaitSeconds: new Histogram({
      name: 'tidb_steward_drain_wait_seconds',
      help: 'From the first "not yet" to the allowed removal of a PD/TiKV pod: leader hand-over or eviction time.',
      labelNames: ['component'] as const,
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    unauthenticated: new Counter({
      name: 'tidb_steward_unauthenticated_requests_total',
      help: 'Calls to the extender or webhooks refused for lack of a trusted client certificate, by route.',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    watchCaches(fn) {
      sizes = fn;
    },
    watchClusters(fn) {
      clusterSamples = fn;
    },
  };
}
