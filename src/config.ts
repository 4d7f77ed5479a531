// Configuration is parsed once, at start-up, from flags and environment (flags win). A bad value stops
// the process with a message naming the setting, before anything listens.
import { z } from 'zod';

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const labelKey = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const ConfigSchema = z.object({
  listenHost: z.string().min(1).default('0.0.0.0'),
  port: z.coerce.number().int().min(1).max(65535).default(9443),
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  /** SANs of the generated serving certificate when no files are given. */
  tlsDnsNames: csv('tidb-steward,tidb-steward.tidb-steward,tidb-steward.tidb-steward.svc,tidb-steward.tidb-steward.svc.cluster.local,localhost'),
  tlsIpAddresses: csv('127.0.0.1'),
  topologyKeys: csv('kubernetes.io/hostname').pipe(
    z
      .array(z.string().regex(labelKey, 'must be a node label key such as kubernetes.io/hostname'))
      .min(1, 'needs at least one node label key'),
  ),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Path of a kubeconfig; without it the in-cluster service account is used. */
  kubeconfig: z.string().min(1).optional(),
  /**
   * NodeNames requests (nodeCacheCapable: true) are ~64 KiB at 5000 nodes, so 2 MiB is ample. Full
   * Node objects are ~13 KB each (5000 nodes ≈ 64 MiB): that mode needs this raised, and memory with it.
   */
  extenderBodyLimitMb: positiveInt(2),
  /** Admission bodies are single objects (a Pod, a Node, an Eviction). */
  admissionBodyLimitMb: positiveInt(2),
  /**
   * CA (PEM) that client certificates of the scheduler and the API server must chain to. Without it
   * the extender and webhook routes accept anyone who can reach the port (a loud warning says so).
   */
  clientCaFile: z.string().min(1).optional(),
  /** If set, a client certificate must also carry one of these names (CN or DNS SAN). */
  clientAllowedNames: csv(''),
  /** Only pods with this spec.schedulerName may be bound through the extender's bind verb. */
  schedulerName: z.string().min(1).default('tidb-scheduler'),
  /** Namespace of the per-cluster bind Leases (tidb-steward's own; POD_NAMESPACE in the manifests). */
  leaseNamespace: z.string().min(1).default('tidb-steward'),
  /** A bind Lease left by a replica that died is taken over after this long. */
  bindLeaseSeconds: positiveInt(10),
  /** off: binds are serialised in this process only (single replica, or tests of the difference). */
  bindLease: z.enum(['on', 'off']).default('on'),
  /**
   * Fault injection for tests: wait this long between a bind's fresh read of the cluster's pods and its
   * Binding, widening the window in which replicas race. 0 in production.
   */
  bindDelayMs: z.coerce.number().int().min(0).max(10_000).default(0),
  /** tidb-operator's Advanced StatefulSet (apps.pingcap.com) is watched when it is served. */
  advancedStatefulSets: z.enum(['on', 'off']).default('on'),
  /** PingCAP's TidbClusters (pingcap.com) are watched when served, for their pingcap.com/ha-topology-key. */
  pingcapTidbClusters: z.enum(['on', 'off']).default('on'),
  /** How long a bind made by this process counts before the pod cache confirms it. */
  reservationTtlSeconds: positiveInt(60),
  /** Periodic full relist, in case a watch silently missed events. */
  relistIntervalSeconds: positiveInt(600),
  /** Relist when a watch has delivered nothing for this long. */
  staleAfterSeconds: positiveInt(300),
  /** Deadline of one PD HTTP call; several fit inside the webhook's timeoutSeconds. */
  pdTimeoutMs: positiveInt(1500),
  /** A TiKV pod may go with leaders left after this long (with a warning and an Event). */
  evictLeaderTimeoutSeconds: positiveInt(600),
  /** An eviction whose pod removal was given up is ended this long after the timeout. */
  evictLeaderAbandonSeconds: positiveInt(300),
  /** How often leader evictions are checked for cleanup. */
  reconcileIntervalSeconds: positiveInt(10),
  /** ValidatingWebhookConfiguration whose caBundle this process keeps equal to its CA, if any. */
  webhookConfigName: z.string().min(1).optional(),
  /** CA of the serving certificate (ca.crt of a mounted Secret), for the caBundle. */
  tlsCaFile: z.string().min(1).optional(),
  /** TidbCluster controller: campaigns for the Lease and, when holding it, reconciles TidbClusters. */
  controller: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** Lease holder identity; the pod name in a cluster. */
  identity: z.string().min(1).optional(),
  controllerWorkers: positiveInt(4),
  /** A member pod Pending this long gets a diagnosis in status and an Event. */
  pendingGraceSeconds: positiveInt(15),
  /** Node taints that mean "being drained", like a cordon (comma-separated keys). */
  drainTaints: csv('karpenter.sh/disrupted,ToBeDeletedByClusterAutoscaler,node.kubernetes.io/unschedulable'),
  /** Deadline of one Kubernetes call on the admission path (ledger, namespace, owner, Secret). */
  kubeTimeoutMs: positiveInt(1000),
  /** Deadline of one PD member's own health check; all members are asked in parallel. */
  pdMemberTimeoutMs: positiveInt(800),
  /**
   * How long one read of a cluster's PD facts serves every decision (drain webhooks and controller
   * alike); a change made to PD drops it at once.
   */
  pdFactsTtlMs: positiveInt(1000),
  /** A pod removal is answered within this, "not yet" (429) with the reason when time runs out. */
  admissionBudgetMs: positiveInt(4000),
  /**
   * Secret with PD's client certificate (tls.crt, tls.key, ca.crt) per TiDB cluster; {cluster} is
   * replaced by the cluster's name. tidb-operator names it <cluster>-cluster-client-secret. When it
   * exists in the cluster's namespace, PD is reached over https with it.
   */
  pdTlsSecret: z.string().min(1).default('{cluster}-cluster-client-secret'),
  /**
   * PD endpoints per TiDB cluster for tests and demos that run PD outside the cluster, as JSON
   * {"<namespace>/<cluster>": ["http://127.0.0.1:2379"]}. In production PD is reached at its Service.
   */
  pdEndpoints: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (!s) return {} as Record<string, string[]>;
      try {
        return z.record(z.string().regex(/^[^/]+\/[^/]+$/), z.array(z.url()).min(1)).parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON like {"db/basic":["http://127.0.0.1:2379"]}' });
        return z.NEVER;
      }
    }),
});

