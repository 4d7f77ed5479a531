import t from 'tap';
import fc from 'fast-check';
import { admissionFixture, post, testApp } from './harness.ts';
import { makeNode, makePod } from '../builders.ts';

const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n));
const pdPods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());

t.test('eviction of the PD leader: 429 TooManyRequests with retryAfterSeconds, uid echoed', async (t) => {
  const { app, pd } = testApp({ nodes, pods: pdPods });
  const res = await app.inject(post('/admission/pods', admissionFixture('pod-eviction.json')));
  t.equal(res.statusCode, 200);
  t.same(res.json(), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid: '0b6e2f5e-4d2c-4b1e-9c1a-000000000002',
      allowed: false,
      status: { code: 429, reason: 'TooManyRequests', message: 'db/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1', details: { retryAfterSeconds: 1 } },
    },
  });
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-1']);
  const again = await app.inject(post('/admission/pods', admissionFixture('pod-eviction.json')));
  t.same(again.json().response, { uid: '0b6e2f5e-4d2c-4b1e-9c1a-000000000002', allowed: true });
});

t.test('plain DELETE is judged from oldObject and gets the same answer', async (t) => {
  const { app } = testApp({ nodes, pods: pdPods });
  const res = await app.inject(post('/admission/pods', admissionFixture('pod-delete.json')));
  t.match(res.json().response, { uid: '0b6e2f5e-4d2c-4b1e-9c1a-000000000001', allowed: false, status: { code: 429, message: /transferring PD leader/ } });
});

t.test('node cordon is never refused and starts the hand-over in the background', async (t) => {
  const { app, pd } = testApp({ nodes, pods: pdPods });
  const res = await app.inject(post('/admission/nodes', admissionFixture('node-cordon.json')));
  t.same(res.json().response, { uid: '0b6e2f5e-4d2c-4b1e-9c1a-000000000003', allowed: true });
  await new Promise((r) => setTimeout(r, 20));
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-1']);
});

t.test('bad input: always a well-formed AdmissionReview on HTTP 200', async (t) => {
  const { app } = testApp({ nodes, pods: pdPods, bodyLimitBytes: 32 * 1024 });
  const table: Array<{ name: string; req: ReturnType<typeof post>; code: number; uid: string }> = [
    { name: 'not JSON', req: post('/admission/pods', '{"kind":'), code: 400, uid: '' },
    { name: 'wrong content type', req: post('/admission/pods', '<x/>', { 'content-type': 'application/xml' }), code: 415, uid: '' },
    { name: 'plain text', req: post('/admission/pods', 'x', { 'content-type': 'text/plain' }), code: 400, uid: '' },
    { name: 'huge body', req: post('/admission/pods', JSON.stringify({ pad: 'x'.repeat(64 * 1024) })), code: 413, uid: '' },
    { name: 'not an AdmissionReview', req: post('/admission/pods', { kind: 'Pod', request: { uid: 'u-1' } }), code: 400, uid: 'u-1' },
    { name: 'missing request fields', req: post('/admission/pods', { kind: 'AdmissionReview', request: { uid: 'u-2' } }), code: 400, uid: 'u-2' },
    // Found by the fuzz property below (seed 1854924113): the reply lost the uid.
    { name: 'a nested __proto__ key and a long uid', req: post('/admission/pods', `{"kind":{"":{"__proto__":0}},"request":{"uid":"${'u'.repeat(300)}"}}`), code: 400, uid: 'u'.repeat(300) },
  ];
  for (const row of table) {
    const res = await app.inject(row.req);
    t.equal(res.statusCode, 200, `${row.name}: HTTP 200`);
    const body = res.json();
    t.equal(body.kind, 'AdmissionReview', row.name);
    t.equal(body.response.uid, row.uid, `${row.name}: uid echoed`);
    t.equal(body.response.allowed, false);
    t.equal(body.response.status.code, row.code, `${row.name}: code ${row.code}`);
  }
  const unknown = admissionFixture('pod-delete.json');
  unknown.request.resource.resource = 'configmaps';
  t.match((await app.inject(post('/admission/pods', unknown))).json().response, { allowed: true, warnings: [/does not judge DELETE configmaps/] });
  const brokenNode = await app.inject(post('/admission/nodes', { kind: 'AdmissionReview', request: { uid: 'n-1' } }));
  t.match(brokenNode.json().response, { uid: 'n-1', allowed: true }, 'node updates are never refused');
});

