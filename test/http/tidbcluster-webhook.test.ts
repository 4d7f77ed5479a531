// The TidbCluster validating webhook over the real Fastify app: a well-formed AdmissionReview for every
// body, the uid echoed, 422 Invalid with one cause per field path, warnings passed on, metrics counted.
import t from 'tap';
import { post, testApp } from './harness.ts';
import { TIDBCLUSTER_BODY_LIMIT } from '../../src/http/admission.ts';

const URL = '/admission/tidbclusters';
const volume = { storageClassName: 'fast', storageSize: '10Gi' };
const spec = { pd: { replicas: 3, ...volume }, tikv: { replicas: 3, ...volume }, tidb: { replicas: 2 } };

function review(opts: { uid?: string; operation?: string; name?: string; spec?: unknown; oldSpec?: unknown; kind?: string; resource?: string; subResource?: string } = {}) {
  const name = opts.name ?? 'basic';
  const obj = (s: unknown) => ({ apiVersion: 'tidb-steward.dev/v1alpha1', kind: 'TidbCluster', metadata: { name, namespace: 'db' }, spec: s });
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? 'tc-uid-1',
      kind: { group: 'tidb-steward.dev', version: 'v1alpha1', kind: opts.kind ?? 'TidbCluster' },
      resource: { group: 'tidb-steward.dev', version: 'v1alpha1', resource: opts.resource ?? 'tidbclusters' },
      ...(opts.subResource ? { subResource: opts.subResource } : {}),
      name,
      namespace: 'db',
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'alice' },
      object: obj(opts.spec ?? spec),
      oldObject: opts.operation === 'UPDATE' ? obj(opts.oldSpec ?? spec) : null,
      dryRun: false,
    },
  };
}

t.test('a valid TidbCluster is allowed; an even PD count carries the warning kubectl prints', async (t) => {
  const { app } = testApp();
  const ok = await app.inject(post(URL, review()));
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'tc-uid-1', allowed: true } });
  const even = (await app.inject(post(URL, review({ uid: 'tc-uid-2', spec: { ...spec, pd: { ...spec.pd, replicas: 4 } } })))).json().response;
  t.same(even, { uid: 'tc-uid-2', allowed: true, warnings: ['spec.pd.replicas is 4: an even number of PD members tolerates no more failures than 3'] });
});

t.test('an invalid TidbCluster: 422 Invalid, every error a cause with its field path', async (t) => {
  const { app, metrics } = testApp();
  const bad = review({ uid: 'bad-1', name: 'my.cluster', spec: { ...spec, pd: { ...spec.pd, storageSize: '0' }, tikv: { ...spec.tikv, storageSize: '0' } } });
  const res = await app.inject(post(URL, bad));
  t.equal(res.statusCode, 200);
  const r = res.json().response;
  t.equal(r.uid, 'bad-1');
  t.equal(r.allowed, false);
  t.equal(r.status.code, 422);
  t.equal(r.status.reason, 'Invalid');
  t.same(r.status.details, {
    name: 'my.cluster',
    group: 'tidb-steward.dev',
    kind: 'TidbCluster',
    causes: [
      { type: 'FieldValueInvalid', field: 'metadata.name', message: 'must be a DNS label: lower-case letters, digits and "-", starting with a letter' },
      { type: 'FieldValueInvalid', field: 'spec.pd.storageSize', message: 'must be greater than zero' },
      { type: 'FieldValueInvalid', field: 'spec.tikv.storageSize', message: 'must be greater than zero' },
    ],
  });
  t.match(r.status.message, /^tidb-steward: TidbCluster db\/my\.cluster is invalid: metadata\.name: .*; spec\.pd\.storageSize: must be greater than zero; spec\.tikv\.storageSize: must be greater than zero$/);
  t.match(await metrics.registry.metrics(), /tidb_steward_admission_requests_total\{webhook="tidbclusters",outcome="denied"\} 1/);
});