export type Config = Readonly<z.output<typeof ConfigSchema>>;

/** Flag, environment variable and config field, one row per setting (also the README's table). */
export const SETTINGS: ReadonlyArray<{ field: keyof z.input<typeof ConfigSchema>; flag: string; env: string }> = [
  { field: 'listenHost', flag: '--listen-host', env: 'STEWARD_LISTEN_HOST' },
  { field: 'port', flag: '--port', env: 'STEWARD_PORT' },
  { field: 'tlsCertFile', flag: '--tls-cert-file', env: 'STEWARD_TLS_CERT_FILE' },
  { field: 'tlsKeyFile', flag: '--tls-key-file', env: 'STEWARD_TLS_KEY_FILE' },
  { field: 'tlsDnsNames', flag: '--tls-dns-names', env: 'STEWARD_TLS_DNS_NAMES' },
  { field: 'tlsIpAddresses', flag: '--tls-ip-addresses', env: 'STEWARD_TLS_IP_ADDRESSES' },
  { field: 'topologyKeys', flag: '--topology-keys', env: 'STEWARD_TOPOLOGY_KEYS' },
  { field: 'logLevel', flag: '--log-level', env: 'STEWARD_LOG_LEVEL' },
  { field: 'kubeconfig', flag: '--kubeconfig', env: 'KUBECONFIG' },
  { field: 'extenderBodyLimitMb', flag: '--extender-body-limit-mb', env: 'STEWARD_EXTENDER_BODY_LIMIT_MB' },
  { field: 'admissionBodyLimitMb', flag: '--admission-body-limit-mb', env: 'STEWARD_ADMISSION_BODY_LIMIT_MB' },
  { field: 'reservationTtlSeconds', flag: '--reservation-ttl-seconds', env: 'STEWARD_RESERVATION_TTL_SECONDS' },
  { field: 'relistIntervalSeconds', flag: '--relist-interval-seconds', env: 'STEWARD_RELIST_INTERVAL_SECONDS' },
  { field: 'staleAfterSeconds', flag: '--stale-after-seconds', env: 'STEWARD_STALE_AFTER_SECONDS' },
  { field: 'pdTimeoutMs', flag: '--pd-timeout-ms', env: 'STEWARD_PD_TIMEOUT_MS' },
  { field: 'evictLeaderTimeoutSeconds', flag: '--evict-leader-timeout-seconds', env: 'STEWARD_EVICT_LEADER_TIMEOUT_SECONDS' },
  { field: 'evictLeaderAbandonSeconds', flag: '--evict-leader-abandon-seconds', env: 'STEWARD_EVICT_LEADER_ABANDON_SECONDS' },
  { field: 'reconcileIntervalSeconds', flag: '--reconcile-interval-seconds', env: 'STEWARD_RECONCILE_INTERVAL_SECONDS' },
  { field: 'webhookConfigName', flag: '--webhook-config-name', env: 'STEWARD_WEBHOOK_CONFIG_NAME' },
  { field: 'tlsCaFile', flag: '--tls-ca-file', env: 'STEWARD_TLS_CA_FILE' },
  { field: 'pdEndpoints', flag: '--pd-endpoints', env: 'STEWARD_PD_ENDPOINTS' },
  { field: 'clientCaFile', flag: '--client-ca-file', env: 'STEWARD_CLIENT_CA_FILE' },
  { field: 'clientAllowedNames', flag: '--client-allowed-names', env: 'STEWARD_CLIENT_ALLOWED_NAMES' },
  { field: 'schedulerName', flag: '--scheduler-name', env: 'STEWARD_SCHEDULER_NAME' },
  { field: 'leaseNamespace', flag: '--lease-namespace', env: 'STEWARD_LEASE_NAMESPACE' },
  { field: 'bindLeaseSeconds', flag: '--bind-lease-seconds', env: 'STEWARD_BIND_LEASE_SECONDS' },
  { field: 'bindLease', flag: '--bind-lease', env: 'STEWARD_BIND_LEASE' },
  { field: 'bindDelayMs', flag: '--bind-delay-ms', env: 'STEWARD_BIND_DELAY_MS' },
  { field: 'advancedStatefulSets', flag: '--advanced-statefulsets', env: 'STEWARD_ADVANCED_STATEFULSETS' },
  { field: 'pingcapTidbClusters', flag: '--pingcap-tidbclusters', env: 'STEWARD_PINGCAP_TIDBCLUSTERS' },
  { field: 'controller', flag: '--controller', env: 'STEWARD_CONTROLLER' },
  { field: 'identity', flag: '--identity', env: 'POD_NAME' },
  { field: 'controllerWorkers', flag: '--controller-workers', env: 'STEWARD_CONTROLLER_WORKERS' },
  { field: 'pendingGraceSeconds', flag: '--pending-grace-seconds', env: 'STEWARD_PENDING_GRACE_SECONDS' },
  { field: 'drainTaints', flag: '--drain-taints', env: 'STEWARD_DRAIN_TAINTS' },
  { field: 'kubeTimeoutMs', flag: '--kube-timeout-ms', env: 'STEWARD_KUBE_TIMEOUT_MS' },
  { field: 'pdMemberTimeoutMs', flag: '--pd-member-timeout-ms', env: 'STEWARD_PD_MEMBER_TIMEOUT_MS' },
  { field: 'pdFactsTtlMs', flag: '--pd-facts-ttl-ms', env: 'STEWARD_PD_FACTS_TTL_MS' },
  { field: 'admissionBudgetMs', flag: '--admission-budget-ms', env: 'STEWARD_ADMISSION_BUDGET_MS' },
  { field: 'pdTlsSecret', flag: '--pd-tls-secret', env: 'STEWARD_PD_TLS_SECRET' },
];

export class ConfigError extends Error {}

/** Builds the configuration or throws a ConfigError that names every bad setting. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config {
  const raw: Record<string, string> = {};
  for (const s of SETTINGS) {
    const value = env[s.env];
    if (value !== undefined && value !== '') raw[s.field] = value;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const setting = SETTINGS.find((s) => s.flag === flag);
    if (!setting) throw new ConfigError(`unknown flag ${arg}; known flags: ${SETTINGS.map((s) => s.flag).join(' ')}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`flag ${flag} needs a value`);
    raw[setting.field] = value;
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      const s = SETTINGS.find((x) => x.field === field);
      const name = s ? `${s.flag} / ${s.env}` : field;
      return `  ${name}: ${issue.message} (got ${JSON.stringify(raw[field])})`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError('invalid configuration:\n  --tls-cert-file / STEWARD_TLS_CERT_FILE and --tls-key-file / STEWARD_TLS_KEY_FILE must be given together');
  }
  return Object.freeze(config);
}
