// A stand-in for PD's HTTP API, for the e2e drain flow only: real pd-server cannot be built here (the
// Go module proxy refuses github.com/tikv/pd). It keeps the shapes PD v8.5 answers with (recorded in
// the PD client's unit tests) and moves leaders over time the way PD would. It proves the Kubernetes
// side of a complete drain; it is not evidence about PD itself.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';

export interface StandinStore {
  id: number;
  pod: string;
  leaders: number;
}

export class PdStandin {
  members: string[];
  leader: string;
  unhealthy = new Set<string>();
  stores: StandinStore[];
  evicting = new Set<number>();
  /** When each leader transfer completed, and when each store reached 0 leaders (ms). */
  transfers: Array<{ from: string; to: string; at: number }> = [];
  drainedAt = new Map<number, number>();
  /** Replication max-replicas, and regions PD's region checks report (by check name). */
  maxReplicas = 3;
  regionChecks = new Map<string, Array<{ id: number; peers: number[]; down?: number[] }>>();
  private base = '';
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(members: string[], stores: StandinStore[]) {
    this.members = members;
    this.leader = members[0]!;
    this.stores = stores;
  }

  /**
   * Serves on 127.0.0.1; with `tls`, over https requiring a client certificate signed by `tls.ca`, as PD
   * with tidb-operator's tlsCluster does.
   */
  async start(opts: { tls?: { key: string; cert: string; ca: string } } = {}): Promise<string> {
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => this.handle(req.method ?? 'GET', req.url ?? '/', body, (status, payload) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
      }));
    };
    this.server = opts.tls ? (createTlsServer({ ...opts.tls, requestCert: true, rejectUnauthorized: true }, serve) as unknown as Server) : createServer(serve);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    // Evicted stores lose 5 leaders every 300 ms, as PD's evict-leader scheduler moves them away.
    this.timer = setInterval(() => {
      for (const s of this.stores) {
        if (!this.evicting.has(s.id) || s.leaders === 0) continue;
        s.leaders = Math.max(0, s.leaders - 5);
        if (s.leaders === 0) this.drainedAt.set(s.id, Date.now());
      }
    }, 300);
    return this.base;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private handle(method: string, url: string, body: string, send: (status: number, payload: unknown) => void): void {
    // Every member's client URL reaches this server under its own prefix, so that each member can be
    // asked for its own health (GET <client URL>/pd/api/v1/ping) as tidb-steward does.
    const member = (name: string, i: number) => ({ name, member_id: `1314729524524542171${i}`, client_urls: [`${this.base}/member/${encodeURIComponent(name)}`], peer_urls: [`http://${name}:2380`] });
    const ping = url.match(/^\/member\/([^/]+)\/pd\/api\/v1\/ping$/);
    if (method === 'GET' && ping) {
      const name = decodeURIComponent(ping[1]!);
      if (!this.members.includes(name) || this.unhealthy.has(name)) return send(503, '"no leader"');
      return send(200, '');
    }
    const check = url.match(/^\/pd\/api\/v1\/regions\/check\/([a-z-]+)$/);
    if (method === 'GET' && check) {
      const regions = this.regionChecks.get(check[1]!) ?? [];
      return send(200, { count: regions.length, regions: regions.map((r) => ({ id: r.id, peers: r.peers.map((s, j) => ({ id: r.id * 10 + j, store_id: s })), down_peers: (r.down ?? []).map((s) => ({ peer: { store_id: s }, down_seconds: 600 })) })) });
    }
    if (method === 'GET' && url === '/pd/api/v1/config/replicate') return send(200, { 'max-replicas': this.maxReplicas, 'location-labels': '' });
    if (method === 'GET' && url === '/pd/api/v1/members') {
      return send(200, `{"header":{"cluster_id":7441234567890123456},"members":[${this.members.map((m, i) => JSON.stringify(member(m, i))).join(',')}],"leader":${JSON.stringify(member(this.leader, this.members.indexOf(this.leader)))}}`);
    }
    if (method === 'GET' && url === '/pd/api/v1/health') return send(200, this.members.map((name, i) => ({ ...member(name, i), health: !this.unhealthy.has(name) })));
    const transfer = url.match(/^\/pd\/api\/v1\/leader\/transfer\/(.+)$/);
    if (method === 'POST' && transfer) {
      const to = decodeURIComponent(transfer[1]!);
      if (!this.members.includes(to)) return send(500, '"[PD:server:ErrServerNotFound]server not found"');
      const from = this.leader;
      // An election takes a moment.
      setTimeout(() => {
        this.leader = to;
        this.transfers.push({ from, to, at: Date.now() });
      }, 500);
      return send(200, '"The transfer command is submitted."');
    }
    if (method === 'GET' && url.startsWith('/pd/api/v1/stores')) {
      return send(200, { count: this.stores.length, stores: this.stores.map((s) => ({ store: { id: s.id, address: `mock:://tikv-${s.id}`, labels: [{ key: 'pod', value: s.pod }], state: 0, state_name: 'Up' }, status: { leader_count: s.leaders, region_count: 60 } })) });
    }
    if (method === 'GET' && url === '/pd/api/v1/scheduler-config/evict-leader-scheduler/list') {
      if (this.evicting.size === 0) return send(404, '"scheduler not found"');
      return send(200, { 'store-id-ranges': Object.fromEntries([...this.evicting].map((id) => [String(id), [{ 'start-key': '', 'end-key': '' }]])), batch: 3 });
    }
    if (method === 'POST' && url === '/pd/api/v1/schedulers') {
      const { name, store_id: id } = JSON.parse(body) as { name: string; store_id: number };
      if (name !== 'evict-leader-scheduler') return send(400, '"unsupported"');
      this.evicting.add(id);
      return send(200, '"The scheduler is created."');
    }
    const remove = url.match(/^\/pd\/api\/v1\/schedulers\/evict-leader-scheduler-(\d+)$/);
    if (method === 'DELETE' && remove) {
      const id = Number(remove[1]);
      if (!this.evicting.delete(id)) return send(500, '"[PD:scheduler:ErrSchedulerNotFound]scheduler not found"');
      // Leaders come back to a store that is no longer evicted.
      const s = this.stores.find((x) => x.id === id);
      if (s) s.leaders = 20;
      return send(200, '"The scheduler is removed."');
    }
    send(404, '"404 page not found"');
  }
}
