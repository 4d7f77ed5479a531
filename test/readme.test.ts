// The README and docs/ are held to the code: the configuration table to the config schema, the metrics
// table to the registry, quoted messages to what the policy prints, the layout to the tree.
import { missingFact } from '../src/pd/facts.ts';
import { decideUpdate } from '../src/domain/update.ts';
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { ConfigSchema, SETTINGS, loadConfig } from '../src/config.ts';
import { createMetrics } from '../src/http/metrics.ts';
import { decidePdRemoval, decideTikvRemoval } from '../src/domain/drain.ts';
import { filterNodes, maxPerDomain, planPlacement } from '../src/domain/placement.ts';
import { reviewTidbCluster } from '../src/domain/tidbcluster-admission.ts';
import type { TidbIdentity } from '../src/domain/model.ts';
import { makeNode, nodeStore } from './builders.ts';

// The README and the pages under docs/ read as one text: what moved to docs/ is held to the code the same way.
const DOCS_DIR = new URL('../docs/', import.meta.url);
const README = [readFileSync(new URL('../README.md', import.meta.url), 'utf8'), ...readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md')).sort().map((f) => readFileSync(new URL(f, DOCS_DIR), 'utf8'))].join('\n');
const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** Rows of the first Markdown table after the heading. */
function table(heading: string): string[][] {
  const at = README.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no heading ${heading}`);
  const lines = README.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows;
}

t.test('configuration table: the same flags, variables and defaults as the config schema', async (t) => {
  const rows = table('## Configuration');
  const flags = rows.flatMap((r) => backticked(r[0]!));
  const envs = rows.flatMap((r) => backticked(r[1]!));
  t.same([...flags].sort(), SETTINGS.map((s) => s.flag).sort(), 'every flag, no other');
  t.same([...envs].sort(), SETTINGS.map((s) => s.env).sort(), 'every variable, no other');
  const defaults = loadConfig([], {});
  t.same(Object.keys(ConfigSchema.shape).sort(), SETTINGS.map((s) => s.field).sort(), 'SETTINGS covers the schema');
  for (const row of rows) {
    for (const [i, flag] of backticked(row[0]!).entries()) {
      const setting = SETTINGS.find((s) => s.flag === flag)!;
      t.equal(backticked(row[1]!)[i], setting.env, `${flag} is read from ${setting.env}`);
      const value = defaults[setting.field];
      const cell = row[2]!;
      if (cell === 'none' || cell === 'in-cluster') {
        t.ok(value === undefined || (typeof value === 'object' && Object.keys(value).length === 0), `${flag} has no default`);
      } else if (/^`[^`]+`$/.test(cell)) {
        t.equal(Array.isArray(value) ? value.join(',') : String(value), backticked(cell)[0], `${flag} default`);
      } else {
        // Described in words (a list of names): each name given must be in the default.
        for (const name of backticked(cell)) t.ok((value as string[]).includes(name), `${flag} default includes ${name}`);
      }
    }
  }
});

t.test('metrics table: the registry\'s metrics, label names and label values', async (t) => {
  const rows = table('## Metrics');
  const registry = createMetrics({ defaultMetrics: false }).registry;
  const metrics = registry.getMetricsAsArray() as unknown as Array<{ name: string; labelNames: string[] }>;
  t.same(rows.map((r) => backticked(r[0]!)[0]).sort(), metrics.map((m) => m.name).sort(), 'every metric, no other');
  const src = readdirSync(new URL('../src', import.meta.url), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(`${e.parentPath}/${e.name}`, 'utf8'))
    .join('\n');
  for (const row of rows) {
    const name = backticked(row[0]!)[0]!;
    // `label` (`v1`, `v2`), `label2`: names stand outside parentheses, values inside.
    const cell = row[1]!;
    const names = backticked(cell.replace(/\([^)]*\)/g, ''));
    t.same(names, metrics.find((m) => m.name === name)!.labelNames, `${name} labels`);
    for (const [, values] of cell.matchAll(/\(([^)]*)\)/g)) {
      for (const v of backticked(values!)) t.match(src, new RegExp(`['"\`]${v}['"\`]|\\b${v}:`), `${name}: value ${v} is one the code emits`);
    }
  }
});

