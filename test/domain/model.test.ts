import t from 'tap';
import fc from 'fast-check';
import { ANNOTATION_SKIP_DRAIN_CHECK, DEPRECATED_SKIP_WARNING, LEGACY_ANNOTATION_SKIP_DRAIN_CHECK, skipDrainCheckOf, untoleratedTaints, MANAGERS, TIDB_SELECTOR, clusterKey, objectKey, tidbIdentity } from '../../src/domain/model.ts';

const C = 'app.kubernetes.io/component';
const I = 'app.kubernetes.io/instance';
const M = 'app.kubernetes.io/managed-by';

t.test('tidbIdentity: which pods are PD or TiKV members of a TiDB cluster', async (t) => {
  const table: Array<[string, Record<string, string> | null | undefined, ReturnType<typeof tidbIdentity>]> = [
    ['PD of tidb-steward', { [C]: 'pd', [I]: 'basic', [M]: 'tidb-steward' }, { namespace: 'db', cluster: 'basic', component: 'pd' }],
    ['TiKV of tidb-operator', { [C]: 'tikv', [I]: 'basic', [M]: 'tidb-operator' }, { namespace: 'db', cluster: 'basic', component: 'tikv' }],
    ['TiDB server is not guarded', { [C]: 'tidb', [I]: 'basic', [M]: 'tidb-steward' }, null],
    ['TiFlash is not guarded', { [C]: 'tiflash', [I]: 'basic', [M]: 'tidb-operator' }, null],
    ['no component', { [I]: 'basic', [M]: 'tidb-steward' }, null],
    ['no instance', { [C]: 'pd', [M]: 'tidb-steward' }, null],
    ['empty instance', { [C]: 'pd', [I]: '', [M]: 'tidb-steward' }, null],
    ['no manager', { [C]: 'pd', [I]: 'basic' }, null],
    ['another manager', { [C]: 'pd', [I]: 'basic', [M]: 'helm' }, null],
    ['empty manager', { [C]: 'pd', [I]: 'basic', [M]: '' }, null],
    ['a manager name that is an Object.prototype key', { [C]: 'pd', [I]: 'basic', [M]: 'constructor' }, null],
    ['no labels', {}, null],
    ['labels null', null, null],
    ['labels undefined', undefined, null],
  ];
  for (const [name, labels, want] of table) t.same(tidbIdentity('db', labels), want, name);
  t.same([...MANAGERS].sort(), ['tidb-operator', 'tidb-steward']);
});

t.test('keys and names other parts rely on', async (t) => {
  t.equal(clusterKey('db', 'basic'), 'db/basic');
  t.equal(objectKey('db', 'basic-pd-0'), 'db/basic-pd-0');
  t.equal(ANNOTATION_SKIP_DRAIN_CHECK, 'tidb-steward.dev/skip-drain-check', 'the README documents this key');
  t.equal(LEGACY_ANNOTATION_SKIP_DRAIN_CHECK, 'tidb-steward.pingcap.com/skip-drain-check', 'still read, with a warning');
  t.equal(TIDB_SELECTOR, 'app.kubernetes.io/component in (pd,tikv),app.kubernetes.io/managed-by in (tidb-steward,tidb-operator),app.kubernetes.io/instance');
});

// A small evaluator for the two selector forms used ("k in (a,b)" and "k" exists), written from the
// Kubernetes label-selector grammar, to check that the server-side filter never drops a member.
function selects(selector: string, labels: Record<string, string>): boolean {
  return selector.split(/,(?![^(]*\))/).every((req) => {
    const m = /^(\S+) in \(([^)]*)\)$/.exec(req);
    if (m) return Object.hasOwn(labels, m[1]!) && m[2]!.split(',').includes(labels[m[1]!]!);
    return Object.hasOwn(labels, req);
  });
}

