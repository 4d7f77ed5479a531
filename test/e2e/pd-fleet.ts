// A PD stand-in for the controller's e2e tests and benchmark, for any number of TidbClusters at once,
// whose members and stores follow the pods of the local control plane (as test/cluster/pd.ts's
// followPods does for real pd-server and pd-simulator): a PD pod Running is a healthy member, a TiKV
// pod Running has an Up store addressed by its pod DNS name, a stopped pod makes its member unhealthy
// or its store Disconnected. It answers the PD HTTP API calls tidb-steward makes, with PD v8.5's
// shapes, under one prefix per cluster: <base>/<namespace>/<cluster>/pd/api/v1/...
// It proves the Kubernetes side of the controller against PD's API contract; it is not evidence about PD.
// Two faults real PD shows, for the chaos suite: a member hung like a SIGSTOPped pd-server (`hang`: its
// pod stays Running, its /ping accepts the connection and never answers, it counts as down for the
// quorum), and a leader killed (`killLeader`): the next leader restores its schedulers one by one as
// PD v8.5 does (test/pd-standin.ts), so until the evict-leader scheduler is back its list and a DELETE
// of one store answer 404 (the DELETE changes nothing) and a POST creates it afresh with that store alone.
import { CoreV1Api, KubeConfig, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { createServer, type Server } from 'node:http';

export interface FleetStore {
  id: number;
  pod: string;
  /** The pod incarnation that registered it: a tombstoned TiKV process stops and never registers again. */
  podUid: string;
  state: 'Up' | 'Offline' | 'Tombstone' | 'Disconnected';
  leaders: number;
  regions: number;
  /** When it became Tombstone (ms). */
  tombstoneAt?: number;
  /** Labels set through PD's API (zone, host, ...). */
  labels?: Record<string, string>;
}

export class PdModel {
  readonly namespace: string;
  readonly cluster: string;
  members = new Map<string, { uid: string; healthy: boolean }>();
  /** Pod uids whose member was removed through the API: that pod does not come back as a member. */
  removedUids = new Set<string>();
  leader: string | null = null;
  stores: FleetStore[] = [];
  evicting = new Set<number>();
  maxReplicas = 3;
  /** replication.location-labels, as PD keeps them. */
  locationLabels: string[] = [];
  /** Where members' client URLs point, once the fleet listens: each member answers its own /ping there. */
  memberBase = '';
  log: Array<{ at: number; what: string }> = [];
  /** Members whose process is stopped (SIGSTOP): the pod runs, /ping never answers. */
  hung = new Set<string>();
  /** After a killed leader, the new one restores one scheduler per this many ms (the evict-leader one 4th, by name). */
  restoreStepMs = 500;
  /** Until then the new leader has not restored its evict-leader scheduler (ms). */
  restoringUntil = 0;
  /** Called right after PD added a store to the evict-leader scheduler, and right before it handles a DELETE of one (the chaos suite kills the leader there). */
  onEvictAdded: ((storeId: number) => void) | null = null;
  onEvictRemoving: ((storeId: number) => void) | null = null;
  /** Every change of the stores that can take leaders: the evicting set and the stores not Up, with when (ms). */
  timeline: Array<{ at: number; evicting: number[]; notUp: number[]; leaders: Record<number, number> }> = [];
  private nextStore = 1;

  constructor(namespace: string, cluster: string) {
    this.namespace = namespace;
    this.cluster = cluster;
  }

  private note(what: string): void {
    this.log.push({ at: Date.now(), what });
  }

  /** The leader's process dies and another healthy member is elected at once; it restores its schedulers (restoreStepMs). Returns the new leader. */
  killLeader(): string | null {
    const old = this.leader;
    const next = [...this.members].filter(([n, m]) => m.healthy && n !== old).map(([n]) => n).sort()[0] ?? null;
    if (!next) return null;
    this.leader = next;
    // By name: balance-hot-region, balance-leader, balance-region, evict-leader, evict-slow-store; none in the first step.
    this.restoringUntil = Date.now() + 4 * this.restoreStepMs;
    this.note(`leader ${old} killed → ${next}, restoring its schedulers`);
    return next;
  }

  /** Whether the leader runs its evict-leader scheduler (not while it restores one it persisted). */
  private evictRuns(): boolean {
    return this.evicting.size > 0 && Date.now() >= this.restoringUntil;
  }

  private record(): void {
    const evicting = this.evictRuns() ? [...this.evicting].sort((a, b) => a - b) : [];
    const notUp = this.stores.filter((s) => s.state !== 'Up' && s.state !== 'Tombstone').map((s) => s.id);
    const last = this.timeline[this.timeline.length - 1];
    if (last && JSON.stringify(last.evicting) === JSON.stringify(evicting) && JSON.stringify(last.notUp) === JSON.stringify(notUp)) return;
    this.timeline.push({ at: Date.now(), evicting, notUp, leaders: Object.fromEntries(this.stores.filter((s) => s.state !== 'Tombstone').map((s) => [s.id, s.leaders])) });
  }

  get up(): boolean {
    return [...this.members.values()].some((m) => m.healthy);
  }

  /** Brings members and stores in step with the cluster's pods. */
  sync(pods: V1Pod[]): void {
    const live = (p: V1Pod) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp;
    const byName = new Map(pods.map((p) => [p.metadata!.name!, p]));
    for (const p of pods) {
      const name = p.metadata!.name!;
      const component = p.metadata?.labels?.['app.kubernetes.io/component'];
      const uid = p.metadata!.uid!;
      if (component === 'pd' && live(p)) {
        if (this.removedUids.has(uid)) continue;
        const m = this.members.get(name);
        if (!m) this.note(`member ${name} joined`);
        this.members.set(name, { uid, healthy: true });
      }
      if (component === 'tikv' && live(p)) {
        const s = this.stores.find((x) => x.pod === name && x.state !== 'Tombstone');
        // A restarted TiKV keeps its store (its data is on the volume); one whose store was removed
        // stays down until a new pod (a scale-out with a fresh volume) registers a new store.
        const tombstoned = this.stores.some((x) => x.pod === name && x.state === 'Tombstone' && x.podUid === uid);
        if (!s && !tombstoned) {
          this.stores.push({ id: this.nextStore++, pod: name, podUid: uid, state: 'Up', leaders: 20, regions: 60 });
          this.note(`store ${this.nextStore - 1} of ${name} Up`);
        } else if (s && s.state === 'Disconnected') {
          s.state = 'Up';
          s.podUid = uid;
        }
      }
    }
    for (const [name, m] of this.members) {
      const p = byName.get(name);
      const was = m.healthy;
      m.healthy = !!p && live(p) && !this.removedUids.has(p.metadata!.uid!) && !this.hung.has(name);
      // Whether it led when it went: a leader whose pod goes without a hand-over forces an election.
      if (was && !m.healthy) this.note(`member ${name} down (leader ${this.leader ?? 'none'})`);
    }
    for (const s of this.stores) {
      const p = byName.get(s.pod);
      if (s.state === 'Up' && !(p && live(p))) {
        s.state = 'Disconnected';
        this.note(`store ${s.id} of ${s.pod} down leading ${s.leaders} regions`);
      }
    }
    const healthy = [...this.members].filter(([, m]) => m.healthy).map(([n]) => n).sort();
    const quorum = healthy.length >= Math.floor(this.members.size / 2) + 1;
    if (!quorum) this.leader = null;
    else if (!this.leader || !this.members.get(this.leader)?.healthy) {
      this.leader = healthy[0] ?? null;
      this.note(`leader ${this.leader}`);
    }
    this.record();
  }

  /** Time passing in PD: evicted leaders move, offline stores empty out and become Tombstone. */
  tick(): void {
    const evicting = this.evictRuns();
    for (const s of this.stores) {
      if (evicting && this.evicting.has(s.id) && s.leaders > 0) s.leaders = Math.max(0, s.leaders - 5);
      if (s.state === 'Offline') {
        s.leaders = 0;
        s.regions = Math.max(0, s.regions - 20);
        if (s.regions === 0) {
          s.state = 'Tombstone';
          s.tombstoneAt = Date.now();
          this.note(`store ${s.id} of ${s.pod} Tombstone`);
        }
      }
    }
  }

  handle(method: string, url: string, body: string): [number, unknown] {
    try {
      return this.answer(method, url, body);
    } finally {
      this.record();
    }
  }

  private answer(method: string, url: string, body: string): [number, unknown] {
    if (!this.up) return [503, 'no PD member is running'];
    const [path, query = ''] = url.split('?');
    const ping = /^\/member\/([^/]+)\/pd\/api\/v1\/ping$/.exec(path!);
    if (method === 'GET' && ping) return this.members.get(decodeURIComponent(ping[1]!))?.healthy ? [200, ''] : [503, 'no leader'];
    if (method === 'GET' && /^\/pd\/api\/v1\/regions\/check\/[a-z-]+$/.test(path!)) return [200, { count: 0, regions: [] }];
    const member = (name: string, i: number) => ({ name, member_id: `1314729524524542${String(100 + i)}`, client_urls: [this.memberBase ? `${this.memberBase}/${encodeURIComponent(name)}` : `http://${name}.${this.cluster}-pd-peer.${this.namespace}.svc:2379`], peer_urls: [`http://${name}.${this.cluster}-pd-peer.${this.namespace}.svc:2380`] });
    const names = [...this.members.keys()];
    if (method === 'GET' && path === '/pd/api/v1/members') {
      return [200, { header: { cluster_id: 7441234567890123456 }, members: names.map(member), leader: this.leader ? member(this.leader, names.indexOf(this.leader)) : null }];
    }
    if (method === 'GET' && path === '/pd/api/v1/health') return [200, names.map((n, i) => ({ ...member(n, i), health: this.members.get(n)!.healthy }))];
    let m = /^\/pd\/api\/v1\/leader\/transfer\/(.+)$/.exec(path!);
    if (method === 'POST' && m) {
      const to = decodeURIComponent(m[1]!);
      if (!this.members.get(to)?.healthy) return [500, '[PD:server:ErrServerNotFound]server not found'];
      this.note(`leader ${this.leader} → ${to}`);
      this.leader = to;
      return [200, 'The transfer command is submitted.'];
    }
    m = /^\/pd\/api\/v1\/members\/name\/(.+)$/.exec(path!);
    if (method === 'DELETE' && m) {
      const name = decodeURIComponent(m[1]!);
      const mm = this.members.get(name);
      if (!mm) return [404, `member ${name} not found`];
      if (name === this.leader) return [500, 'cannot remove the leader; transfer leadership first'];
      this.members.delete(name);
      this.removedUids.add(mm.uid);
      this.note(`member ${name} removed`);
      return [200, 'The PD member is removed.'];
    }
    if (method === 'GET' && path === '/pd/api/v1/stores') {
      return [200, { count: this.stores.length, stores: this.stores.map((s) => ({ store: { id: s.id, address: `${s.pod}.${this.cluster}-tikv-peer.${this.namespace}.svc:20160`, labels: Object.entries(s.labels ?? {}).map(([key, value]) => ({ key, value })), state_name: s.state }, status: { leader_count: s.leaders, region_count: s.regions } })) }];
    }
    m = /^\/pd\/api\/v1\/store\/(\d+)(\/state)?$/.exec(path!);
    if (m) {
      const s = this.stores.find((x) => x.id === Number(m![1]));
      if (!s) return [404, 'store not found'];
      if (method === 'DELETE' && !m[2]) {
        if (s.state === 'Tombstone') return [200, 'The store is set as Tombstone.'];
        s.state = 'Offline';
        this.note(`store ${s.id} of ${s.pod} Offline`);
        return [200, 'The store is set as Offline.'];
      }
      if (method === 'POST' && m[2] && /state=Up/.test(query)) {
        if (s.state !== 'Offline') return [400, `store ${s.id} is ${s.state}`];
        s.state = 'Up';
        s.regions = 60;
        this.note(`store ${s.id} of ${s.pod} back Up`);
        return [200, 'The store state is updated.'];
      }
    }
    if (method === 'GET' && path === '/pd/api/v1/config/replicate') return [200, { 'max-replicas': this.maxReplicas, 'location-labels': this.locationLabels.join(','), 'strictly-match-label': 'false' }];
    if (method === 'POST' && path === '/pd/api/v1/config/replicate') {
      const input = JSON.parse(body) as { 'location-labels'?: string };
      if (typeof input['location-labels'] === 'string') this.locationLabels = input['location-labels'].split(',').filter(Boolean);
      this.note(`location-labels ${this.locationLabels.join(',')}`);
      return [200, 'The config is updated.'];
    }
    const label = /^\/pd\/api\/v1\/store\/(\d+)\/label$/.exec(path!);
    if (method === 'POST' && label) {
      const s = this.stores.find((x) => x.id === Number(label[1]));
      if (!s) return [500, `[PD:cluster:ErrInvalidStoreID]invalid store id ${label[1]}, not found`];
      // Merged; an empty value removes the label, as PD does.
      const labels = { ...(s.labels ?? {}), ...(JSON.parse(body) as Record<string, string>) };
      s.labels = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
      this.note(`store ${s.id} of ${s.pod} labels ${JSON.stringify(s.labels)}`);
      return [200, 'The store\'s label is updated.'];
    }
    // The persisted schedulers (schedulers-v2): the PD client reads "no evict-leader scheduler" as final only when none is persisted.
    if (method === 'GET' && path === '/pd/api/v1/config/schedule') {
      const defaults = ['balance-region', 'balance-leader', 'hot-region', 'evict-slow-store'].map((type) => ({ type, args: null, disable: false, 'args-payload': '' }));
      const evict = this.evicting.size ? [{ type: 'evict-leader', args: [String([...this.evicting][0])], disable: false, 'args-payload': '' }] : [];
      return [200, { 'leader-schedule-limit': 4, 'schedulers-v2': [...defaults, ...evict] }];
    }
    if (method === 'GET' && path === '/pd/api/v1/scheduler-config/evict-leader-scheduler/list') {
      if (!this.evictRuns()) return [404, 'scheduler not found'];
      return [200, { 'store-id-ranges': Object.fromEntries([...this.evicting].map((id) => [String(id), [{ 'start-key': '', 'end-key': '' }]])), batch: 3 }];
    }
    if (method === 'POST' && path === '/pd/api/v1/schedulers') {
      const { name, store_id: id } = JSON.parse(body) as { name: string; store_id: number };
      if (name !== 'evict-leader-scheduler') return [400, 'unsupported'];
      // Not restored yet: PD creates the scheduler afresh with this store alone, over the persisted one.
      if (this.evicting.size > 0 && !this.evictRuns()) {
        this.note(`evict-leader scheduler created afresh with store ${id}, dropping ${[...this.evicting].filter((x) => x !== id).join(', ') || 'nothing'}`);
        this.evicting.clear();
        this.restoringUntil = 0;
      }
      this.evicting.add(id);
      this.note(`evict leaders of store ${id}`);
      this.record();
      this.onEvictAdded?.(id);
      return [200, 'The scheduler is created.'];
    }
    m = /^\/pd\/api\/v1\/schedulers\/evict-leader-scheduler-(\d+)$/.exec(path!);
    if (method === 'DELETE' && m) {
      this.onEvictRemoving?.(Number(m[1]));
      // Not routed while the scheduler does not run (a new leader restoring it): nothing changes.
      if (this.evicting.size > 0 && !this.evictRuns()) {
        this.note(`DELETE of evict-leader store ${m[1]} answered 404 while restoring`);
        return [404, null];
      }
      if (!this.evicting.delete(Number(m[1]))) return [500, '[PD:scheduler:ErrSchedulerNotFound]scheduler not found'];
      const s = this.stores.find((x) => x.id === Number(m![1]));
      if (s && s.state === 'Up') s.leaders = 20;
      this.note(`end evicting leaders of store ${m[1]}`);
      return [200, 'The scheduler is removed.'];
    }
    return [404, '404 page not found'];
  }
}

export class PdFleet {
  readonly models = new Map<string, PdModel>();
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private informer: ReturnType<typeof makeInformer<V1Pod>> | null = null;
  private base = '';

  model(namespace: string, cluster: string): PdModel {
    const key = `${namespace}/${cluster}`;
    let m = this.models.get(key);
    if (!m) this.models.set(key, (m = new PdModel(namespace, cluster)));
    if (this.base) m.memberBase = `${this.base}/${namespace}/${cluster}/member`;
    return m;
  }

  endpoint(namespace: string, cluster: string): string {
    this.model(namespace, cluster);
    return `${this.base}/${namespace}/${cluster}`;
  }

  /** STEWARD_PD_ENDPOINTS for the given clusters. */
  stewardEndpoints(clusters: Array<[string, string]>): string {
    return JSON.stringify(Object.fromEntries(clusters.map(([ns, c]) => [`${ns}/${c}`, [this.endpoint(ns, c)]])));
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const m = /^\/([^/]+)\/([^/]+)(\/.*)$/.exec(req.url ?? '');
        const model = m ? this.models.get(`${m[1]}/${m[2]}`) : undefined;
        // A stopped process: the kernel accepts the connection, nobody ever answers.
        const ping = m ? /^\/member\/([^/]+)\/pd\/api\/v1\/ping$/.exec(m[3]!) : null;
        if (model && ping && model.hung.has(decodeURIComponent(ping[1]!))) return;
        const [status, payload] = model ? model.handle(req.method ?? 'GET', m![3]!, body) : [404, 'unknown cluster'];
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    for (const [key, m] of this.models) m.memberBase = `${this.base}/${key}/member`;
    return this.base;
  }

  /** Follows the controller's pods in every namespace; models of clusters not named by endpoint() are ignored. */
  async follow(kubeconfig: string): Promise<void> {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const selector = 'app.kubernetes.io/managed-by=tidb-steward,app.kubernetes.io/name=tidb-cluster';
    const informer = makeInformer<V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces({ labelSelector: selector }), selector);
    informer.on('error', () => setTimeout(() => this.informer && informer.start().catch(() => undefined), 1000));
    await informer.start();
    this.informer = informer;
    this.timer = setInterval(() => {
      const byCluster = new Map<string, V1Pod[]>();
      for (const p of informer.list()) {
        const key = `${p.metadata?.namespace}/${p.metadata?.labels?.['app.kubernetes.io/instance']}`;
        (byCluster.get(key) ?? byCluster.set(key, []).get(key)!).push(p);
      }
      for (const [key, model] of this.models) {
        model.sync(byCluster.get(key) ?? []);
        model.tick();
      }
    }, 300);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const inf = this.informer;
    this.informer = null;
    await inf?.stop();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
