// The webhook caBundle trusts every CA in use: set at start, a rotated CA added (the old one kept until
// nobody asserts it), re-asserted when someone overwrote it, an unusable file ignored; and replicas
// serving with different CAs converge on one bundle holding both instead of taking turns.
import t from 'tap';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ApiException } from '@kubernetes/client-node';
import { ANNOTATION_CA_ASSERTED, followCaBundle, injectCaBundle, type BundleTiming } from '../../src/k8s/webhooks.ts';
import { generateCertificates } from '../../src/tls/certs.ts';
import { silentLogger } from '../fakes.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The ValidatingWebhookConfiguration as the API server keeps it: replace checks the resourceVersion. */
function fakeAdmission(caBundle = 'old') {
  const vwc: any = { metadata: { name: 'tidb-steward', resourceVersion: '1' }, webhooks: ['pods', 'evictions', 'nodes'].map((n) => ({ name: `${n}.tidb-steward.dev`, clientConfig: { caBundle } })) };
  let replaces = 0;
  return {
    vwc,
    replaces: () => replaces,
    clients: {
      admission: {
        async readValidatingWebhookConfiguration() {
          return structuredClone(vwc);
        },
        async replaceValidatingWebhookConfiguration({ body }: { body: any }) {
          if (body.metadata.resourceVersion !== vwc.metadata.resourceVersion) throw new ApiException(409, 'Conflict', '{}', {});
          replaces++;
          vwc.webhooks = body.webhooks;
          vwc.metadata = { ...body.metadata, resourceVersion: String(Number(vwc.metadata.resourceVersion) + 1) };
          return body;
        },
      },
    } as any,
  };
}

const print = (pem: string) => new X509Certificate(pem).fingerprint256;
/** The fingerprints a caBundle holds, in order. */
const cas = (b64: string | undefined) => (Buffer.from(b64 ?? '', 'base64').toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(print);
const bundles = (vwc: any) => vwc.webhooks.map((w: any) => w.clientConfig.caBundle as string);
/** Every webhook holds exactly these CAs. */
const holds = (vwc: any, pems: string[]) => bundles(vwc).every((b: string) => JSON.stringify(cas(b)) === JSON.stringify(pems.map(print)));
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};
const newCa = async (opts: { now?: Date; days?: number } = {}) => (await generateCertificates({ dnsNames: ['x'], ipAddresses: [], ...opts })).caCert;
const TIMING: BundleTiming = { refreshMs: 1000, staleMs: 5000 };

t.test('caBundle set at start, a rotated CA added and the old one dropped once unused, re-asserted, an unusable file ignored', async (t) => {
  const [first, second] = [await newCa(), await newCa()];
  const dir = t.testdir({ 'ca.crt': first });
  const caFile = join(dir, 'ca.crt');
  const api = fakeAdmission();
  let now = Date.now();
  const stop = followCaBundle(api.clients, 'tidb-steward', first, silentLogger, { caFile, pollMs: 20, reassertMs: 50, now: () => now, timing: TIMING });
  t.teardown(stop);
  await until(() => holds(api.vwc, [first]));
  t.pass('set at start on every webhook');

  writeFileSync(caFile, second);
  await until(() => holds(api.vwc, [first, second]));
  t.pass('the rotated CA is added; the old one stays while it may still be in use');
  now += TIMING.staleMs + 1;
  await until(() => holds(api.vwc, [second]));
  t.pass('the old CA is dropped once nobody asserted it for staleMs');

  api.vwc.webhooks[1].clientConfig.caBundle = 'overwritten';
  await until(() => holds(api.vwc, [second]));
  t.pass('re-asserted after someone overwrote it');

  const replaces = api.replaces();
  writeFileSync(caFile, 'garbage');
  await new Promise((r) => setTimeout(r, 200));
  t.ok(holds(api.vwc, [second]), 'an unusable file is not put into the caBundle');
  t.equal(api.replaces(), replaces, 'and nothing is rewritten while the bundle is right');
});

