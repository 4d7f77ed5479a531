// The tidb-steward CLI without a cluster: its arguments, the kubeconfig it picks, what it prints for a
// plan and for the clusters at a glance, and the messages and exit codes when the kubeconfig, the API
// server or the command line is wrong (run as a process, through bin/tidb-steward).
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../../src/cli/args.ts';
import { clusterGlance, renderNodePlan, renderStatus, type NodePlan } from '../../src/cli/render.ts';
import { CliError, kubeconfigPath } from '../../src/cli/run.ts';
import type { RawTidbCluster } from '../../src/k8s/tidbclusters.ts';

// The last subtest starts Node processes: on a busy 2-core machine each takes seconds.
t.setTimeout(120_000);

t.test('arguments', async (t) => {
  const ok: Array<[string[], unknown]> = [
    [['drain-plan', 'node-a'], { command: { name: 'drain-plan', node: 'node-a' }, output: 'human', serviceArgs: [] }],
    [['drain-plan', '-o', 'json', 'node-a'], { command: { name: 'drain-plan', node: 'node-a' }, output: 'json', serviceArgs: [] }],
    [['-ojson', 'status'], { command: { name: 'status' }, output: 'json', serviceArgs: [] }],
    [['status', '--output=json', '--kubeconfig', '/k', '--pd-endpoints={}'], { command: { name: 'status' }, output: 'json', serviceArgs: ['--kubeconfig', '/k', '--pd-endpoints={}'] }],
    [['status', '-o', 'text'], { command: { name: 'status' }, output: 'human', serviceArgs: [] }],
    [['--help'], { command: { name: 'help' } }],
  ];
  for (const [argv, want] of ok) t.match(parseArgs(argv), want, argv.join(' '));
  const bad: Array<[string[], RegExp]> = [
    [[], /no command given/],
    [['drain-plan'], /takes one node name/],
    [['drain-plan', 'a', 'b'], /takes one node name/],
    [['status', 'x'], /takes no arguments/],
    [['plan'], /unknown command "plan"/],
    [['status', '-o', 'yaml'], /takes json or text, not "yaml"/],
    [['status', '-o'], /takes json or text, not nothing/],
    [['status', '--kubeconfig'], /flag --kubeconfig needs a value/],
    [['status', '-x'], /unknown option -x/],
  ];
  for (const [argv, message] of bad) t.throws(() => parseArgs(argv), { constructor: UsageError, message }, argv.join(' ') || '(nothing)');
});

