// One test over real TLS: the HTTPS server the scheduler talks to, verified against our CA, and a
// certificate rotation picked up without a restart.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, Agent } from 'undici';
import { generateCertificates, reloadOnChange } from '../../src/tls/certs.ts';
import { fixture, testApp } from './harness.ts';
import { makePod } from '../builders.ts';

t.test('filter over HTTPS with keep-alive, and hot certificate rotation', async (t) => {
  const first = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const dir = t.testdir({ 'tls.crt': first.cert, 'tls.key': first.key });
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  const { app } = testApp({ tls: first, pods: [makePod('basic-pd-0').of('db', 'basic', 'pd').on('node-a').view()] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  let reloads = 0;
  const stop = reloadOnChange(app.server as never, files, first, { onReload: () => reloads++, onError: () => undefined, pollMs: 50 });
  t.teardown(stop);

  const call = async (ca: string) => {
    const agent = new Agent({ connect: { ca, servername: 'localhost' } });
    try {
      const res = await request(`https://127.0.0.1:${port}/scheduler/filter`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(fixture('filter-pd-nodenames.json')),
        dispatcher: agent,
      });
      return { status: res.statusCode, body: (await res.body.json()) as { NodeNames: string[] } };
    } finally {
      await agent.close();
    }
  };
  const res = await call(first.caCert);
  t.equal(res.status, 200);
  t.same(res.body.NodeNames, ['node-b', 'node-c']);

  const second = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(files.keyFile, second.key);
  writeFileSync(files.certFile, second.cert);
  const deadline = Date.now() + 5000;
  while (reloads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(reloads, 1, 'the new pair was loaded once');
  t.equal((await call(second.caCert)).status, 200, 'new connections get the rotated certificate');
  await t.rejects(call(first.caCert), 'the old CA no longer verifies the server');
});
