// Least privilege, checked from the manifests: no wildcard anywhere, no cluster-wide write to
// ConfigMaps or Secrets, and every write verb granted to tidb-steward is one its code makes.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';

/* eslint-disable @typescript-eslint/no-explicit-any */
const manifests = new URL('../manifests/', import.meta.url);
const docs: any[] = readdirSync(manifests)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => loadAllYaml(readFileSync(new URL(f, manifests), 'utf8')).filter(Boolean).map((d: any) => ({ ...d, file: f })));

function sources(dir: string): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? readFileSync(join(dir, e.name), 'utf8') : ''))
    .join('\n');
}
const code = sources(new URL('../src/', import.meta.url).pathname);

const READ = new Set(['get', 'list', 'watch']);
const STEWARD = { kind: 'ServiceAccount', name: 'tidb-steward', namespace: 'tidb-steward' };

const roles = docs.filter((d) => d.kind === 'Role' || d.kind === 'ClusterRole');
const bindings = docs.filter((d) => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding');
const bindsSteward = (b: any) => (b.subjects ?? []).some((s: any) => s.kind === STEWARD.kind && s.name === STEWARD.name && (s.namespace ?? b.metadata.namespace) === STEWARD.namespace);
/** Roles tidb-steward holds, or that are meant to be bound to it (tidb-steward-* ClusterRoles). */
const stewardRoles = roles.filter(
  (r) =>
    r.metadata.name.startsWith('tidb-steward') ||
    bindings.some((b) => bindsSteward(b) && b.roleRef.name === r.metadata.name && b.roleRef.kind === r.kind),
);

/**
 * Is there a client call in src/ that needs this verb on this resource? create/update/patch/delete map
 * to @kubernetes/client-node's create*, replace*, patch*, delete* methods of the resource's kind (or to
 * the CustomObjects methods naming the resource's plural, for our own CRDs).
 */
export function codeUses(resource: string, verb: string, source: string): boolean {
  const method = ({ create: 'create', update: 'replace', patch: 'patch', delete: 'delete', deletecollection: 'deleteCollection' } as Record<string, string>)[verb];
  if (!method) return false;
  const singular = (word: string) => (word.endsWith('ies') ? `${word.slice(0, -3)}y` : word.replace(/s$/, ''));
  const [base = '', sub = ''] = resource.split('/');
  const kind = `${singular(base)}${sub}`;
  if (new RegExp(`\\b${method}(Namespaced|Cluster)?${kind}\\b`, 'i').test(source)) return true;
  // Server-side apply (a patch with the apply content type) creates what is missing: it needs create.
  if (verb === 'create' && source.includes('PatchStrategy.ServerSideApply') && new RegExp(`\\bpatch(Namespaced|Cluster)?${kind}\\b`, 'i').test(source)) return true;
  // Our own CRDs through CustomObjectsApi, including the status subresource.
  const custom = sub === 'status' ? 'CustomObjectStatus' : 'CustomObject';
  return new RegExp(`\\b${method}(Namespaced|Cluster)${custom}\\b`).test(source) && source.includes(`'${base}'`);
}

t.test('the manifests were found', async (t) => {
  t.ok(roles.length >= 3, `${roles.length} roles`);
  t.ok(stewardRoles.some((r) => r.metadata.name === 'tidb-steward'));
});

t.test('no wildcard in any role', async (t) => {
  const offenders: string[] = [];
  for (const r of roles) {
    for (const rule of r.rules ?? []) {
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs']) {
        if ((rule[field] ?? []).some((v: string) => v.includes('*'))) offenders.push(`${r.kind} ${r.metadata.name} (${r.file}): ${field} ${JSON.stringify(rule[field])}`);
      }
    }
  }
  t.same(offenders, [], `${roles.length} roles have no wildcard`);
  for (const b of bindings) t.not(b.roleRef.name, 'cluster-admin', `${b.metadata.name} does not grant cluster-admin`);
});

t.test('no cluster-wide write to ConfigMaps or Secrets', async (t) => {
  for (const b of bindings.filter((b) => b.kind === 'ClusterRoleBinding')) {
    const role = roles.find((r) => r.kind === 'ClusterRole' && r.metadata.name === b.roleRef.name);
    for (const rule of role?.rules ?? []) {
      const sensitive = (rule.resources ?? []).filter((res: string) => res === 'configmaps' || res === 'secrets');
      const writes = (rule.verbs ?? []).filter((v: string) => !READ.has(v));
      t.same(sensitive.length && writes.length ? { sensitive, writes } : null, null, `${b.metadata.name} → ${role.metadata.name}: ${JSON.stringify(rule)}`);
    }
  }
  // Its own certificates are mounted; the one Secret it reads through the API is a TiDB cluster's PD
  // client certificate (tlsCluster), by name, in the namespaces it is bound to (tidb-steward-ledger).
  const secretRules = stewardRoles.flatMap((r) => (r.rules ?? []).filter((rule: any) => (rule.resources ?? []).includes('secrets')).map((rule: any) => ({ role: r.metadata.name, verbs: rule.verbs })));
  t.same(secretRules, [{ role: 'tidb-steward-ledger', verbs: ['get'] }], 'Secrets: get only, only in the per-namespace role');
  t.notOk(
    bindings.some((b) => b.kind === 'ClusterRoleBinding' && b.roleRef.name === 'tidb-steward-ledger'),
    'the per-namespace role is not bound cluster-wide',
  );
});

t.test('every write verb tidb-steward holds is one its code uses', async (t) => {
  const unused: string[] = [];
  const used: string[] = [];
  for (const r of stewardRoles) {
    for (const rule of r.rules ?? []) {
      for (const verb of rule.verbs ?? []) {
        if (READ.has(verb)) continue;
        for (const resource of rule.resources ?? []) (codeUses(resource, verb, code) ? used : unused).push(`${r.kind} ${r.metadata.name}: ${verb} ${resource}`);
      }
    }
  }
  t.same(unused, [], 'no write grant the code does not use');
  t.ok(used.length >= 4, `${used.length} write grants, each used: ${used.join('; ')}`);
});

t.test('the checker itself: used and unused writes are told apart', async (t) => {
  t.ok(codeUses('pods/binding', 'create', 'clients.core.createNamespacedPodBinding({'));
  t.ok(codeUses('leases', 'update', 'clients.coordination.replaceNamespacedLease({'));
  t.ok(codeUses('validatingwebhookconfigurations', 'update', 'replaceValidatingWebhookConfiguration('));
  t.notOk(codeUses('configmaps', 'delete', 'patchNamespacedConfigMap('));
  t.notOk(codeUses('events', 'patch', 'createNamespacedEvent('));
  t.notOk(codeUses('secrets', 'create', 'createNamespacedConfigMap('));
  t.ok(codeUses('evictionrecords', 'create', "createNamespacedCustomObject({ plural: 'evictionrecords' })"));
  t.notOk(codeUses('evictionrecords', 'delete', "createNamespacedCustomObject({ plural: 'evictionrecords' })"));
  t.ok(codeUses('statefulsets', 'create', "apps.patchNamespacedStatefulSet(req, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply))"), 'server-side apply creates');
  t.notOk(codeUses('statefulsets', 'create', 'apps.patchNamespacedStatefulSet(req, merge)'), 'a merge patch does not');
  t.ok(codeUses('tidbclusters/status', 'patch', "patchNamespacedCustomObjectStatus({ plural: 'tidbclusters' })"));
});