t.test('kubeconfig: the flag or $KUBECONFIG (first existing entry), then ~/.kube/config, then in-cluster', async (t) => {
  const files = new Set(['/a', '/home/u/.kube/config']);
  const exists = (p: string) => files.has(p);
  t.equal(kubeconfigPath('/a', {}, '/home/u', exists), '/a');
  t.equal(kubeconfigPath('/missing:/a', {}, '/home/u', exists), '/a');
  t.equal(kubeconfigPath(undefined, {}, '/home/u', exists), '/home/u/.kube/config');
  t.equal(kubeconfigPath(undefined, { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, '/nohome', exists), 'in-cluster');
  t.throws(() => kubeconfigPath('/missing', {}, '/home/u', exists), { constructor: CliError, message: /kubeconfig \/missing does not exist: pass --kubeconfig PATH or set KUBECONFIG/ });
  t.throws(() => kubeconfigPath(undefined, {}, '/nohome', exists), { constructor: CliError, message: /no kubeconfig: \/nohome\/.kube\/config does not exist and KUBECONFIG is not set/ });
});

t.test('a plan, for people', async (t) => {
  const plan: NodePlan = {
    node: 'node-b',
    draining: false,
    pods: [
      { namespace: 'db', pod: 'basic-pd-1', cluster: 'basic', component: 'pd', allowed: false, reason: 'transferring PD leader from basic-pd-1 to basic-pd-0', steps: ['move PD leadership from basic-pd-1 to basic-pd-0'], warnings: [], leaving: ['PD member basic-pd-2 (pod is not Ready)'] },
      { namespace: 'db', pod: 'basic-tikv-1', cluster: 'basic', component: 'tikv', allowed: true, reason: 'store 2 of basic-tikv-1 leads no regions', steps: [], warnings: [], leaving: [] },
      { namespace: 'db', pod: 'basic-tidb-0', cluster: 'basic', component: 'tidb', allowed: true, reason: 'TiDB servers hold no quorum or data; their removal is not gated', steps: [], warnings: [], leaving: [] },
    ],
    hints: [],
  };
  const text = renderNodePlan(plan);
  t.match(text, /^node node-b: 1 of 3 TiDB pods would be held now\n/);
  t.match(text, /  db\/basic-pd-1 \(PD of basic\): HELD: transferring PD leader from basic-pd-1 to basic-pd-0\n      first: move PD leadership from basic-pd-1 to basic-pd-0\n      already leaving: PD member basic-pd-2 \(pod is not Ready\)\n/);
  t.match(text, /  db\/basic-tikv-1 \(TiKV of basic\): goes: store 2 of basic-tikv-1 leads no regions\n/);
  t.match(renderNodePlan({ ...plan, pods: plan.pods.slice(1), draining: true }), /^node node-b \(already cordoned or being drained\): all 2 TiDB pods would go now/);
  t.equal(renderNodePlan({ ...plan, pods: [] }), 'node node-b: no PD, TiKV or TiDB pod runs on it; a drain has nothing for tidb-steward to hold\n');
});

const tc = (status: RawTidbCluster['status']): RawTidbCluster => ({ metadata: { name: 'basic', namespace: 'db', uid: 'u', generation: 1, resourceVersion: '1' }, spec: {}, status });

t.test('clusters at a glance: PD quorum margin = healthy - majority, from PD now or the last status', async (t) => {
  const members = (healthy: boolean[]) => healthy.map((h, i) => ({ name: `basic-pd-${i}`, healthy: h }));
  const rows: Array<[string, ReturnType<typeof clusterGlance>, object]> = [
    ['5 healthy of 5', clusterGlance(tc({ phase: 'Normal' }), { members: members([true, true, true, true, true]), leader: 'basic-pd-0', stores: [{ state: 'Up' }, { state: 'Up' }, { state: 'Tombstone' }], unknown: null }, []), { pd: { members: 5, healthy: 5, majority: 3, margin: 2, source: 'pd' }, tikv: { up: 2, stores: 2 } }],
    ['2 of 3: at quorum', clusterGlance(tc({}), { members: members([true, false, true]), leader: 'basic-pd-0', stores: null, unknown: null }, []), { pd: { margin: 0 }, tikv: null, phase: 'unknown', ready: 'unknown' }],
    ['1 of 3: lost', clusterGlance(tc({}), { members: members([false, false, true]), leader: null, stores: null, unknown: null }, []), { pd: { margin: -1 } }],
    [
      'PD unreachable: from the status, marked',
      clusterGlance(
        tc({ phase: 'Normal', conditions: [{ type: 'Ready', status: 'False', reason: 'PDUnreachable', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z' }], pd: { leader: 'basic-pd-1', members: [{ name: 'basic-pd-0', health: true, leader: false }, { name: 'basic-pd-1', health: true, leader: true }, { name: 'basic-pd-2', health: true, leader: false }] } }),
        { members: null, leader: null, stores: null, unknown: 'connect ECONNREFUSED' },
        [{ component: 'pd', member: 'basic-pd-2', pod: 'basic-pd-2', podUid: 'u2', since: 1, act: 'eviction' }],
      ),
      { ready: 'False PDUnreachable', pd: { members: 3, healthy: 3, margin: 1, leader: 'basic-pd-1', source: 'status', unknown: 'connect ECONNREFUSED' }, leaving: ['pd basic-pd-2 (eviction)'] },
    ],
  ];
  for (const [name, got, want] of rows) t.match(got, want, name);
  const text = renderStatus(rows.map((r) => r[1]));
  t.match(text, /^CLUSTER +PHASE +READY +PD HEALTHY +QUORUM MARGIN +PD LEADER +TIKV UP +LEAVING\n/);
  t.match(text, /db\/basic +Normal +unknown +5\/5 +\+2 +basic-pd-0 +2\/2 +-/);
  t.match(text, /db\/basic: PD could not be read \(connect ECONNREFUSED\); \* = from the last status/);
  t.match(text, /db\/basic: PD has lost quorum \(1 healthy of 3, a majority is 2\)/);
  t.match(text, /db\/basic: PD is at its quorum/);
  t.equal(renderStatus([]), 'no TidbCluster (tidb-steward.dev) in this Kubernetes cluster\n');
});

const run = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('bin/tidb-steward', args, { env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });

t.test('as a process: clear messages and exit codes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-cli-'));
  // An API server that is not there: a port nothing listens on.
  const dead = join(dir, 'dead.kubeconfig');
  writeFileSync(dead, 'apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "https://127.0.0.1:9"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: x, user: u}}]\ncurrent-context: c\n');
  const cases: Array<[string, string[], Record<string, string>, number, RegExp]> = [
    ['usage', ['drain-plan'], {}, 2, /tidb-steward: drain-plan takes one node name[\s\S]*usage: tidb-steward <command>/],
    ['no kubeconfig', ['status'], {}, 1, /no kubeconfig: \/nonexistent\/.kube\/config does not exist and KUBECONFIG is not set; pass --kubeconfig PATH/],
    ['a kubeconfig that is not there', ['drain-plan', 'node-a'], { KUBECONFIG: join(dir, 'nope') }, 1, /kubeconfig .*nope does not exist/],
    ['no API server', ['drain-plan', 'node-a', '--kubeconfig', dead], {}, 1, /cannot read node node-a: .*\(API server https:\/\/127.0.0.1:9: is the cluster running, and is this the kubeconfig and context you meant\?\)/],
    ['a bad service flag', ['status', '--pd-endpoints', 'nope', '--kubeconfig', dead], {}, 2, /--pd-endpoints \/ STEWARD_PD_ENDPOINTS: must be JSON/],
  ];
  // In parallel: each is a Node process start, slow on a busy machine.
  const [help, ...results] = await Promise.all([run(['--help']), ...cases.map(([, args, env]) => run(args, env))]);
  for (const [i, [name, , , code, message]] of cases.entries()) {
    const r = results[i]!;
    t.equal(r.code, code, `${name}: exit ${code}`);
    t.match(r.stderr, message, name);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
  }
  t.equal(help.code, 0);
  t.match(help.stdout, /kubectl tidb-steward drain-plan <node>/);
});
