// Client certificates over real TLS: the extender and the webhooks serve only callers whose
// certificate chains to the configured client CA; probes and metrics stay open.
import t from 'tap';
import { request, Agent } from 'undici';
import { generateCertificates, generateClientCertificates, watchCaFile } from '../../src/tls/certs.ts';
import { admissionFixture, fixture, testApp } from './harness.ts';
import { makePod } from '../builders.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const serving = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const callers = await generateClientCertificates(['tidb-scheduler', 'kube-apiserver', 'someone-else']);
const strangers = await generateClientCertificates(['tidb-scheduler']);

async function server(allowedNames: string[] = []) {
  const { app, binder } = testApp({
    tls: serving,
    clientAuth: { ca: callers.caCert, allowedNames },
    pods: [makePod('basic-pd-0').of('db', 'basic', 'pd').on('node-a').view()],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, binder, port: (app.server.address() as { port: number }).port };
}

async function call(port: number, path: string, body: unknown, client?: { cert: string; key: string }) {
  const agent = new Agent({ connect: { ca: serving.caCert, servername: 'localhost', ...(client ?? {}) } });
  try {
    const res = await request(`https://127.0.0.1:${port}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      dispatcher: agent,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await agent.close();
  }
}

t.test('without a trusted client certificate: 401 on every extender and webhook route, before the body is read', async (t) => {
  const { app, port, binder } = await server();
  t.teardown(() => app.close());
  const bind = { PodName: 'basic-pd-0', PodNamespace: 'db', PodUID: 'x', Node: 'node-b' };
  const table: Array<[string, unknown]> = [
    ['/scheduler/bind', bind],
    ['/scheduler/filter', fixture('filter-pd-nodenames.json')],
    ['/scheduler/prioritize', fixture('filter-pd-nodenames.json')],
    ['/admission/pods', admissionFixture('pod-eviction.json')],
    ['/admission/nodes', admissionFixture('node-cordon.json')],
  ];
  for (const [path, body] of table) {
    const none = await call(port, path, body);
    t.equal(none.status, 401, `${path} without a certificate`);
    t.match(none.body.message, /a client certificate is required/);
    const other = await call(port, path, body, strangers.clients['tidb-scheduler']);
    t.equal(other.status, 401, `${path} with a certificate from another CA`);
    t.match(other.body.message, /not trusted/);
  }
  t.same(binder.binds, [], 'nothing was bound');
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const agent = new Agent({ connect: { ca: serving.caCert, servername: 'localhost' } });
    const res = await request(`https://127.0.0.1:${port}${path}`, { dispatcher: agent });
    await res.body.dump();
    await agent.close();
    t.equal(res.statusCode, 200, `${path} stays open for probes`);
  }
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /tidb_steward_unauthenticated_requests_total\{route="\/scheduler\/bind"\} 2/);
});

t.test('with a certificate from the client CA: served', async (t) => {
  const { app, port } = await server();
  t.teardown(() => app.close());
  const filtered = await call(port, '/scheduler/filter', fixture('filter-pd-nodenames.json'), callers.clients['tidb-scheduler']);
  t.equal(filtered.status, 200);
  t.same(filtered.body.NodeNames, ['node-b', 'node-c']);
  const review = await call(port, '/admission/nodes', admissionFixture('node-cordon.json'), callers.clients['kube-apiserver']);
  t.match(review.body, { kind: 'AdmissionReview', response: { allowed: true } });
});

t.test('allowed names narrow the callers further', async (t) => {
  const { app, port } = await server(['tidb-scheduler', 'kube-apiserver']);
  t.teardown(() => app.close());
  t.equal((await call(port, '/scheduler/filter', fixture('filter-pd-nodenames.json'), callers.clients['tidb-scheduler'])).status, 200);
  const other = await call(port, '/scheduler/filter', fixture('filter-pd-nodenames.json'), callers.clients['someone-else']);
  t.equal(other.status, 401);
  t.match(other.body.message, /someone-else.*is not one of the allowed callers/);
});

t.test('a rotated client CA is picked up by new connections', async (t) => {
  const { app, port } = await server();
  t.teardown(() => app.close());
  const next = await generateClientCertificates(['tidb-scheduler']);
  const dir = t.testdir({ 'ca.crt': callers.caCert });
  const file = join(dir, 'ca.crt');
  let changes = 0;
  const stop = watchCaFile(file, callers.caCert, {
    pollMs: 30,
    onChange(pem) {
      changes++;
      (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext({ key: serving.key, cert: serving.cert, ca: pem });
    },
    onError: () => undefined,
  });
  t.teardown(stop);
  t.equal((await call(port, '/scheduler/filter', fixture('filter-pd-nodenames.json'), next.clients['tidb-scheduler'])).status, 401, 'new CA not trusted yet');
  // During a rotation the file holds both CAs; then only the new one.
  writeFileSync(file, `${callers.caCert}\n${next.caCert}`);
  const deadline = Date.now() + 5000;
  while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(changes, 1);
  const trusted = await call(port, '/scheduler/filter', fixture('filter-pd-nodenames.json'), next.clients['tidb-scheduler']);
  t.equal(trusted.status, 200, `new CA trusted: ${JSON.stringify(trusted.body)}`);
  t.equal((await call(port, '/scheduler/filter', fixture('filter-pd-nodenames.json'), callers.clients['tidb-scheduler'])).status, 200, 'old CA still trusted while both are in the bundle');
  writeFileSync(file, 'not a certificate');
  await new Promise((r) => setTimeout(r, 150));
  t.equal(changes, 1, 'an unusable CA file is not applied');
});