t.test('an UPDATE that shrinks storage or changes its class is refused as Forbidden causes', async (t) => {
  const { app } = testApp();
  const next = { ...spec, pd: { ...spec.pd, storageClassName: 'slow' }, tikv: { ...spec.tikv, storageSize: '5Gi' } };
  const r = (await app.inject(post(URL, review({ uid: 'up-1', operation: 'UPDATE', spec: next })))).json().response;
  t.equal(r.status.code, 422);
  t.same(r.status.details.causes.map((c: { type: string; field: string }) => [c.type, c.field]), [
    ['FieldValueForbidden', 'spec.pd.storageClassName'],
    ['FieldValueForbidden', 'spec.tikv.storageSize'],
  ]);
  // The stored cluster is refused by the reconciler (the shrink landed while no webhook ran): putting
  // the running size back must be possible.
  const stored = review({ uid: 'up-3', operation: 'UPDATE', spec, oldSpec: next });
  (stored.request.oldObject as Record<string, unknown>).status = { conditions: [{ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'x', lastTransitionTime: '2026-11-23T00:00:00Z' }] };
  t.match((await app.inject(post(URL, stored))).json().response, { uid: 'up-3', allowed: true, warnings: [/^the stored spec is refused by the reconciler/] });
  // A metadata-only update (the controller's finalizer) of the same spec passes.
  const same = (await app.inject(post(URL, review({ uid: 'up-2', operation: 'UPDATE', spec: next, oldSpec: next })))).json().response;
  t.same(same, { uid: 'up-2', allowed: true });
});

t.test('bad input: always a well-formed AdmissionReview on HTTP 200, uid echoed when it can be seen', async (t) => {
  const { app, metrics } = testApp({ bodyLimitBytes: 32 * 1024 });
  const huge = JSON.stringify({ ...review({ uid: 'big-1' }), pad: 'x'.repeat(TIDBCLUSTER_BODY_LIMIT) });
  const table: Array<{ name: string; req: ReturnType<typeof post>; code: number; uid: string }> = [
    { name: 'malformed JSON', req: post(URL, '{"kind":"AdmissionReview","request":{"uid":"m-1","kind":'), code: 400, uid: 'm-1' },
    { name: 'wrong content type', req: post(URL, JSON.stringify(review({ uid: 'ct-1' })), { 'content-type': 'text/yaml' }), code: 415, uid: 'ct-1' },
    { name: 'not an AdmissionReview', req: post(URL, { kind: 'TidbCluster', request: { uid: 'k-1' } }), code: 400, uid: 'k-1' },
    { name: 'missing request fields', req: post(URL, { kind: 'AdmissionReview', request: { uid: 'f-1' } }), code: 400, uid: 'f-1' },
    { name: 'body over the limit', req: post(URL, huge), code: 413, uid: '' },
  ];
  for (const row of table) {
    const res = await app.inject(row.req);
    t.equal(res.statusCode, 200, `${row.name}: HTTP 200`);
    const body = res.json();
    t.equal(body.kind, 'AdmissionReview', row.name);
    t.equal(body.apiVersion, 'admission.k8s.io/v1', row.name);
    t.equal(body.response.uid, row.uid, `${row.name}: uid echoed`);
    t.equal(body.response.allowed, false, row.name);
    t.equal(body.response.status.code, row.code, `${row.name}: code ${row.code}`);
    t.match(body.response.status.message, /^tidb-steward/, `${row.name}: says who answered`);
  }
  t.match(await metrics.registry.metrics(), /tidb_steward_admission_requests_total\{webhook="tidbclusters",outcome="invalid"\} 5/);
});

t.test('the route takes a TidbCluster update larger than the configured admission limit (two objects)', async (t) => {
  const { app } = testApp({ bodyLimitBytes: 32 * 1024 });
  const big = { ...spec, tikv: { ...spec.tikv, config: `# ${'x'.repeat(1024 * 1024)}\n` } };
  const r = (await app.inject(post(URL, review({ uid: 'cfg-1', operation: 'UPDATE', spec: big, oldSpec: big })))).json().response;
  t.same(r, { uid: 'cfg-1', allowed: true });
  const pods = (await app.inject(post('/admission/pods', JSON.stringify({ pad: 'x'.repeat(64 * 1024) })))).json().response;
  t.equal(pods.status.code, 413, 'the pods route keeps the configured limit');
});

