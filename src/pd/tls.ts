// PD over TLS (tidb-operator's tlsCluster): a fetch that presents the cluster's client certificate and
// trusts the cluster's CA, for every call to one TiDB cluster's PD (its Service and each member).
import { Agent, fetch as undiciFetch } from 'undici';

export interface PdTlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** A fetch bound to one cluster's client certificate; close() releases its connections. */
export function tlsFetch(material: PdTlsMaterial): { fetch: typeof fetch; close(): Promise<void> } {
  const agent = new Agent({ connect: { ca: material.ca, cert: material.cert, key: material.key } });
  const bound = ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as Record<string, unknown>), dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
  return { fetch: bound, close: () => agent.close() };
}
