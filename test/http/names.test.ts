// Our names under tidb-steward.dev; the escape hatch's first (PingCAP-domain) name still works, with a
// deprecation warning in the reply the person running kubectl sees.
import t from 'tap';
import { admissionFixture, post, testApp } from './harness.ts';
import { makeNode, makePod } from '../builders.ts';

const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode(n));
const pdPods = [0, 1, 2].map((i) => makePod(`basic-pd-${i}`).of('db', 'basic', 'pd').on(`n${i + 1}`).uid(`pd-uid-${i}`).view());

t.test('skip-drain-check under tidb-steward.dev, and under its deprecated name', async (t) => {
  const table: Array<[string, RegExp[]]> = [
    ['tidb-steward.dev/skip-drain-check', [/carries tidb-steward\.dev\/skip-drain-check=true/]],
    ['tidb-steward.pingcap.com/skip-drain-check', [/carries tidb-steward\.pingcap\.com\/skip-drain-check=true/, /tidb-steward\.pingcap\.com\/skip-drain-check is deprecated; use tidb-steward\.dev\/skip-drain-check=true/]],
  ];
  for (const [key, warnings] of table) {
    const { app, pd } = testApp({ nodes, pods: pdPods });
    const review = admissionFixture('pod-delete.json');
    review.request.oldObject.metadata.annotations = { [key]: 'true' };
    const res = (await app.inject(post('/admission/pods', review))).json().response;
    t.equal(res.allowed, true, `${key}: allowed without checks`);
    t.equal(res.warnings.length, warnings.length, `${key}: ${res.warnings.join(' | ')}`);
    warnings.forEach((w, i) => t.match(res.warnings[i], w));
    t.same(pd.transfers, [], 'no leader transfer');
  }
  const { app } = testApp({ nodes, pods: pdPods });
  const review = admissionFixture('pod-delete.json');
  review.request.oldObject.metadata.annotations = { 'tidb-steward.dev/skip-drain-check': 'yes' };
  t.equal((await app.inject(post('/admission/pods', review))).json().response.allowed, false, 'only "true" opens the hatch');
});
