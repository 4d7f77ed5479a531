// The TidbCluster admission decision: the reconciler's validation, plus the rules that compare an
// update with the stored spec. Tables of (operation, spec, old spec) → verdict, every violation with its path.
import t from 'tap';
import { reviewTidbCluster, type TidbClusterChange } from '../../src/domain/tidbcluster-admission.ts';
import { validateTidbCluster } from '../../src/cluster/validate.ts';

const volume = { storageClassName: 'fast', storageSize: '10Gi' };
const valid = { pd: { replicas: 3, ...volume }, tikv: { replicas: 3, ...volume, storageSize: '100Gi' }, tidb: { replicas: 2 } };
const withPd = (pd: Record<string, unknown>) => ({ ...valid, pd: { ...valid.pd, ...pd } });
const withTikv = (tikv: Record<string, unknown>) => ({ ...valid, tikv: { ...valid.tikv, ...tikv } });

const create = (spec: unknown, name = 'basic'): TidbClusterChange => ({ operation: 'CREATE', namespace: 'db', name, spec });
const update = (oldSpec: unknown, spec: unknown, name = 'basic'): TidbClusterChange => ({ operation: 'UPDATE', namespace: 'db', name, spec, oldSpec });

t.test('allowed: valid creates and safe updates', async (t) => {
  const rows: Array<[string, TidbClusterChange, string[]]> = [
    ['a valid cluster', create(valid), []],
    ['an empty spec (all defaults)', create({}), []],
    ['an even PD count is allowed with the reconciler\'s warning', create(withPd({ replicas: 4 })), ['spec.pd.replicas is 4: an even number of PD members tolerates no more failures than 3']],
    ['scale out and in', update(valid, { ...withTikv({ replicas: 5 }), tidb: { replicas: 0 } }), []],
    ['pause, suspend, version upgrade, config', update(valid, { ...valid, paused: true, suspend: true, version: 'v9.0.0', pd: { ...valid.pd, config: '[log]\nlevel = "warn"\n' } }), []],
    ['the same size written another way', update(valid, withPd({ storageSize: '10240Mi' })), []],
    ['the same size written PingCAP\'s way', update(valid, withPd({ storageSize: undefined, requests: { storage: '10Gi' } })), []],
    ['a storageVolumes mountPath moved', update(withTikv({ storageVolumes: [{ name: 'wal', storageSize: '5Gi', mountPath: '/a' }] }), withTikv({ storageVolumes: [{ name: 'wal', storageSize: '5Gi', mountPath: '/b' }] })), []],
    ['defaults written out are no change', update({ pd: { replicas: 3 }, tikv: { replicas: 3 } }, { pd: { replicas: 3, storageSize: '10Gi' }, tikv: { replicas: 3, storageSize: '100Gi' } }), []],
    ['metadata-only update of a cluster stored invalid (finalizers must still move)', update({ pd: { storageSize: '0' } }, { pd: { storageSize: '0' } }, 'bad.name'), []],
    ['an invalid stored spec has nothing to compare with', update({ pd: { storageSize: '0', storageClassName: 'slow' } }, withPd({ storageSize: '1Gi' })), []],
  ];
  for (const [name, change, warnings] of rows) {
    const v = reviewTidbCluster(change);
    t.equal(v.allowed, true, `${name}: ${v.reason}`);
    t.same(v.warnings, warnings, `${name}: warnings`);
    const unchanged = change.operation === 'UPDATE' && JSON.stringify(change.spec) === JSON.stringify(change.oldSpec);
    t.equal(v.reason, `TidbCluster db/${change.name}${unchanged ? ': the spec is unchanged' : ' is valid'}`, `${name}: reason`);
  }
});

