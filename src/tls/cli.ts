// npm run certs -- [--out certs] [--dns name]... [--ip addr]...
// Writes a CA and a serving certificate for local runs and prints the CA as base64, ready for the
// scheduler's tlsConfig.caData and a webhook's caBundle; and a client CA with the client certificates
// the scheduler (extender calls) and the API server (webhook calls) present to tidb-steward (mTLS).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCertificates, generateClientCertificates } from './certs.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'certs' },
    dns: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    days: { type: 'string', default: '365' },
  },
});
const dnsNames = values.dns ?? ['tidb-steward', 'tidb-steward.tidb-steward', 'tidb-steward.tidb-steward.svc', 'localhost'];
const ipAddresses = values.ip ?? ['127.0.0.1'];
const out = resolve(values.out);
const certs = await generateCertificates({ dnsNames, ipAddresses, days: Number(values.days) });
const callers = await generateClientCertificates(['tidb-scheduler', 'kube-apiserver'], { days: Number(values.days) });
await mkdir(out, { recursive: true });
await Promise.all([
  writeFile(join(out, 'ca.crt'), certs.caCert),
  writeFile(join(out, 'ca.key'), certs.caKey, { mode: 0o600 }),
  writeFile(join(out, 'tls.crt'), certs.cert),
  writeFile(join(out, 'tls.key'), certs.key, { mode: 0o600 }),
  writeFile(join(out, 'client-ca.crt'), callers.caCert),
  writeFile(join(out, 'client-ca.key'), callers.caKey, { mode: 0o600 }),
  writeFile(join(out, 'scheduler-client.crt'), callers.clients['tidb-scheduler']!.cert),
  writeFile(join(out, 'scheduler-client.key'), callers.clients['tidb-scheduler']!.key, { mode: 0o600 }),
  writeFile(join(out, 'apiserver-client.crt'), callers.clients['kube-apiserver']!.cert),
  writeFile(join(out, 'apiserver-client.key'), callers.clients['kube-apiserver']!.key, { mode: 0o600 }),
]);
process.stdout.write(
  `wrote ${join(out, 'ca.crt')}, ca.key, tls.crt, tls.key (SANs: ${[...dnsNames, ...ipAddresses].join(', ')})\n` +
    `wrote client-ca.crt/.key, scheduler-client.crt/.key (for tidb-scheduler), apiserver-client.crt/.key (for the API server's webhook kubeconfig)\n` +
    `caData / caBundle:\n${Buffer.from(certs.caCert).toString('base64')}\n`,
);
