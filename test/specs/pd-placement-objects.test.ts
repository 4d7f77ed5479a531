// What the controller renders for PD placement: replication.location-labels in PD's config file, and
// the scale-out target on the PD StatefulSet (never on its pod template, which would roll every pod).
import t from 'tap';
import { configMapData, pdConfigFile, statefulSet } from '../../src/specs/objects.ts';
import { makeTc } from '../tidbcluster.ts';

const ZONE = 'topology.kubernetes.io/zone';
const REGION = 'topology.kubernetes.io/region';
const LABELS = ['zone', 'host'];
const ADDED = '# Added by tidb-steward: PD separates replicas by these store labels (set from the nodes\' labels).\n[replication]\nlocation-labels = ["zone", "host"]\n';

t.test('pdConfigFile table', async (t) => {
  const table: Array<[string, string, string]> = [
    ['an empty file', '', ADDED],
    ['other tables, no replication', '[schedule]\nleader-schedule-limit = 8\n', `[schedule]\nleader-schedule-limit = 8\n\n${ADDED}`],
    ['no final newline', 'lease = 3', `lease = 3\n\n${ADDED}`],
    ['a [replication] table: the key joins it', '[replication]\nmax-replicas = 5\n[schedule]\nx = 1\n', '[replication]\nlocation-labels = ["zone", "host"]\nmax-replicas = 5\n[schedule]\nx = 1\n'],
    ['a header with spaces and a comment', 'lease = 3\n  [ replication ]  # ours\nmax-replicas = 5\n', 'lease = 3\n  [ replication ]  # ours\nlocation-labels = ["zone", "host"]\nmax-replicas = 5\n'],
    ['the user\'s own location labels win', '[replication]\nlocation-labels = ["dc", "rack", "host"]\n', '[replication]\nlocation-labels = ["dc", "rack", "host"]\n'],
    ['the user\'s own, as a dotted key', 'replication.location-labels = ["dc"]\n', 'replication.location-labels = ["dc"]\n'],
    ['replication as dotted keys at the top: left as written', 'replication.max-replicas = 5\n[schedule]\nx = 1\n', 'replication.max-replicas = 5\n[schedule]\nx = 1\n'],
    ['replication as an inline table: left as written', 'replication = { max-replicas = 5 }\n', 'replication = { max-replicas = 5 }\n'],
    ['a [replication.x]-like name is not the table', '[replication-mode]\nreplication-mode = "majority"\n', `[replication-mode]\nreplication-mode = "majority"\n\n${ADDED}`],
  ];
  for (const [name, user, want] of table) {
    const out = pdConfigFile(user, LABELS);
    t.equal(out, want, name);
    t.ok((out.match(/^\s*\[\s*["']?replication["']?\s*\]/gm) ?? []).length <= 1, `${name}: one [replication] table at most`);
  }
  t.equal(pdConfigFile('lease = 3\n', []), 'lease = 3\n', 'no labels, nothing added');
});

t.test('PD\'s config file carries the cluster\'s location labels; TiKV\'s and TiDB\'s are the user\'s', async (t) => {
  const plain = makeTc('basic').obj();
  t.equal(configMapData(plain, 'pd', { replicas: 3 })['config-file'], ADDED);
  const zoned = makeTc('basic').spec({ pd: { replicas: 3, topologyKeys: [REGION, ZONE], config: '[log]\nlevel = "info"\n' }, tikv: { replicas: 3, config: '[raftstore]\n' } }).obj();
  t.equal(configMapData(zoned, 'pd', { replicas: 3 })['config-file'], '[log]\nlevel = "info"\n\n# Added by tidb-steward: PD separates replicas by these store labels (set from the nodes\' labels).\n[replication]\nlocation-labels = ["region", "zone", "host"]\n');
  t.equal(configMapData(zoned, 'tikv', { replicas: 3 })['config-file'], '[raftstore]\n');
  t.equal(configMapData(zoned, 'tidb', { replicas: 2 })['config-file'], '');
});

t.test('the labels tidb-steward adds do not roll PD: the hash is the user\'s file\'s', async (t) => {
  const hash = (x: ReturnType<ReturnType<typeof makeTc>['obj']>) => statefulSet(x, 'pd', { replicas: 3 }).spec.template.metadata.annotations['tidb-steward.dev/config-hash'];
  const plain = makeTc('basic').obj();
  const zoned = makeTc('basic').spec({ pd: { replicas: 3, topologyKeys: [REGION] } }).obj();
  t.equal(hash(zoned), hash(plain), 'topology keys change the added labels, not the hash');
  // The hash of an empty user file, as before location labels were added (pods of running clusters keep theirs).
  t.equal(hash(plain), '7de7efc538632f20', 'the PD hash in the snapshot before this change');
  const user = makeTc('basic').spec({ pd: { replicas: 3, config: '[log]\nlevel = "warn"\n' } }).obj();
  t.not(hash(user), hash(plain), 'the user\'s own change still rolls');
});

t.test('the PD StatefulSet carries the target count; its pod template does not change with it', async (t) => {
  const at = (replicas: number, planned: number) => statefulSet(makeTc('basic').spec({ pd: { replicas } }).obj(), 'pd', { replicas: planned });
  const step = at(5, 4);
  t.equal(step.metadata.annotations['tidb-steward.dev/pd-target-replicas'], '5');
  t.equal(step.metadata.annotations['tidb-steward.dev/template-hash'], at(3, 3).metadata.annotations['tidb-steward.dev/template-hash'], 'the template hash does not follow the count either');
  t.equal(step.spec.replicas, 4);
  t.same(at(3, 3).spec.template, step.spec.template, 'the same template at 3 → 3 and 5 → 4: scaling rolls nothing');
  t.notOk('tidb-steward.dev/pd-target-replicas' in step.spec.template.metadata.annotations);
  const tikv = statefulSet(makeTc('basic').obj(), 'tikv', { replicas: 3 });
  t.notOk('tidb-steward.dev/pd-target-replicas' in tikv.metadata.annotations, 'only PD has a step rule');
});