t.test('refused: every violation with its field path', async (t) => {
  const rows: Array<[string, TidbClusterChange, Array<[string, 'FieldValueInvalid' | 'FieldValueForbidden', RegExp]>]> = [
    ['name not a DNS label, zero storage', create({ ...withPd({ storageSize: '0' }), tikv: { ...valid.tikv, storageSize: '0Gi' } }, 'my.cluster'), [
      ['metadata.name', 'FieldValueInvalid', /^must be a DNS label/],
      ['spec.pd.storageSize', 'FieldValueInvalid', /^must be greater than zero$/],
      ['spec.tikv.storageSize', 'FieldValueInvalid', /^must be greater than zero$/],
    ]],
    ['schema errors, all of them', create({ pd: { replicas: 0 }, tidb: { service: { type: 'External' } }, tikv: { storageSize: 'lots' } }), [
      ['spec.pd.replicas', 'FieldValueInvalid', /must be at least 1/],
      ['spec.tikv.storageSize', 'FieldValueInvalid', /must be a Kubernetes quantity/],
      ['spec.tidb.service.type', 'FieldValueInvalid', /Invalid option/],
    ]],
    ['requests above limits', create({ ...valid, tidb: { replicas: 1, requests: { memory: '8Gi' }, limits: { memory: '4Gi' } } }), [
      ['spec.tidb.requests.memory', 'FieldValueInvalid', /^must not exceed spec\.tidb\.limits\.memory \(8Gi > 4Gi\)$/],
    ]],
    ['an update is validated like a create', update(valid, withPd({ replicas: 0 })), [['spec.pd.replicas', 'FieldValueInvalid', /must be at least 1/]]],
    ['a create is always judged, even of an empty spec', { operation: 'CREATE', namespace: 'db', name: 'bad.name', spec: {}, oldSpec: {} }, [['metadata.name', 'FieldValueInvalid', /^must be a DNS label/]]],
    ['growing TiKV storage', update(valid, withTikv({ storageSize: '1Ti' })), [
      ['spec.tikv.storageSize', 'FieldValueForbidden', /^cannot grow from 100Gi to 1Ti: .*keep 100Gi and expand each PersistentVolumeClaim of the TiKV pods instead/],
    ]],
    ['growing TiKV storage written PingCAP\'s way (requests.storage)', update(valid, withTikv({ storageSize: undefined, requests: { storage: '1Ti' } })), [
      ['spec.tikv.storageSize', 'FieldValueForbidden', /^cannot grow from 100Gi to 1Ti/],
    ]],
    ['adding a storageVolumes entry to a running cluster', update(valid, withTikv({ storageVolumes: [{ name: 'wal', storageSize: '5Gi' }] })), [
      ['spec.tikv.storageVolumes', 'FieldValueForbidden', /^cannot add, remove, rename or resize storageVolumes of a running cluster/],
    ]],
    ['shrinking TiKV storage', update(valid, withTikv({ storageSize: '50Gi' })), [
      ['spec.tikv.storageSize', 'FieldValueForbidden', /^cannot shrink from 100Gi to 50Gi: a volume cannot be made smaller; put it back to 100Gi$/],
    ]],
    ['growing PD storage (not resized by tidb-steward)', update(valid, withPd({ storageSize: '20Gi' })), [
      ['spec.pd.storageSize', 'FieldValueForbidden', /^cannot grow from 10Gi to 20Gi: tidb-steward does not resize volumes .*expand each PersistentVolumeClaim of the PD pods/],
    ]],
    ['a default size made explicit and smaller', update({}, { tikv: { storageSize: '50Gi' } }), [
      ['spec.tikv.storageSize', 'FieldValueForbidden', /^cannot shrink from 100Gi to 50Gi/],
    ]],
    ['changing, setting and clearing storage classes', update(valid, { ...withPd({ storageClassName: 'slow' }), tikv: { replicas: 3, storageSize: '100Gi' } }), [
      ['spec.pd.storageClassName', 'FieldValueForbidden', /^cannot change from "fast" to "slow": existing volumes keep their StorageClass/],
      ['spec.tikv.storageClassName', 'FieldValueForbidden', /^cannot change from "fast" to the cluster default:/],
    ]],
    ['from the default class to a named one', update({}, { pd: { storageClassName: 'fast' } }), [
      ['spec.pd.storageClassName', 'FieldValueForbidden', /^cannot change from the cluster default to "fast"/],
    ]],
    ['transition rules wait for a valid spec (no comparison with an invalid one)', update(valid, { ...withPd({ storageSize: '1Gi' }), tidb: { replicas: -1 } }), [
      ['spec.tidb.replicas', 'FieldValueInvalid', /Too small/],
    ]],
  ];
  for (const [name, change, want] of rows) {
    const v = reviewTidbCluster(change);
    if (!t.equal(v.allowed, false, name) || v.allowed) continue;
    t.same(v.violations.map((x) => [x.path, x.type]), want.map(([p, ty]) => [p, ty]), `${name}: paths and types`);
    for (const [i, [, , message]] of want.entries()) t.match(v.violations[i]?.message, message, `${name}: ${want[i]![0]}`);
    t.equal(v.reason, `TidbCluster db/${change.name} is invalid: ${v.violations.map((x) => `${x.path}: ${x.message}`).join('; ')}`, `${name}: reason lists every error`);
    t.same(v.warnings, [], `${name}: no warnings`);
  }
});

