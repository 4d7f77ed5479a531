// PD over TLS (tlsCluster): the registry finds the cluster's client Secret, reaches PD over https with
// its certificate, and asks each member's own https endpoint for its health. The server requires a
// client certificate signed by the cluster's CA, as PD with tlsCluster does.
import t from 'tap';
import { createServer, type Server } from 'node:https';
import { generate } from 'selfsigned';
import { PdRegistry } from '../../src/pd/registry.ts';

async function pki() {
  const notBeforeDate = new Date(Date.now() - 3600_000);
  const notAfterDate = new Date(Date.now() + 86400_000);
  const base = { algorithm: 'sha256' as const, keyType: 'ec' as const, curve: 'P-256' as const, notBeforeDate, notAfterDate };
  const ca = await generate([{ name: 'commonName', value: 'tidb-cluster-ca' }], { ...base, extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true }] });
  const leaf = (cn: string, usage: { serverAuth?: boolean; clientAuth?: boolean }) =>
    generate([{ name: 'commonName', value: cn }], {
      ...base,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', ...usage }, { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
  const server = await leaf('pd', { serverAuth: true });
  const client = await leaf('tidb-steward', { clientAuth: true });
  const stranger = await generate([{ name: 'commonName', value: 'other-ca' }], base);
  return { ca: ca.cert, server, client, stranger };
}

t.test('PD over mutual TLS from the cluster client Secret', async (t) => {
  const p = await pki();
  const seen: string[] = [];
  let base = '';
  const server: Server = createServer({ key: p.server.private, cert: p.server.cert, ca: p.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push(`${req.method} ${req.url} ${(req.socket as unknown as { getPeerCertificate(): { subject?: { CN?: string } } }).getPeerCertificate().subject?.CN}`);
    res.setHeader('content-type', 'application/json');
    if (req.url === '/pd/api/v1/members') return res.end(JSON.stringify({ members: [{ name: 'tls-pd-0', member_id: 1, client_urls: [base] }], leader: { name: 'tls-pd-0' } }));
    if (req.url === '/pd/api/v1/ping') return res.end('');
    res.statusCode = 404;
    res.end('404 page not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  let secretReads = 0;
  let material: { ca: string; cert: string; key: string } | null = { ca: p.ca, cert: p.client.cert, key: p.client.private };
  const registry = new PdRegistry({
    overrides: { 'db/tls': [base] },
    timeoutMs: 2000,
    memberTimeoutMs: 2000,
    tlsFor: async (namespace, cluster) => {
      secretReads++;
      t.equal(`${namespace}/${cluster}`, 'db/tls');
      return material;
    },
    now: () => 0,
  });
  const pd = await registry.get('db', 'tls');
  const members = await pd.members();
  t.equal(members.members[0]?.name, 'tls-pd-0');
  t.same(await pd.memberHealth(members.members), [{ name: 'tls-pd-0', healthy: true }], 'the member answers its own https endpoint');
  t.match(seen, ['GET /pd/api/v1/members tidb-steward', 'GET /pd/api/v1/ping tidb-steward'], 'the client certificate was presented');
  t.equal(await registry.get('db', 'tls'), pd, 'one client per cluster while the Secret is unchanged');
  t.equal(secretReads, 1);

  // A client without the cluster's certificate is refused by PD: health checks fail, calls throw.
  material = { ca: p.ca, cert: p.stranger.cert, key: p.stranger.private };
  const other = new PdRegistry({ overrides: { 'db/tls': [base] }, timeoutMs: 2000, memberTimeoutMs: 500, tlsFor: async () => material, now: () => 0 });
  await t.rejects((await other.get('db', 'tls')).members(), /PD is unreachable/);
  // Without a Secret, plain http to the same https endpoint gets nowhere either.
  const plain = new PdRegistry({ overrides: { 'db/tls': [base.replace('https', 'http')] }, timeoutMs: 1000, memberTimeoutMs: 500, tlsFor: async () => null, now: () => 0 });
  await t.rejects((await plain.get('db', 'tls')).members());
});

t.test('without overrides the endpoint scheme follows the Secret', async (t) => {
  const reg = (tls: boolean) => new PdRegistry({ overrides: {}, timeoutMs: 100, memberTimeoutMs: 100, tlsFor: async () => (tls ? { ca: 'x', cert: 'y', key: 'z' } : null), now: () => 0 });
  t.same((await reg(false).get('db', 'basic')).endpoints, ['http://basic-pd.db.svc:2379']);
  t.same((await reg(true).get('db', 'basic')).endpoints, ['https://basic-pd.db.svc:2379']);
});