t.test('quoted messages are the ones the policy prints', async (t) => {
  const quote = (s: string) => {
    // The README wraps lines inside backticks; compare with single spaces.
    const flat = README.replace(/\s+/g, ' ');
    t.ok(flat.includes(s), `README quotes: ${s}`);
  };
  const pd: TidbIdentity = { namespace: 'db', cluster: 'basic', component: 'pd' };
  const nodes = [makeNode('node-a', { 'topology.kubernetes.io/zone': 'zone-a' }), makeNode('node-d', { 'topology.kubernetes.io/zone': 'zone-a' })];
  const byHost = filterNodes(planPlacement({ identity: pd, replicas: 3, peerNodes: ['node-a'] }, ['kubernetes.io/hostname'], nodeStore(nodes)), ['node-a'], nodeStore(nodes));
  quote(`\`${byHost.refused['node-a']}\``);
  const byZone = filterNodes(planPlacement({ identity: pd, replicas: 3, peerNodes: ['node-a'] }, ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'], nodeStore(nodes)), ['node-d'], nodeStore(nodes));
  t.match(byZone.refused['node-d'], /^topology\.kubernetes\.io\/zone=zone-a \(node node-d\) already holds 1 of 3 PD members /);
  quote('`topology.kubernetes.io/zone=zone-a (node node-d) already holds 1 of 3 PD members ...`');
  const m = (name: string, healthy = true) => ({ name, healthy, canLead: true });
  quote(`\`${decidePdRemoval('basic-pd-1', { members: [m('basic-pd-0'), m('basic-pd-1'), m('basic-pd-2', false)], leader: 'basic-pd-0' }).reason}\``);
  quote(`\`${decidePdRemoval('basic-pd-0', { members: [m('basic-pd-0'), m('basic-pd-1'), m('basic-pd-2')], leader: 'basic-pd-0' }).reason}\``);
  const tikv = decideTikvRemoval('basic-tikv-0', { store: { id: '4', stateName: 'Up', leaderCount: 12, regionCount: 30 }, evicting: true, evictionBeganAt: 0 }, { evictTimeoutMs: 600_000, now: 10_000 });
  quote(`\`${tikv.reason}\``);
  const stuck = decideUpdate({
    component: 'tikv',
    sts: { replicas: 3, partition: 2, currentRevision: 'basic-tikv-5c4b', updateRevision: 'basic-tikv-6d5f', observed: true },
    pods: [0, 1, 2].map((i) => ({ name: `basic-tikv-${i}`, ordinal: i, revision: i === 2 ? 'basic-tikv-6d5f' : 'basic-tikv-5c4b', running: true, ready: i !== 2, deleting: false, createdAt: 0 })),
    stores: [0, 1, 2].map((i) => ({ id: String(i + 1), pod: `basic-tikv-${i}`, state: 'Up', leaderCount: 10, regionCount: 30 })),
    evicting: [],
    ledger: { leaving: [], evictions: [] },
    now: 600_000,
    policy: { evictTimeoutMs: 600_000, readyTimeoutMs: 600_000, leaderReturnMs: 60_000 },
  });
  t.equal(stuck.act.type, 'stuck');
  quote(`${stuck.act.reason}\n`.replace(/\s+$/, ''));
  // The service wraps each reason as "<ns>/<pod> cannot go yet: <reason>"; PD errors likewise.
  const service = readFileSync(new URL('../src/services/drain.ts', import.meta.url), 'utf8');
  t.match(service, '`${key} cannot go yet: cannot check it with PD of cluster ${pod.namespace}/${pod.cluster}: ${e.message}; will retry`');
  const unknownMembers = missingFact({ at: 0, members: null, leader: null, stores: [], evicting: [], maxReplicas: 3, regionChecks: new Map(), locationLabels: [], unknown: { members: 'PD is unreachable (...)' } }, ['members']);
  quote(`\`db/basic-pd-1 cannot go yet: cannot check it with PD of cluster db/basic: ${unknownMembers}; will retry\``);
  quote('`db/basic-pd-0 cannot go yet: transferring PD leader from basic-pd-0 to basic-pd-1`');
});

t.test('the TidbCluster webhook example is what the decision says', async (t) => {
  const v = reviewTidbCluster({ operation: 'CREATE', namespace: 'db', name: 'my.cluster', spec: { pd: { storageSize: '0' } } });
  if (v.allowed) return t.fail('refused');
  t.match(README, 'The TidbCluster "my.cluster" is invalid:\n');
  for (const x of v.violations) t.match(README, `\n* ${x.path}: ${x.message}\n`, x.path);
});

t.test('the placement table is the rule', async (t) => {
  const row = table('## How placement works');
  t.same(row[0]!.slice(1).map(Number), [1, 2, 3, 4, 5, 6, 7].map((n) => maxPerDomain('pd', n, 0)));
});

t.test('layout names every source directory and file at the top of src/', async (t) => {
  const at = README.indexOf('## Layout');
  const layout = README.slice(at);
  const entries = readdirSync(new URL('../src', import.meta.url), { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
  for (const e of entries) t.match(layout, new RegExp(`^  ${e.replace('.', '\\.')}\\s`, 'm'), `layout lists src/${e}`);
  const listed = [...layout.matchAll(/^  ([a-z0-9]+(?:\/|\.ts))\s/gm)].map((m) => m[1]);
  t.same(listed.sort(), entries.sort(), 'and nothing that is not there');
  for (const dir of ['test', 'manifests', 'certs']) t.match(layout, new RegExp(`^${dir}/`, 'm'));
});

t.test('events table: the reasons and types the drain path records', async (t) => {
  const rows = table('### Events').map((r) => `${backticked(r[0]!)[0]} ${backticked(r[1]!)[0]}`);
  const emitted = new Set<string>();
  for (const e of readdirSync(new URL('../src', import.meta.url), { recursive: true, withFileTypes: true })) {
    // The controller's Events (on the TidbCluster) are described in its own section.
    if (!e.isFile() || !e.name.endsWith('.ts') || e.parentPath.includes('controller')) continue;
    const text = readFileSync(`${e.parentPath}/${e.name}`, 'utf8');
    for (const m of text.matchAll(/emit\([^,]+, '(Normal|Warning)', '([A-Za-z]+)'/g)) emitted.add(`${m[1]} ${m[2]}`);
  }
  t.ok(emitted.size > 0, 'found the emit calls');
  t.same([...rows].sort(), [...emitted].sort());
});