t.test('fuzz: hostile AdmissionReview bodies always get a well-formed reply', async (t) => {
  const { app } = testApp({ nodes, pods: pdPods });
  const base = admissionFixture('pod-eviction.json');
  const mutate = fc.record({
    path: fc.constantFrom('request', 'request.uid', 'request.kind', 'request.resource', 'request.name', 'request.namespace', 'request.operation', 'request.object', 'request.oldObject', 'request.dryRun', 'request.subResource', 'kind', 'apiVersion'),
    value: fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.string(), fc.boolean(), fc.array(fc.anything(), { maxLength: 3 }), fc.object({ maxDepth: 2 }), fc.constant('x'.repeat(10_000))),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(mutate, { minLength: 1, maxLength: 4 }), fc.constantFrom('/admission/pods', '/admission/nodes'), async (mutations, url) => {
      const body = structuredClone(base);
      for (const { path, value } of mutations) {
        const keys = path.split('.');
        let target = body as Record<string, unknown>;
        for (const k of keys.slice(0, -1)) {
          if (typeof target[k] !== 'object' || target[k] === null) target[k] = {};
          target = target[k] as Record<string, unknown>;
        }
        target[keys.at(-1)!] = value;
      }
      // What is sent is the JSON text: properties JSON drops (e.g. on arrays) were never sent.
      const sent = JSON.parse(JSON.stringify(body) ?? 'null');
      const res = await app.inject(post(url, sent));
      if (res.statusCode !== 200) return false;
      const reply = res.json();
      if (reply.kind !== 'AdmissionReview' || reply.apiVersion !== 'admission.k8s.io/v1' && typeof reply.apiVersion !== 'string') return false;
      if (typeof reply.response?.allowed !== 'boolean' || typeof reply.response?.uid !== 'string') return false;
      const sentUid = (sent as { request?: { uid?: unknown } } | null)?.request?.uid;
      if (typeof sentUid === 'string' && reply.response.uid !== sentUid) return false;
      return reply.response.allowed || (reply.response.status?.code >= 400 && typeof reply.response.status?.message === 'string');
    }),
    { numRuns: 300 },
  );
  t.pass('300 mutated reviews answered well-formed');
  const raw = fc.sample(fc.oneof(fc.string(), fc.json(), fc.constant('\u0000'), fc.constant('[]'), fc.constant('null')), 100);
  for (const payload of raw) {
    const res = await app.inject(post('/admission/pods', payload));
    if (res.statusCode !== 200 || res.json().kind !== 'AdmissionReview') t.fail(`raw body ${JSON.stringify(payload).slice(0, 60)} got ${res.statusCode}`);
  }
  t.pass('100 raw bodies answered well-formed');
});

t.test('kubectl drain --dry-run=server: the dry run sits in the Eviction deleteOptions', async (t) => {
  const { app, pd } = testApp({ nodes, pods: pdPods });
  const review = admissionFixture('pod-eviction.json');
  review.request.object.deleteOptions = { dryRun: ['All'] };
  // The verdict a real eviction would get now (the leader must hand over first), with nothing done.
  t.match((await app.inject(post('/admission/pods', review))).json().response, {
    allowed: false,
    status: { code: 429, message: /basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1 \(dry run: nothing changed; a real removal would first move PD leadership from basic-pd-0 to basic-pd-1\)/ },
  });
  t.same(pd.writes(), [], 'no side effects');
});

t.test('payloads recorded from the real kube-apiserver v1.36 (eviction, delete, cordon)', async (t) => {
  const recordPods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('record', 'basic', 'pd').on(`n${i + 1}`).uid(`rec-${i}`).view());
  for (const name of ['recorded-pod-eviction.json', 'recorded-pod-delete.json']) {
    const { app } = testApp({ nodes, pods: recordPods });
    const review = admissionFixture(name);
    const res = (await app.inject(post('/admission/pods', review))).json();
    t.equal(res.response.uid, review.request.uid, `${name}: uid echoed`);
    t.match(res.response, { allowed: false, status: { code: 429, message: /record\/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1/ } }, name);
  }
  const cordon = admissionFixture('recorded-node-cordon.json');
  const { app } = testApp({ nodes, pods: recordPods });
  t.same((await app.inject(post('/admission/nodes', cordon))).json().response, { uid: cordon.request.uid, allowed: true });
});

t.test('each pod of a DeleteCollection is judged: its name comes from oldObject', async (t) => {
  const { app } = testApp({ nodes, pods: pdPods });
  const review = (uid: string, pod: string) => {
    const r = admissionFixture('pod-delete.json');
    r.request.uid = uid;
    r.request.name = '';
    r.request.oldObject.metadata.name = pod;
    r.request.oldObject.metadata.uid = `pd-uid-${pod.slice(-1)}`;
    return r;
  };
  const answers = [];
  for (const pod of ['basic-pd-1', 'basic-pd-2', 'basic-pd-0']) answers.push((await app.inject(post('/admission/pods', review(`dc-${pod}`, pod)))).json().response);
  t.same(answers.map((a) => a.allowed), [true, false, false], 'the first goes; the others wait for it');
  t.match(answers[1], { uid: 'dc-basic-pd-2', status: { code: 429, message: /db\/basic-pd-2 cannot go yet: .*waiting for basic-pd-1 \(delete allowed/ } });
});

t.test('a DeleteCollection review recorded from the real API server (no name) is judged by oldObject', async (t) => {
  const review = admissionFixture('recorded-pod-deletecollection.json');
  t.equal(review.request.name, undefined, 'the API server sends no name for a DeleteCollection item');
  const { namespace } = review.request;
  const pods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of(namespace, 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());
  const { app, pd } = testApp({ nodes, pods });
  const res = (await app.inject(post('/admission/pods', review))).json().response;
  t.match(res, { uid: review.request.uid, allowed: false, status: { code: 429, message: new RegExp(`${namespace}/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0`) } });
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-1'], 'judged like any removal of the PD leader');
});

t.test('eviction of the PD leader with a short transfer: held inside the call and allowed, no 429', async (t) => {
  const { app, pd, metrics } = testApp({ nodes, pods: pdPods, waitInCallMs: 2000 });
  pd.transferDelayMs = 300;
  const res = await app.inject(post('/admission/pods', admissionFixture('pod-eviction.json')));
  t.same(res.json().response, { uid: '0b6e2f5e-4d2c-4b1e-9c1a-000000000002', allowed: true });
  t.same(pd.writes(), ['POST /pd/api/v1/leader/transfer/basic-pd-1']);
  t.equal(pd.leader, 'basic-pd-1');
  const text = await metrics.registry.metrics();
  t.match(text, /tidb_steward_admission_requests_total\{webhook="pods",outcome="allowed"\} 1/);
  t.notMatch(text, /tidb_steward_admission_requests_total\{webhook="pods",outcome="denied"\} [1-9]/);
});
