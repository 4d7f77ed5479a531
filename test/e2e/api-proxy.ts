// A proxy in front of the local kube-apiserver for one client (one tidb-steward replica), to make the
// API server unreachable for that client alone. It terminates TLS with the API server's own serving
// certificate (valid for 127.0.0.1, signed by the kubeconfig's CA) and forwards as the admin user, so
// it sees every request the client makes: the test reads them as that client's writes.
// freeze(): nothing more is forwarded and nothing is closed — new requests hang unanswered, answers and
// watch streams in flight stop midway (what a partition looks like to the client). thaw(): the held
// exchanges are dropped (their connections reset, nothing buffered arrives late) and new ones pass.
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { KUBECONFIG, PORTS } from '../cluster/controlplane.ts';
import { STATE } from '../cluster/paths.ts';

export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
  /** HTTP status of the API server's answer, null while none came back through the proxy. */
  status: number | null;
  /** Arrived while frozen: never forwarded. */
  held: boolean;
}

export interface ApiProxy {
  /** A kubeconfig for the client: the admin kubeconfig with the proxy as the server. */
  kubeconfig: string;
  requests: ProxiedRequest[];
  frozen(): boolean;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const isWrite = (r: ProxiedRequest) => WRITES.has(r.method);

export async function apiProxy(name: string): Promise<ApiProxy> {
  const pki = join(STATE, 'pki');
  const upstream = new Agent({ keepAlive: true, ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, 'admin.crt')), key: readFileSync(join(pki, 'admin.key')) });
  const requests: ProxiedRequest[] = [];
  const exchanges = new Set<{ stopSending(): void; res: ServerResponse; upstreamRes: IncomingMessage | null; abort(): void }>();
  const sockets = new Set<Socket>();
  let frozen = false;

  const server: Server = createServer({ key: readFileSync(join(pki, 'serving.key')), cert: readFileSync(join(pki, 'serving.crt')) }, (req, res) => {
    const entry: ProxiedRequest = { at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/', status: null, held: frozen };
    requests.push(entry);
    if (frozen) return; // never answered, never forwarded, not closed
    const headers = { ...req.headers, host: `127.0.0.1:${PORTS.apiserver}` };
    const up = request({ host: '127.0.0.1', port: PORTS.apiserver, method: req.method, path: req.url, headers, agent: upstream });
    const exchange = { stopSending: () => req.unpipe(up), res, upstreamRes: null as IncomingMessage | null, abort: () => up.destroy() };
    exchanges.add(exchange);
    res.on('close', () => {
      exchanges.delete(exchange);
      up.destroy();
    });
    up.on('response', (upRes) => {
      exchange.upstreamRes = upRes;
      if (frozen) return upRes.pause();
      entry.status = upRes.statusCode ?? null;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('secureConnection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;

  const kubeconfig = join(STATE, `${name}.kubeconfig`);
  writeFileSync(kubeconfig, readFileSync(KUBECONFIG, 'utf8').replace(`https://127.0.0.1:${PORTS.apiserver}`, `https://127.0.0.1:${port}`), { mode: 0o600 });

  return {
    kubeconfig,
    requests,
    frozen: () => frozen,
    freeze() {
      frozen = true;
      for (const e of exchanges) {
        // Requests and answers in flight (watch streams included) stop where they are.
        e.stopSending();
        e.upstreamRes?.unpipe(e.res);
        e.upstreamRes?.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const e of exchanges) e.abort();
      for (const s of sockets) s.destroy();
    },
    async close() {
      frozen = false;
      for (const e of exchanges) e.abort();
      for (const s of sockets) s.destroy();
      upstream.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