t.test('two replicas with different CAs converge: the bundle stops changing and holds both', async (t) => {
  const [a, b] = [await newCa(), await newCa()];
  const api = fakeAdmission();
  const now = Date.now();
  const history: string[] = [];
  for (let round = 0; round < 8; round++) {
    await injectCaBundle(api.clients, 'tidb-steward', round % 2 === 0 ? a : b, silentLogger, { now: () => now, timing: TIMING });
    history.push(bundles(api.vwc).join('|'));
  }
  t.ok(holds(api.vwc, [a, b]), 'both CAs in every webhook');
  t.same(new Set(history.slice(1)).size, 1, `unchanged from the second round on (${api.replaces()} writes in 8 rounds)`);
  t.equal(api.replaces(), 2, 'one write per replica');

  // At the same instant: both read the same version, one write conflicts, is retried, and merges.
  const [c, d] = [await newCa(), await newCa()];
  const racing = fakeAdmission();
  await Promise.all([c, d].map((ca) => injectCaBundle(racing.clients, 'tidb-steward', ca, silentLogger, { now: () => now, timing: TIMING })));
  t.ok(holds(racing.vwc, [c, d]) || holds(racing.vwc, [d, c]), 'both CAs after a conflict');
});

t.test('any interleaving of replicas converges on every CA in use, and writes at most once per replica', async (t) => {
  const pool = await Promise.all([0, 1, 2].map(() => newCa()));
  const now = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 20 }), async (order) => {
      const api = fakeAdmission();
      for (const i of order) await injectCaBundle(api.clients, 'tidb-steward', pool[i]!, silentLogger, { now: () => now, timing: TIMING });
      const used = [...new Set(order)];
      const settled = bundles(api.vwc).join('|');
      for (const i of used) await injectCaBundle(api.clients, 'tidb-steward', pool[i]!, silentLogger, { now: () => now, timing: TIMING });
      return (
        holds(api.vwc, used.map((i) => pool[i]!)) && // in the order first asserted
        bundles(api.vwc).join('|') === settled && // another round changes nothing
        api.replaces() === used.length
      );
    }),
    { numRuns: 50 },
  );
  t.pass('converged in every interleaving');
});

t.test('expired and unreadable certificates are dropped; a valid CA someone else put there is kept; a gone replica\'s CA goes after staleMs', async (t) => {
  const [mine, theirs, foreign] = [await newCa(), await newCa(), await newCa()];
  const expired = await newCa({ now: new Date(Date.now() - 40 * 86_400_000), days: 1 });
  const b64 = (...pems: string[]) => Buffer.from(pems.join('\n')).toString('base64');
  const api = fakeAdmission(b64(expired, foreign, '-----BEGIN CERTIFICATE-----\nbm9uc2Vuc2U=\n-----END CERTIFICATE-----'));
  let now = Date.now();
  const inject = (ca: string) => injectCaBundle(api.clients, 'tidb-steward', ca, silentLogger, { now: () => now, timing: TIMING });
  await inject(mine);
  t.ok(holds(api.vwc, [foreign, mine]), 'the expired and the unreadable one dropped; the foreign one (put there by a person) kept');
  await inject(theirs);
  t.ok(holds(api.vwc, [foreign, mine, theirs]));
  t.same(Object.keys(JSON.parse(api.vwc.metadata.annotations[ANNOTATION_CA_ASSERTED])).sort(), [print(mine), print(theirs)].sort(), 'the CAs in use are recorded with when they were last asserted');
  // Only `mine` keeps running: it refreshes its time, `theirs` is not asserted any more.
  for (let i = 0; i < 6; i++) {
    now += TIMING.refreshMs;
    await inject(mine);
  }
  t.ok(holds(api.vwc, [foreign, mine]), 'the CA of the replica gone for staleMs is dropped; the foreign CA stays (nobody asserted it, nobody unasserted it)');
});
