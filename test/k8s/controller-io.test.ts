// The controller's Kubernetes calls that fencing depends on, against an in-process HTTP stand-in for
// the API server: Lease calls end at their deadline when the server never answers, and the status is
// written as an update that names the resourceVersion read (409 → StatusConflictError).
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { StatusConflictError } from '../../src/controller/fence.ts';
import { controllerClients, kubeLeaseLock, writeStatus } from '../../src/k8s/tidbclusters.ts';
import type { KubeClients } from '../../src/k8s/client.ts';

async function apiServer(t: { teardown(fn: () => unknown): void }, handle: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handle(req, body, res));
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return controllerClients({ kc } as KubeClients);
}

t.test('every Lease call ends at its deadline when the API server accepts but never answers', async (t) => {
  const cc = await apiServer(t, () => {});
  const lock = kubeLeaseLock(cc, 'tidb-steward', 'tidb-steward-controller', 200);
  const record = { holder: 'a', leaseDurationSeconds: 10, acquireTime: null, renewTime: null, transitions: 0, resourceVersion: '1' };
  for (const [what, call] of [['get', () => lock.get()], ['create', () => lock.create(record)], ['update', () => lock.update(record)]] as const) {
    const began = Date.now();
    const outcome = await Promise.race([call().then(() => 'answered', () => 'failed'), new Promise((r) => setTimeout(() => r('still hanging'), 2000))]);
    const took = Date.now() - began;
    t.equal(outcome, 'failed', `${what} fails`);
    t.ok(took >= 190 && took < 1000, `${what} ended after ${took} ms (deadline 200 ms)`);
  }
});

t.test('the status is an update of the status subresource naming the resourceVersion read; 409 is a StatusConflictError', async (t) => {
  const seen: Array<{ method: string; url: string; body: { metadata: { resourceVersion: string }; status: unknown } }> = [];
  let current = '5';
  const cc = await apiServer(t, (req, body, res) => {
    const parsed = JSON.parse(body);
    seen.push({ method: req.method!, url: req.url!, body: parsed });
    res.setHeader('content-type', 'application/json');
    if (parsed.metadata.resourceVersion !== current) {
      res.statusCode = 409;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Conflict', code: 409, message: 'the object has been modified' }));
      return;
    }
    current = String(Number(current) + 1);
    res.end(JSON.stringify({ ...parsed, metadata: { ...parsed.metadata, resourceVersion: current } }));
  });
  const rv = await writeStatus(cc, 'db', 'basic', { phase: 'Normal' }, '5');
  t.equal(rv, '6', 'resolves to the new resourceVersion');
  t.equal(seen[0]!.method, 'PUT');
  t.equal(seen[0]!.url, '/apis/tidb-steward.dev/v1alpha1/namespaces/db/tidbclusters/basic/status?fieldManager=tidb-steward');
  t.equal(seen[0]!.body.metadata.resourceVersion, '5');
  t.same(seen[0]!.body.status, { phase: 'Normal' });
  await t.rejects(writeStatus(cc, 'db', 'basic', { phase: 'Normal' }, '5'), StatusConflictError, 'a stale resourceVersion is refused');
});
