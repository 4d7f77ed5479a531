// The TidbCluster validating webhook on the real control plane: kube-apiserver calls tidb-steward for
// TidbCluster CREATE and UPDATE, and kubectl prints every refused field with its path. The errors used
// here pass the CRD's own schema and CEL rules (the API server checks those first), so only the
// webhook can refuse them.
import t from 'tap';
import { ensureUp } from './cluster.ts';
import { kubectl, kubectlOk, namespace, until } from './helpers.ts';
import { condition, getTc, installCrd, tidbCluster } from './tc-helpers.ts';

t.setTimeout(300_000);
const NS = 'e2e-tcwh';

t.before(async () => {
  await ensureUp();
  await installCrd();
  const cleanup = await namespace(NS);
  t.teardown(cleanup);
});

// Paused: the controller adds its finalizer and reports status, and creates nothing.
const manifest = (name: string, spec: Record<string, unknown> = {}) => tidbCluster(NS, name, { paused: true, ...spec });

t.test('kubectl apply of an invalid TidbCluster is refused with every error and its field path', async (t) => {
  const r = await kubectl(['apply', '-f', '-'], { input: manifest('my.cluster', { pd: { storageSize: '0' }, tikv: { storageSize: '0Gi' } }) });
  t.comment(r.stderr.trim());
  t.not(r.code, 0, 'refused');
  t.match(r.stderr, 'The TidbCluster "my.cluster" is invalid');
  t.match(r.stderr, '* metadata.name: must be a DNS label: lower-case letters, digits and "-", starting with a letter');
  t.match(r.stderr, '* spec.pd.storageSize: must be greater than zero');
  t.match(r.stderr, '* spec.tikv.storageSize: must be greater than zero');
  t.not((await kubectl(['get', 'tc', '-n', NS, 'my.cluster'])).code, 0, 'nothing was stored');
});

t.test('a valid TidbCluster is accepted; an even PD count with the warning', async (t) => {
  const r = await kubectl(['apply', '-f', '-'], { input: manifest('web', { pd: { replicas: 4 } }) });
  t.equal(r.code, 0, `accepted: ${r.stderr}`);
  t.match(r.stdout, 'tidbcluster.tidb-steward.dev/web created');
  t.match(r.stderr, 'Warning: spec.pd.replicas is 4: an even number of PD members tolerates no more failures than 3');
  // The controller's metadata-only update (its finalizer) is not held up by the webhook.
  await until('the controller\'s finalizer on the cluster', async () => (await kubectlOk(['get', 'tc', '-n', NS, 'web', '-o', 'jsonpath={.metadata.finalizers}'])).includes('tidb-steward.dev'), 60_000);
  const scaled = await kubectl(['apply', '-f', '-'], { input: manifest('web', { pd: { replicas: 5 }, tidb: { replicas: 3 } }) });
  t.equal(scaled.code, 0, `a scale-out is accepted: ${scaled.stderr}`);
  t.equal(scaled.stderr.trim(), '', 'without a warning at 5 PD members');
});

t.test('an update that shrinks storage or changes its class is refused, naming both fields', async (t) => {
  const r = await kubectl(['apply', '-f', '-'], { input: manifest('web', { pd: { replicas: 5, storageClassName: 'another-class' }, tikv: { storageSize: '512Mi' }, tidb: { replicas: 3 } }) });
  t.comment(r.stderr.trim());
  t.not(r.code, 0, 'refused');
  t.match(r.stderr, 'The TidbCluster "web" is invalid');
  t.match(r.stderr, '* spec.pd.storageClassName: cannot change from "e2e-local" to "another-class": existing volumes keep their StorageClass');
  t.match(r.stderr, '* spec.tikv.storageSize: cannot shrink from 1Gi to 512Mi: a volume cannot be made smaller; put it back to 1Gi');
  const stored = JSON.parse(await kubectlOk(['get', 'tc', '-n', NS, 'web', '-o', 'json']));
  t.same([stored.spec.pd.storageClassName, stored.spec.tikv.storageSize], ['e2e-local', '1Gi'], 'the stored spec is unchanged');
  const merge = await kubectl(['patch', 'tc', '-n', NS, 'web', '--type=merge', '-p', '{"spec":{"tikv":{"storageSize":"2Gi"}}}']);
  t.not(merge.code, 0, 'a patch is judged the same way');
  t.match(merge.stderr, 'spec.tikv.storageSize: cannot grow from 1Gi to 2Gi: tidb-steward does not resize volumes');
  t.equal((await kubectl(['label', 'tc', '-n', NS, 'web', 'team=db'])).code, 0, 'a label change (spec untouched) passes');
});

