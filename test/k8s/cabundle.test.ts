// The webhook caBundle follows the CA file: set at start, updated when the CA rotates, re-asserted
// when someone overwrote it, and left alone when the new file is not a certificate.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { followCaBundle } from '../../src/k8s/webhooks.ts';
import { generateCertificates } from '../../src/tls/certs.ts';
import { silentLogger } from '../fakes.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
function fakeAdmission() {
  const vwc = { metadata: { name: 'tidb-steward' }, webhooks: ['pods', 'evictions', 'nodes'].map((n) => ({ name: `${n}.tidb-steward.dev`, clientConfig: { caBundle: 'old' } })) };
  let replaces = 0;
  return {
    vwc,
    replaces: () => replaces,
    clients: {
      admission: {
        async readValidatingWebhookConfiguration() {
          return structuredClone(vwc);
        },
        async replaceValidatingWebhookConfiguration({ body }: { body: typeof vwc }) {
          replaces++;
          vwc.webhooks = body.webhooks;
          return body;
        },
      },
    } as any,
  };
}

const b64 = (pem: string) => Buffer.from(pem).toString('base64');
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

t.test('caBundle set at start, follows a rotated CA file, is re-asserted, ignores an unusable file', async (t) => {
  const first = (await generateCertificates({ dnsNames: ['x'], ipAddresses: [] })).caCert;
  const second = (await generateCertificates({ dnsNames: ['x'], ipAddresses: [] })).caCert;
  const dir = t.testdir({ 'ca.crt': first });
  const caFile = join(dir, 'ca.crt');
  const api = fakeAdmission();
  const stop = followCaBundle(api.clients, 'tidb-steward', first, silentLogger, { caFile, pollMs: 20, reassertMs: 50 });
  t.teardown(stop);
  await until(() => api.vwc.webhooks.every((w) => w.clientConfig.caBundle === b64(first)));
  t.pass('set at start on every webhook');

  writeFileSync(caFile, second);
  await until(() => api.vwc.webhooks.every((w) => w.clientConfig.caBundle === b64(second)));
  t.pass('follows the rotated CA file');

  api.vwc.webhooks[1]!.clientConfig.caBundle = 'overwritten';
  await until(() => api.vwc.webhooks[1]!.clientConfig.caBundle === b64(second));
  t.pass('re-asserted after someone overwrote it');

  const replaces = api.replaces();
  writeFileSync(caFile, 'garbage');
  await new Promise((r) => setTimeout(r, 200));
  t.ok(api.vwc.webhooks.every((w) => w.clientConfig.caBundle === b64(second)), 'an unusable file is not put into the caBundle');
  t.equal(api.replaces(), replaces, 'and nothing is rewritten while the bundle is right');
});