t.test('property: the list/watch selector keeps every pod tidbIdentity accepts, and little else', async (t) => {
  const value = fc.constantFrom('pd', 'tikv', 'tidb', 'basic', '', 'tidb-steward', 'tidb-operator', 'helm');
  const labels = fc.record({ [C]: value, [I]: value, [M]: value, other: value }, { requiredKeys: [] });
  fc.assert(
    fc.property(labels, (l) => {
      const id = tidbIdentity('db', l);
      const matched = selects(TIDB_SELECTOR, l);
      if (id !== null && !matched) return false;
      if (matched && l[I] !== '' && id === null) return false;
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('selector ⊇ identity; they differ only on an empty instance label');
});

t.test('skipDrainCheckOf: the current key wins, only "true" counts', async (t) => {
  const table: Array<[Record<string, string> | null | undefined, 'current' | 'legacy' | null]> = [
    [{ 'tidb-steward.dev/skip-drain-check': 'true' }, 'current'],
    [{ 'tidb-steward.pingcap.com/skip-drain-check': 'true' }, 'legacy'],
    [{ 'tidb-steward.dev/skip-drain-check': 'true', 'tidb-steward.pingcap.com/skip-drain-check': 'true' }, 'current'],
    [{ 'tidb-steward.dev/skip-drain-check': 'false', 'tidb-steward.pingcap.com/skip-drain-check': 'yes' }, null],
    [{}, null],
    [null, null],
    [undefined, null],
  ];
  for (const [annotations, want] of table) t.equal(skipDrainCheckOf(annotations), want, JSON.stringify(annotations));
  t.equal(DEPRECATED_SKIP_WARNING, 'the annotation tidb-steward.pingcap.com/skip-drain-check is deprecated; use tidb-steward.dev/skip-drain-check=true');
});

t.test('untoleratedTaints: the scheduler\'s toleration rule for NoSchedule and NoExecute', async (t) => {
  const ns = { key: 'k', value: 'v', effect: 'NoSchedule' };
  const ne = { key: 'k', value: 'v', effect: 'NoExecute' };
  const pref = { key: 'k', value: 'v', effect: 'PreferNoSchedule' };
  const bare = { key: 'k', effect: 'NoSchedule' };
  const table: Array<[string, Parameters<typeof untoleratedTaints>[0], Parameters<typeof untoleratedTaints>[1], number]> = [
    ['no tolerations: NoSchedule and NoExecute count, PreferNoSchedule does not', [ns, ne, pref], [], 2],
    ['Equal with key and value tolerates every effect', [ns, ne], [{ key: 'k', value: 'v' }], 0],
    ['operator defaults to Equal', [ns], [{ key: 'k', operator: undefined, value: 'v' }], 0],
    ['Equal with another value does not', [ns], [{ key: 'k', operator: 'Equal', value: 'w' }], 1],
    ['Equal with another key does not', [ns], [{ key: 'j', operator: 'Equal', value: 'v' }], 1],
    ['Equal without a value matches a taint without one', [bare], [{ key: 'k', operator: 'Equal' }], 0],
    ['Equal with an empty value matches a taint without one', [bare], [{ key: 'k', value: '' }], 0],
    ['Equal without a value does not match a valued taint', [ns], [{ key: 'k' }], 1],
    ['Exists with the key tolerates any value', [ns], [{ key: 'k', operator: 'Exists' }], 0],
    ['Exists with another key does not', [ns], [{ key: 'j', operator: 'Exists' }], 1],
    ['Exists without a key tolerates everything', [ns, ne], [{ operator: 'Exists' }], 0],
    ['Exists with an empty key tolerates everything', [ns], [{ key: '', operator: 'Exists' }], 0],
    ['an effect limits the toleration', [ns, ne], [{ key: 'k', value: 'v', effect: 'NoExecute' }], 1],
    ['the matching effect tolerates', [ns], [{ key: 'k', value: 'v', effect: 'NoSchedule' }], 0],
    ['an empty effect is any effect', [ne], [{ key: 'k', value: 'v', effect: '' }], 0],
    ['Exists limited to another effect does not', [ns], [{ operator: 'Exists', effect: 'NoExecute' }], 1],
  ];
  for (const [name, taints, tolerations, left] of table) {
    const out = untoleratedTaints(taints, tolerations);
    t.equal(out.length, left, name);
    t.ok(out.every((x) => taints.includes(x)), `${name}: the taints themselves`);
  }
});
