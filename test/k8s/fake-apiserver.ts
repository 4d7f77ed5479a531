// An in-process stand-in for the Kubernetes API server, for unit tests of the adapters in src/k8s/:
// real client-node clients talk HTTP on 127.0.0.1 to a handler the test writes, which answers with
// the API server's wire shapes (objects, lists, Status errors). Every request is recorded.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { clientsOf, type KubeClients } from '../../src/k8s/client.ts';

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

/** What the handler answers: a status and a JSON body (or text), or a delay first. */
export interface ApiReply {
  status: number;
  body: unknown;
  delayMs?: number;
}

export interface FakeApi {
  clients: KubeClients;
  requests: ApiRequest[];
  close(): Promise<void>;
}

export async function fakeApiServer(handle: (req: ApiRequest) => ApiReply | Promise<ApiReply>): Promise<FakeApi> {
  const requests: ApiRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const r = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams };
    requests.push(r);
    let reply: ApiReply;
    try {
      reply = await handle(r);
    } catch (err) {
      reply = { status: 500, body: status(500, 'InternalError', (err as Error).message) };
    }
    if (reply.delayMs) await new Promise((ok) => setTimeout(ok, reply.delayMs));
    if (res.destroyed) return;
    const text = typeof reply.body === 'string';
    res.writeHead(reply.status, { 'content-type': text ? 'text/plain' : 'application/json' });
    res.end(text ? reply.body : JSON.stringify(reply.body));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'fake', token: 'fake' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
    currentContext: 'fake',
  });
  return {
    clients: clientsOf(kc),
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

export function status(code: number, reason: string, message: string, details: Record<string, unknown> = {}) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

/** The API server's 404 for a named object that does not exist (resource is the plural). */
export function notFound(group: string, resource: string, name: string): ApiReply {
  return { status: 404, body: status(404, 'NotFound', `${resource}${group ? `.${group}` : ''} "${name}" not found`, { name, ...(group ? { group } : {}), kind: resource }) };
}

/** The API server's 404 for a path no API serves (e.g. a CRD that is not installed). */
export const notServed: ApiReply = { status: 404, body: status(404, 'NotFound', 'the server could not find the requested resource') };

export function forbidden(user: string, verb: string, group: string, resource: string, namespace: string, name: string): ApiReply {
  return {
    status: 403,
    body: status(403, 'Forbidden', `${resource}${group ? `.${group}` : ''} "${name}" is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`, {
      name,
      ...(group ? { group } : {}),
      kind: resource,
    }),
  };
}

/** Fields the API server derives from Go zero values when the JSON leaves them out. */
const FIELD_DEFAULTS: Record<string, string> = { 'spec.unschedulable': 'false' };

/** The value at a dotted path of a wire object, as the API server compares fields. */
function fieldOf(obj: unknown, path: string): string {
  let v: unknown = obj;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v === undefined || v === null ? (FIELD_DEFAULTS[path] ?? '') : String(v);
}

/**
 * A LIST answered as the API server does: the field selector's `a=b` / `a!=b` terms applied, then one
 * page of at most `limit` items with a continue token (here the offset) when more follow.
 */
export function listReply(items: readonly unknown[], query: URLSearchParams): ApiReply {
  const terms = (query.get('fieldSelector') ?? '').split(',').filter(Boolean).map((t) => {
    const ne = t.indexOf('!=');
    return ne >= 0 ? { path: t.slice(0, ne), value: t.slice(ne + 2), equal: false } : { path: t.slice(0, t.indexOf('=')), value: t.slice(t.indexOf('=') + 1), equal: true };
  });
  const selected = items.filter((o) => terms.every((t) => (fieldOf(o, t.path) === t.value) === t.equal));
  const from = Number(query.get('continue') ?? 0);
  const limit = Number(query.get('limit') ?? 0) || selected.length;
  const page = selected.slice(from, from + limit);
  const next = from + page.length < selected.length ? String(from + page.length) : undefined;
  return { status: 200, body: { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1', ...(next ? { continue: next } : {}) }, items: page } };
}