t.test('with the webhook gone, the reconciler refuses the same change; putting it back is allowed again', async (t) => {
  // Not paused: the reconciler creates the PD StatefulSet, whose claim template it compares with.
  await kubectlOk(['apply', '-f', '-'], tidbCluster(NS, 'solo', { tikv: { replicas: 1 }, tidb: { replicas: 0 } }));
  await until('the PD StatefulSet', async () => (await kubectl(['get', 'statefulset', '-n', NS, 'solo-pd'])).code === 0, 60_000);
  const vwc = JSON.parse(await kubectlOk(['get', 'validatingwebhookconfiguration', 'tidb-steward', '-o', 'json']));
  const at = vwc.webhooks.findIndex((w: { name: string }) => w.name === 'tidbclusters.tidb-steward.dev');
  t.ok(at >= 0, 'the webhook is registered');
  const entry = vwc.webhooks[at];
  await kubectlOk(['patch', 'validatingwebhookconfiguration', 'tidb-steward', '--type=json', '-p', JSON.stringify([{ op: 'test', path: `/webhooks/${at}/name`, value: entry.name }, { op: 'remove', path: `/webhooks/${at}` }])]);
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    await kubectlOk(['patch', 'validatingwebhookconfiguration', 'tidb-steward', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/webhooks/-', value: entry }])]);
  };
  t.teardown(restore);
  const shrink = JSON.stringify({ spec: { pd: { storageSize: '512Mi' } } });
  // The API server picks the configuration change up within moments.
  await until('the shrink stored, no webhook judging it', async () => (await kubectl(['patch', 'tc', '-n', NS, 'solo', '--type=merge', '-p', shrink])).code === 0, 30_000);
  const ready = await until('Ready=False InvalidSpec from the reconciler', async () => {
    const tc = await getTc(NS, 'solo');
    const c = condition(tc, 'Ready');
    return c?.reason === 'InvalidSpec' && c.observedGeneration === tc.metadata.generation ? c : null;
  }, 60_000);
  t.match(ready.message, 'spec.pd.storageSize: cannot shrink from 1Gi to 512Mi: a volume cannot be made smaller; put it back to 1Gi');
  const sts = JSON.parse(await kubectlOk(['get', 'statefulset', '-n', NS, 'solo-pd', '-o', 'json']));
  t.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '1Gi', 'the StatefulSet is untouched');
  await restore();
  const back = await until('putting 1Gi back is allowed (the stored spec is refused, so it is no baseline)', async () => {
    const r = await kubectl(['patch', 'tc', '-n', NS, 'solo', '--type=merge', '-p', JSON.stringify({ spec: { pd: { storageSize: '1Gi' } } })]);
    return r.code === 0 && /stored spec is refused by the reconciler/.test(r.stderr) ? r : null;
  }, 30_000);
  t.match(back.stderr, 'Warning: the stored spec is refused by the reconciler');
  await until('the reconciler takes the cluster up again', async () => condition(await getTc(NS, 'solo'), 'Ready')?.reason !== 'InvalidSpec', 60_000);
});

t.test('the webhook answered (its metric counted the replies)', async (t) => {
  const { PORTS } = await import('../cluster/controlplane.ts');
  const { request } = await import('node:https');
  const body = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port: PORTS.steward, path: '/metrics', rejectUnauthorized: false }, (res) => {
      let s = '';
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve(s));
    }).on('error', reject).end();
  });
  const count = (outcome: string) => Number(new RegExp(`tidb_steward_admission_requests_total\\{webhook="tidbclusters",outcome="${outcome}"\\} (\\d+)`).exec(body)?.[1] ?? 0);
  t.ok(count('denied') >= 3, `denied ${count('denied')}`);
  t.ok(count('allowed') >= 2, `allowed ${count('allowed')}`);
});