t.test('the webhook and the reconciler agree on validity (same validation)', async (t) => {
  const specs: unknown[] = [valid, {}, withPd({ replicas: 0 }), withPd({ storageSize: '0' }), { tikv: { limits: { cpu: '1' }, requests: { cpu: '2' } } }, { version: '8.5' }, { extra: true }, null];
  for (const spec of specs) {
    const reconciler = validateTidbCluster('basic', spec);
    const webhook = reviewTidbCluster(create(spec));
    t.equal(webhook.allowed, reconciler.ok, JSON.stringify(spec));
    if (!reconciler.ok && !webhook.allowed) t.same(webhook.violations.map((v) => ({ path: v.path, message: v.message })), reconciler.errors);
  }
});

t.test('the reconciler\'s re-check: the running claim templates stand for the previous spec', async (t) => {
  const { runningVolumeViolations } = await import('../../src/domain/tidbcluster-admission.ts');
  const spec = (input: unknown) => {
    const v = validateTidbCluster('basic', input);
    if (!v.ok) throw new Error('invalid');
    return v.spec;
  };
  const s = spec(valid);
  const rows: Array<[string, Parameters<typeof runningVolumeViolations>[1], string[]]> = [
    ['nothing running yet', {}, []],
    ['StatefulSets without a claim template (unknown)', { pd: null, tikv: {} }, []],
    ['the same storage', { pd: { storageClassName: 'fast', storageSize: '10Gi' }, tikv: { storageClassName: 'fast', storageSize: '100Gi' } }, []],
    ['the same size written another way', { pd: { storageClassName: 'fast', storageSize: '10240Mi' } }, []],
    ['TiKV shrunk', { tikv: { storageClassName: 'fast', storageSize: '200Gi' } }, ['spec.tikv.storageSize']],
    ['PD grown', { pd: { storageClassName: 'fast', storageSize: '1Gi' } }, ['spec.pd.storageSize']],
    ['created in the default class, now named', { pd: { storageSize: '10Gi' } }, ['spec.pd.storageClassName']],
    ['another class', { tikv: { storageClassName: 'slow', storageSize: '100Gi' } }, ['spec.tikv.storageClassName']],
  ];
  for (const [name, running, paths] of rows) t.same(runningVolumeViolations(s, running).map((v) => v.path), paths, name);
  t.match(runningVolumeViolations(s, { tikv: { storageClassName: 'fast', storageSize: '200Gi' } })[0]?.message, /^cannot shrink from 200Gi to 100Gi/);
});

t.test('a stored spec the reconciler refuses is no baseline: storage rules are left to the reconciler, validity is not', async (t) => {
  const putBack = reviewTidbCluster({ ...update(withTikv({ storageSize: '50Gi' }), valid), storedRefused: true });
  t.equal(putBack.allowed, true, 'putting the running size back is possible');
  t.same(putBack.warnings, ['the stored spec is refused by the reconciler (Ready=False InvalidSpec), so storage changes are checked by the reconciler against the running StatefulSets, not here']);
  const stillInvalid = reviewTidbCluster({ ...update(valid, withPd({ replicas: 0 })), storedRefused: true });
  t.equal(stillInvalid.allowed, false, 'an invalid spec is refused all the same');
  t.same(stillInvalid.warnings, [], 'and says nothing about storage');
  const created = reviewTidbCluster({ ...create(valid), oldSpec: withTikv({ storageSize: '1Ti' }), storedRefused: true });
  t.same([created.allowed, created.warnings], [true, []], 'a create has no stored spec to speak of');
  t.equal(reviewTidbCluster({ ...update(valid, withTikv({ storageSize: '50Gi' })), storedRefused: false }).allowed, false);
});