t.test('wrong kind, resource or operation (misrouted by the webhook rules): allowed with a warning', async (t) => {
  const { app } = testApp();
  const rows = [
    review({ uid: 'w-1', kind: 'Pod', resource: 'pods', spec: { pd: { replicas: 0 } } }),
    review({ uid: 'w-2', subResource: 'status', spec: { pd: { replicas: 0 } } }),
    review({ uid: 'w-3', operation: 'DELETE', spec: { pd: { replicas: 0 } } }),
  ];
  for (const row of rows) {
    const r = (await app.inject(post(URL, row))).json().response;
    t.match(r, { uid: row.request.uid, allowed: true, warnings: [/^tidb-steward does not judge /] });
  }
});

t.test('without the drain service the TidbCluster route is still served', async (t) => {
  const { buildApp } = await import('../../src/http/app.ts');
  const { createMetrics } = await import('../../src/http/metrics.ts');
  const { silentLogger } = await import('../fakes.ts');
  const base = testApp();
  const app = buildApp({ logger: silentLogger, metrics: createMetrics({ defaultMetrics: false }), placement: base.placement, readiness: { pending: () => [] }, extenderBodyLimitBytes: 1 << 20 });
  t.same((await app.inject(post(URL, review()))).json().response, { uid: 'tc-uid-1', allowed: true });
  t.equal((await app.inject(post('/admission/pods', review()))).statusCode, 404);
});

t.test('property: mutated TidbCluster reviews always get a well-formed reply; a denial lists causes with paths', async (t) => {
  const fc = (await import('fast-check')).default;
  const { admissionFixture } = await import('./harness.ts');
  const { app } = testApp();
  const seeds = [admissionFixture('tidbcluster-create.json'), admissionFixture('tidbcluster-update-shrink.json')];
  const paths = ['request.uid', 'request.kind', 'request.operation', 'request.name', 'request.object', 'request.oldObject', 'request.object.spec', 'request.object.spec.pd', 'request.object.spec.pd.replicas', 'request.object.spec.tikv.storageSize', 'request.oldObject.spec.tikv.storageClassName', 'request.object.spec.pd.topologyKeys', 'request.object.metadata.name', 'kind'];
  const mutate = fc.record({
    path: fc.constantFrom(...paths),
    value: fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.string(), fc.boolean(), fc.array(fc.anything(), { maxLength: 3 }), fc.object({ maxDepth: 2 }), fc.constantFrom('0', '1Gi', '-1', 'v1.0.0')),
  });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(0, 1), fc.array(mutate, { minLength: 1, maxLength: 4 }), async (which, mutations) => {
      const body = structuredClone(seeds[which]!) as Record<string, unknown>;
      for (const { path, value } of mutations) {
        const keys = path.split('.');
        let target = body;
        for (const k of keys.slice(0, -1)) {
          if (typeof target[k] !== 'object' || target[k] === null) target[k] = {};
          target = target[k] as Record<string, unknown>;
        }
        target[keys.at(-1)!] = value;
      }
      const sent = JSON.parse(JSON.stringify(body));
      const res = await app.inject(post(URL, sent));
      if (res.statusCode !== 200) return false;
      const reply = res.json();
      if (reply.kind !== 'AdmissionReview' || typeof reply.response?.allowed !== 'boolean') return false;
      const sentUid = sent?.request?.uid;
      if (typeof sentUid === 'string' && reply.response.uid !== sentUid) return false;
      if (reply.response.allowed) return true;
      const status = reply.response.status;
      if (status.code === 422) return status.reason === 'Invalid' && status.details.causes.length > 0 && status.details.causes.every((c: { field: unknown; message: unknown }) => typeof c.field === 'string' && c.field !== '' && typeof c.message === 'string');
      return status.code === 400 && typeof status.message === 'string';
    }),
    { numRuns: 300 },
  );
  t.pass('300 mutated reviews answered well-formed');
  t.match((await app.inject(post(URL, seeds[1]))).json().response.status.details.causes, [{ type: 'FieldValueForbidden', field: 'spec.tikv.storageSize', message: /^cannot shrink from 100Gi to 50Gi/ }], 'the update fixture is refused for its shrink');
  t.same((await app.inject(post(URL, seeds[0]))).json().response, { uid: '7c0e2d4a-1f3b-4e5d-8a6c-000000000011', allowed: true }, 'the create fixture is allowed');
});
