// One PD client per TiDB cluster, over TLS when the cluster's client certificate Secret exists
// (tidb-operator's tlsCluster). The Secret is looked up again after a while so that enabling TLS or
// rotating the certificate needs no restart.
import { PdClient, pdEndpointsFor } from './client.ts';
import { tlsFetch, type PdTlsMaterial } from './tls.ts';

export interface PdRegistryOptions {
  overrides: Readonly<Record<string, readonly string[]>>;
  timeoutMs: number;
  memberTimeoutMs: number;
  /** The cluster's TLS material, or null when it has none. */
  tlsFor(namespace: string, cluster: string): Promise<PdTlsMaterial | null>;
  now: () => number;
  recheckMs?: number;
}

interface Entry {
  client: PdClient;
  fingerprint: string;
  checkedAt: number;
  close?: () => Promise<void>;
}

export class PdRegistry {
  private readonly opts: PdRegistryOptions;
  private readonly clients = new Map<string, Entry>();

  constructor(opts: PdRegistryOptions) {
    this.opts = opts;
  }

  async get(namespace: string, cluster: string): Promise<PdClient> {
    const key = `${namespace}/${cluster}`;
    const now = this.opts.now();
    const cached = this.clients.get(key);
    if (cached && now - cached.checkedAt < (this.opts.recheckMs ?? 30_000)) return cached.client;
    let material: PdTlsMaterial | null;
    try {
      material = await this.opts.tlsFor(namespace, cluster);
    } catch (err) {
      // Keep what worked before rather than fail every review while the API server is slow.
      if (cached) return cached.client;
      throw err;
    }
    const fingerprint = material ? `${material.ca}|${material.cert}|${material.key}` : '';
    if (cached && cached.fingerprint === fingerprint) {
      cached.checkedAt = now;
      return cached.client;
    }
    const tls = material ? tlsFetch(material) : null;
    const client = new PdClient({
      endpoints: pdEndpointsFor(namespace, cluster, this.opts.overrides, material !== null),
      timeoutMs: this.opts.timeoutMs,
      memberTimeoutMs: this.opts.memberTimeoutMs,
      ...(tls ? { fetchImpl: tls.fetch } : {}),
    });
    void cached?.close?.().catch(() => undefined);
    this.clients.set(key, { client, fingerprint, checkedAt: now, ...(tls ? { close: tls.close } : {}) });
    return client;
  }
}
