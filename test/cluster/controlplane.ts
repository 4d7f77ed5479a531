// The local control plane: etcd, kube-apiserver, kube-controller-manager, the default scheduler, a
// second scheduler `tidb-scheduler` whose extender is tidb-steward, kwok standing in for kubelets, and
// tidb-steward run from source. Everything listens on 127.0.0.1. Used by `npm run cluster:up`, the
// e2e suite and the demo.
//
// For e2e tests, the whole API in one call:
//   const c = await ensureCluster({ nodes: defaultNodes(5), topologyKeys: 'kubernetes.io/hostname' });
//   await c.apply(yaml);  const r = await c.kubectl(['get', 'pods', '-A']);  await c.waitFor('x', fn);
//   await c.restartSteward({ STEWARD_LOG_LEVEL: 'debug' });  await c.stopSteward();  await c.setNodes([...]);
// ensureCluster reuses a running healthy cluster (a second call costs a readyz probe), builds missing
// binaries first, and on any failure stops what it started and throws with the failing component's
// log tail. `down()` stops everything; `npm run cluster:down` does the same from a shell.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Agent, request } from 'undici';
import { generate } from 'selfsigned';
import { generateCertificates, generateClientCertificates } from '../../src/tls/certs.ts';
import { CONTROL_PLANE, RECIPES } from './binaries.ts';
import { buildAll, kwokStageDir } from './build.ts';
import { REPO, STATE, binaryPath } from './paths.ts';
import { alive, leftovers, logPath, portFree, portOwner, readPids, say, sleep, start, stop, tail, waitFor } from './procs.ts';

/**
 * Loopback ports, clear of PD's 2379/12379 ranges. tidb-steward's follows STEWARD_PORT (default 9443).
 * TIDB_STEWARD_PORT_OFFSET shifts every port, so two checkouts can each run a cluster on one machine.
 */
export const PORT_OFFSET = Number(process.env.TIDB_STEWARD_PORT_OFFSET ?? 0);
export const PORTS = {
  etcdClient: 32379 + PORT_OFFSET,
  etcdPeer: 32380 + PORT_OFFSET,
  apiserver: 36443 + PORT_OFFSET,
  controllerManager: 36257 + PORT_OFFSET,
  scheduler: 36259 + PORT_OFFSET,
  tidbScheduler: 36260 + PORT_OFFSET,
  kwok: 36261 + PORT_OFFSET,
  steward: Number(process.env.STEWARD_PORT ?? 9443 + PORT_OFFSET),
};
export const KUBECONFIG = join(STATE, 'admin.kubeconfig');
const PKI = join(STATE, 'pki');
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'tidb-scheduler', 'kwok', 'tidb-steward'] as const;

export interface NodeSpec {
  name: string;
  /** topology.kubernetes.io/zone */
  zone: string;
  /** Extra labels; kubernetes.io/hostname=<name> and the zone label are always set. */
  labels?: Record<string, string>;
}

export interface UpOptions {
  nodes?: NodeSpec[];
  /** Comma-separated topology keys for tidb-steward. */
  topologyKeys?: string;
  /** false: start everything but tidb-steward (and its webhooks). */
  steward?: boolean;
  /** More environment for tidb-steward (overrides stewardEnv()'s defaults). */
  stewardEnv?: Record<string, string>;
  /** The extender's bindVerb in tidb-scheduler's config; '' leaves binding to the scheduler. Default 'bind'. */
  bindVerb?: string;
}

/** CLUSTER_NODES="5" (5 nodes in 5 zones) or "n1:z1,n2:z1,n3:z2"; default 3 nodes in 3 zones. */
export function nodesFromEnv(value = process.env.CLUSTER_NODES): NodeSpec[] {
  if (!value) return defaultNodes(3);
  if (/^\d+$/.test(value)) return defaultNodes(Number(value));
  return value.split(',').map((pair) => {
    const [name, zone] = pair.split(':');
    if (!name || !zone) throw new Error(`CLUSTER_NODES entry "${pair}" is not name:zone`);
    return { name, zone };
  });
}

export function defaultNodes(n: number, zones = n): NodeSpec[] {
  return Array.from({ length: n }, (_, i) => ({ name: `node-${String.fromCharCode(97 + i)}`, zone: `zone-${String.fromCharCode(97 + (i % zones))}` }));
}

const bin = (name: string) => binaryPath(RECIPES[name]!);

interface Pki {
  caPem: string;
  caKey: string;
}

async function makePki(): Promise<Pki> {
  mkdirSync(PKI, { recursive: true });
  const serving = await generateCertificates({ dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'], ipAddresses: ['127.0.0.1', '10.0.0.1'] });
  const admin = await generate(
    [{ name: 'commonName', value: 'admin' }, { name: 'organizationName', value: 'system:masters' }],
    { algorithm: 'sha256', keyType: 'ec', ca: { key: serving.caKey, cert: serving.caCert }, extensions: [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, critical: true }, { name: 'extKeyUsage', clientAuth: true }] },
  );
  // The callers' CA (mTLS): tidb-scheduler's extender calls and the API server's webhook calls.
  const callers = await generateClientCertificates(['tidb-scheduler', 'kube-apiserver']);
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const files: Record<string, string> = {
    'ca.crt': serving.caCert,
    'ca.key': serving.caKey,
    'serving.crt': serving.cert,
    'serving.key': serving.key,
    'admin.crt': admin.cert,
    'admin.key': admin.private,
    'sa.key': sa.privateKey,
    'sa.pub': sa.publicKey,
    'client-ca.crt': callers.caCert,
    'client-ca.key': callers.caKey,
    'scheduler-client.crt': callers.clients['tidb-scheduler']!.cert,
    'scheduler-client.key': callers.clients['tidb-scheduler']!.key,
    'apiserver-client.crt': callers.clients['kube-apiserver']!.cert,
    'apiserver-client.key': callers.clients['kube-apiserver']!.key,
  };
  for (const [f, content] of Object.entries(files)) writeFileSync(join(PKI, f), content, { mode: 0o600 });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  writeFileSync(
    KUBECONFIG,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: local',
      '  cluster:',
      `    server: https://127.0.0.1:${PORTS.apiserver}`,
      `    certificate-authority-data: ${b64(serving.caCert)}`,
      'users:',
      '- name: admin',
      '  user:',
      `    client-certificate-data: ${b64(admin.cert)}`,
      `    client-key-data: ${b64(admin.private)}`,
      'contexts:',
      '- name: local',
      '  context: { cluster: local, user: admin }',
      'current-context: local',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { caPem: serving.caCert, caKey: serving.caKey };
}

function pki(): Pki {
  return { caPem: readFileSync(join(PKI, 'ca.crt'), 'utf8'), caKey: readFileSync(join(PKI, 'ca.key'), 'utf8') };
}

let agent: Agent | null = null;
function adminAgent(): Agent {
  agent ??= new Agent({
    connect: { ca: readFileSync(join(PKI, 'ca.crt')), cert: readFileSync(join(PKI, 'admin.crt')), key: readFileSync(join(PKI, 'admin.key')) },
  });
  return agent;
}

// kube-controller-manager and kube-scheduler serve a self-signed certificate of their own: their
// loopback health probe does not verify it.
let selfSigned: Agent | null = null;
function selfSignedAgent(): Agent {
  selfSigned ??= new Agent({ connect: { rejectUnauthorized: false } });
  return selfSigned;
}

async function httpOk(url: string, dispatcher?: Agent): Promise<boolean> {
  const res = await request(url, { ...(dispatcher ? { dispatcher } : {}), headersTimeout: 2000, bodyTimeout: 2000 });
  await res.body.dump();
  return res.statusCode === 200;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built kubectl against the local cluster. */
export function kubectl(args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(bin('kubectl'), ['--kubeconfig', KUBECONFIG, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    // kubectl may exit before reading its input (e.g. `get`): that is not this process's error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Streams `kubectl get -w` output line by line until stopped. A watch reports every change the API
 * server makes, where polling can miss a state that lasts shorter than one poll.
 */
export function kubectlWatch(args: readonly string[], onLine: (line: string) => void): { stop(): Promise<void> } {
  const child = spawn(bin('kubectl'), ['--kubeconfig', KUBECONFIG, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onLine(l);
  });
  child.stderr.resume();
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await closed;
    },
  };
}

export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Paths of the client certificates the local callers present to tidb-steward (mTLS). */
export const CLIENT_PKI = {
  ca: join(PKI, 'client-ca.crt'),
  caKey: join(PKI, 'client-ca.key'),
  schedulerCert: join(PKI, 'scheduler-client.crt'),
  schedulerKey: join(PKI, 'scheduler-client.key'),
  apiserverCert: join(PKI, 'apiserver-client.crt'),
  apiserverKey: join(PKI, 'apiserver-client.key'),
};

const ADMISSION_CONFIG = join(STATE, 'admission-config.yaml');
const WEBHOOK_KUBECONFIG = join(STATE, 'webhook-client.kubeconfig');

/**
 * The API server presents a client certificate to tidb-steward's webhooks: an AdmissionConfiguration
 * whose kubeconfig names the webhook's host:port as a user with the certificate.
 */
function writeAdmissionConfig(): void {
  const plugin = (name: string) => [
    `- name: ${name}`,
    '  configuration:',
    '    apiVersion: apiserver.config.k8s.io/v1',
    '    kind: WebhookAdmissionConfiguration',
    `    kubeConfigFile: ${WEBHOOK_KUBECONFIG}`,
  ];
  writeFileSync(ADMISSION_CONFIG, ['apiVersion: apiserver.config.k8s.io/v1', 'kind: AdmissionConfiguration', 'plugins:', ...plugin('ValidatingAdmissionWebhook'), ...plugin('MutatingAdmissionWebhook'), ''].join('\n'));
  writeFileSync(
    WEBHOOK_KUBECONFIG,
    [
      'apiVersion: v1',
      'kind: Config',
      'users:',
      `- name: "127.0.0.1:${PORTS.steward}"`,
      '  user:',
      `    client-certificate: ${CLIENT_PKI.apiserverCert}`,
      `    client-key: ${CLIENT_PKI.apiserverKey}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

/**
 * Extender verbs left out of the local tidb-scheduler's config, from TIDB_SCHEDULER_DROP_VERBS
 * (e.g. "filter" or "filter,bind"). Only for showing by hand that an e2e test fails without the rule;
 * it changes this loopback test cluster's scheduler, never tidb-steward or the shipped manifests.
 */
function droppedVerbs(): Set<string> {
  return new Set((process.env.TIDB_SCHEDULER_DROP_VERBS ?? '').split(',').map((v) => v.trim()).filter(Boolean));
}

function schedulerConfig(caPem: string, bindVerb: string | undefined, stewardPort = PORTS.steward): string {
  const drop = droppedVerbs();
  if (drop.has('bind')) bindVerb = '';
  return [
    'apiVersion: kubescheduler.config.k8s.io/v1',
    'kind: KubeSchedulerConfiguration',
    `clientConnection: { kubeconfig: ${KUBECONFIG} }`,
    'leaderElection: { leaderElect: false }',
    'profiles:',
    '- schedulerName: tidb-scheduler',
    'extenders:',
    `- urlPrefix: https://127.0.0.1:${stewardPort}/scheduler`,
    ...(drop.has('filter') ? [] : ['  filterVerb: filter']),
    ...(drop.has('prioritize') ? [] : ['  prioritizeVerb: prioritize']),
    '  weight: 1',
    ...(bindVerb ? [`  bindVerb: ${bindVerb}`] : []),
    '  enableHTTPS: true',
    `  tlsConfig: { caData: ${Buffer.from(caPem).toString('base64')}, certFile: ${CLIENT_PKI.schedulerCert}, keyFile: ${CLIENT_PKI.schedulerKey} }`,
    '  httpTimeout: 5s',
    '  nodeCacheCapable: true',
    '  ignorable: false',
    '',
  ].join('\n');
}

function nodeManifest(nodes: readonly NodeSpec[]): string {
  return nodes
    .map((n) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n.name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { type: 'kwok', ...n.labels, 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'topology.kubernetes.io/zone': n.zone },
        },
        spec: {},
      }),
    )
    .join('\n---\n');
}

/**
 * kwok's default behaviour (nodes become Ready and keep a Lease; pods become Running; deleted pods go
 * away) is defined by stage files of its release, which cluster:build keeps next to the binary.
 */
function kwokStages(): string[] {
  const root = kwokStageDir(RECIPES.kwok!);
  const files = ['node/fast/node-initialize.yaml', 'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml', 'pod/fast/pod-ready.yaml', 'pod/fast/pod-complete.yaml', 'pod/fast/pod-delete.yaml'].map((f) => join(root, f));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`kwok stage file ${missing[0]} is missing; run npm run cluster:build (it fetches them from the Go module proxy)`);
  return files;
}

/** Replaces all nodes with the given ones (and waits until kwok reports them Ready). */
export async function setNodes(nodes: readonly NodeSpec[]): Promise<void> {
  const existing = (await kubectlOk(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).split(/\s+/).filter(Boolean);
  const wanted = new Set(nodes.map((n) => n.name));
  const extra = existing.filter((n) => !wanted.has(n));
  if (extra.length) await kubectlOk(['delete', 'node', ...extra, '--wait=true']);
  await kubectlOk(['apply', '-f', '-'], nodeManifest(nodes));
  await kubectlOk(['wait', '--for=condition=Ready', 'node', ...nodes.map((n) => n.name), '--timeout=60s']);
}

export function stewardEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    KUBECONFIG,
    STEWARD_LISTEN_HOST: '127.0.0.1',
    STEWARD_PORT: String(PORTS.steward),
    STEWARD_TLS_CERT_FILE: join(PKI, 'serving.crt'),
    STEWARD_TLS_KEY_FILE: join(PKI, 'serving.key'),
    STEWARD_TLS_CA_FILE: join(PKI, 'ca.crt'),
    STEWARD_CLIENT_CA_FILE: CLIENT_PKI.ca,
    STEWARD_LEASE_NAMESPACE: 'tidb-steward',
    STEWARD_TOPOLOGY_KEYS: 'kubernetes.io/hostname',
    STEWARD_LOG_LEVEL: process.env.STEWARD_LOG_LEVEL ?? 'info',
    STEWARD_RECONCILE_INTERVAL_SECONDS: '2',
    ...extra,
  };
}

const STEWARD_OVERRIDES = join(STATE, 'steward-env.json');

/** The overrides tidb-steward currently runs with (as given to restartSteward). */
export function stewardOverrides(): Record<string, string> {
  try {
    return JSON.parse(readFileSync(STEWARD_OVERRIDES, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * (Re)starts tidb-steward from source (`node src/main.ts` with this very node binary) with
 * stewardEnv(env) and waits for GET /readyz → 200. On failure it throws with the tail of its log.
 */
export async function restartSteward(env: Record<string, string> = {}): Promise<void> {
  await stop('tidb-steward');
  const main = join(REPO, 'src', 'main.ts');
  if (!existsSync(main)) throw new Error(`tidb-steward: ${main} does not exist; start the cluster without it (npm run cluster:up -- --no-steward)`);
  writeFileSync(STEWARD_OVERRIDES, JSON.stringify(env));
  await startStewardProcess('tidb-steward', PORTS.steward, env);
}

/** The namespace of the bind Leases. */
async function ensureLeaseNamespace(): Promise<void> {
  const r = await kubectl(['create', 'namespace', 'tidb-steward']);
  if (r.code !== 0 && !/AlreadyExists/.test(r.stderr)) throw new Error(`cannot create namespace tidb-steward: ${r.stderr}`);
}

/** A digest of tidb-steward's code (src/ and manifests/), to tell a running process that is out of date. */
function stewardCode(): string {
  const hash = createHash('sha256');
  for (const dir of ['src', 'manifests']) {
    for (const f of (readdirSync(join(REPO, dir), { recursive: true }) as string[]).sort()) {
      const path = join(REPO, dir, f);
      try {
        hash.update(f).update(readFileSync(path));
      } catch {
        // a directory
      }
    }
  }
  return hash.digest('hex');
}
const codeMark = (name: string) => join(STATE, `${name}.code`);
const runsCurrentCode = (name: string) => existsSync(codeMark(name)) && readFileSync(codeMark(name), 'utf8') === stewardCode();

async function startStewardProcess(name: string, port: number, env: Record<string, string>): Promise<void> {
  const main = join(REPO, 'src', 'main.ts');
  await ensureLeaseNamespace();
  await applyStewardCrds();
  writeFileSync(codeMark(name), stewardCode());
  const pid = start(name, process.execPath, ['--max-semi-space-size=8', main], stewardEnv({ ...env, STEWARD_PORT: String(port) }));
  const ca = readFileSync(join(PKI, 'ca.crt'));
  const probe = new Agent({ connect: { ca } });
  try {
    await waitFor(name, () => httpOk(`https://127.0.0.1:${port}/readyz`, probe), 30_000, pid);
  } finally {
    await probe.close();
  }
}

/**
 * A second tidb-steward (another replica: the same caches, its own process and port) and a second
 * tidb-scheduler whose extender it is, for tests of placement across replicas. `down` stops both.
 */
export async function startSecondReplica(env: Record<string, string> = {}): Promise<{ stewardPort: number }> {
  const port = PORTS.steward + 50;
  await stop('tidb-steward-2');
  await stop('tidb-scheduler-2');
  await startStewardProcess('tidb-steward-2', port, env);
  const config = join(STATE, 'tidb-scheduler-2.yaml');
  writeFileSync(config, schedulerConfig(pki().caPem, 'bind', port));
  const pid = start('tidb-scheduler-2', bin('kube-scheduler'), [`--config=${config}`, `--authentication-kubeconfig=${KUBECONFIG}`, `--authorization-kubeconfig=${KUBECONFIG}`, '--bind-address=127.0.0.1', `--secure-port=${PORTS.tidbScheduler + 50}`, '--v=2']);
  await waitFor('tidb-scheduler-2', () => httpOk(`https://127.0.0.1:${PORTS.tidbScheduler + 50}/healthz`, selfSignedAgent()), 60_000, pid);
  return { stewardPort: port };
}

export async function stopSecondReplica(): Promise<void> {
  await stop('tidb-scheduler-2');
  await stop('tidb-steward-2');
}

/** The CustomResourceDefinitions tidb-steward writes (its DisruptionLedger), established before it starts. */
export async function applyStewardCrds(): Promise<void> {
  await kubectlOk(['apply', '-f', join(REPO, 'manifests', 'disruptionledger-crd.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', 'crd/disruptionledgers.tidb-steward.dev', '--timeout=30s']);
}

export async function stopSteward(): Promise<void> {
  await stop('tidb-steward');
}

export function webhookManifest(caPem: string): string {
  const url = (path: string) => `https://127.0.0.1:${PORTS.steward}${path}`;
  const caBundle = Buffer.from(caPem).toString('base64');
  const common = { admissionReviewVersions: ['v1'], sideEffects: 'NoneOnDryRun', timeoutSeconds: 5, namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }, { key: 'tidb-steward.dev/guard', operator: 'NotIn', values: ['disabled'] }] } };
  return JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'tidb-steward' },
    webhooks: [
      { ...common, name: 'pods.tidb-steward.dev', failurePolicy: 'Fail', clientConfig: { url: url('/admission/pods'), caBundle }, rules: [{ operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }], matchConditions: [{ name: 'tidb-pd-or-tikv', expression: "has(oldObject.metadata.labels) && 'app.kubernetes.io/component' in oldObject.metadata.labels && oldObject.metadata.labels['app.kubernetes.io/component'] in ['pd', 'tikv']" }] },
      { ...common, name: 'evictions.tidb-steward.dev', failurePolicy: 'Fail', clientConfig: { url: url('/admission/pods'), caBundle }, rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/eviction'], scope: 'Namespaced' }], matchConditions: [{ name: 'tidb-pd-or-tikv-pod-name', expression: "request.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?-(pd|tikv)-[0-9]+$')" }] },
      { ...common, name: 'nodes.tidb-steward.dev', failurePolicy: 'Ignore', timeoutSeconds: 3, namespaceSelector: {}, clientConfig: { url: url('/admission/nodes'), caBundle }, rules: [{ operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['nodes'], scope: 'Cluster' }], matchConditions: [{ name: 'unschedulable-changed', expression: '(has(object.spec.unschedulable) && object.spec.unschedulable) != (has(oldObject.spec.unschedulable) && oldObject.spec.unschedulable)' }] },
      { ...common, name: 'tidbclusters.tidb-steward.dev', sideEffects: 'None', failurePolicy: 'Ignore', timeoutSeconds: 3, namespaceSelector: {}, clientConfig: { url: url('/admission/tidbclusters'), caBundle }, rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['tidb-steward.dev'], apiVersions: ['v1alpha1'], resources: ['tidbclusters'], scope: 'Namespaced' }], matchConditions: [{ name: 'spec-set-or-changed', expression: "request.operation == 'CREATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec" }] },
    ],
  });
}

/** True when etcd … kwok run (from the pid file) and the API server answers /readyz. */
export async function running(): Promise<boolean> {
  const pids = readPids();
  if (!COMPONENTS.slice(0, 6).every((c) => pids[c] && alive(pids[c]!))) return false;
  return existsSync(KUBECONFIG) && httpOk(`https://127.0.0.1:${PORTS.apiserver}/readyz`, adminAgent()).catch(() => false);
}

const TIDB_SCHEDULER_CONFIG = join(STATE, 'tidb-scheduler.yaml');

async function startTidbScheduler(caPem: string, bindVerb: string): Promise<void> {
  await stop('tidb-scheduler');
  writeFileSync(TIDB_SCHEDULER_CONFIG, schedulerConfig(caPem, bindVerb));
  const pid = start('tidb-scheduler', bin('kube-scheduler'), [`--config=${TIDB_SCHEDULER_CONFIG}`, `--authentication-kubeconfig=${KUBECONFIG}`, `--authorization-kubeconfig=${KUBECONFIG}`, '--bind-address=127.0.0.1', `--secure-port=${PORTS.tidbScheduler}`, '--v=2']);
  await waitFor('tidb-scheduler', () => httpOk(`https://127.0.0.1:${PORTS.tidbScheduler}/healthz`, selfSignedAgent()), 60_000, pid);
}

/** Restarts tidb-scheduler with another extender bindVerb ('' = the scheduler binds) if it differs. */
export async function setBindVerb(bindVerb: string): Promise<void> {
  const ca = pki().caPem;
  const current = existsSync(TIDB_SCHEDULER_CONFIG) ? readFileSync(TIDB_SCHEDULER_CONFIG, 'utf8') : '';
  if (current !== schedulerConfig(ca, bindVerb)) await startTidbScheduler(ca, bindVerb);
}

async function checkPorts(): Promise<void> {
  for (const [name, port] of Object.entries(PORTS)) {
    if (await portFree(port)) continue;
    const owner = portOwner(port);
    throw new Error(`port ${port} on 127.0.0.1 (for ${name}) is in use${owner ? ` by ${owner}` : ''}; stop it (or run npm run cluster:down if it is an earlier cluster) and run cluster:up again`);
  }
}

/**
 * Brings everything up, or reuses a healthy running cluster (then only tidb-steward is started if it
 * is not running, and tidb-scheduler restarted if opts.bindVerb differs). On failure, stops what it
 * started (logs stay in .cluster/logs/) and throws with the failing component's log tail.
 */
export async function up(opts: UpOptions = {}): Promise<{ reused: boolean; seconds: number }> {
  const started = Date.now();
  const nodes = opts.nodes ?? nodesFromEnv();
  const stewardExtra: Record<string, string> = { ...(opts.topologyKeys ? { STEWARD_TOPOLOGY_KEYS: opts.topologyKeys } : {}), ...opts.stewardEnv };
  if (await running()) {
    say('a healthy local cluster is already running; reusing it');
    if (opts.bindVerb !== undefined) await setBindVerb(opts.bindVerb);
    const stewardUp = alive(readPids()['tidb-steward'] ?? 0);
    // A tidb-steward started before src/ changed would test old code: restart it as it ran.
    const outdated = stewardUp && !runsCurrentCode('tidb-steward');
    if (outdated) say('tidb-steward runs older code than src/ and manifests/: restarting it');
    if (opts.steward !== false && (!stewardUp || outdated)) {
      await restartSteward(outdated ? stewardOverrides() : stewardExtra);
      await kubectlOk(['apply', '-f', '-'], webhookManifest(pki().caPem));
    }
    return { reused: true, seconds: (Date.now() - started) / 1000 };
  }
  const stale = await down({ quiet: true });
  if (stale.length) say(`stopped what was left of an earlier, unhealthy cluster: ${stale.join(', ')}`);
  await checkPorts();
  await buildAll(CONTROL_PLANE, { quiet: true });
  try {
    await startAll(nodes, opts, stewardExtra);
  } catch (err) {
    const stopped = await down({ quiet: true, keepLogs: true }).catch(() => [] as string[]);
    const msg = (err as Error).message;
    throw new Error(`${msg}\n(stopped what was started${stopped.length ? `: ${stopped.join(', ')}` : ''}; logs stay in ${join(STATE, 'logs')})`);
  }
  return { reused: false, seconds: (Date.now() - started) / 1000 };
}

async function startAll(nodes: readonly NodeSpec[], opts: UpOptions, stewardExtra: Record<string, string>): Promise<void> {
  mkdirSync(STATE, { recursive: true });
  const step = async (name: string, fn: () => Promise<void>) => {
    const t = Date.now();
    await fn();
    say(`${name} ready in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  };
  const { caPem } = await makePki();
  writeFileSync(join(STATE, 'kubectl'), `#!/bin/sh\n# kubectl ${RECIPES.kubectl!.version} against the local cluster\nexec ${bin('kubectl')} --kubeconfig ${KUBECONFIG} "$@"\n`, { mode: 0o755 });
  await step('etcd', async () => {
    const pid = start('etcd', bin('etcd'), [
      '--data-dir', join(STATE, 'etcd'), '--name', 'default',
      '--listen-client-urls', `http://127.0.0.1:${PORTS.etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${PORTS.etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${PORTS.etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${PORTS.etcdPeer}`,
      '--initial-cluster', `default=http://127.0.0.1:${PORTS.etcdPeer}`, '--unsafe-no-fsync', '--log-level', 'warn',
    ]);
    await waitFor('etcd', () => httpOk(`http://127.0.0.1:${PORTS.etcdClient}/health`), 30_000, pid);
  });
  writeAdmissionConfig();
  await step('kube-apiserver', async () => {
    const pid = start('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${PORTS.etcdClient}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${PORTS.apiserver}`,
      `--tls-cert-file=${join(PKI, 'serving.crt')}`, `--tls-private-key-file=${join(PKI, 'serving.key')}`, `--client-ca-file=${join(PKI, 'ca.crt')}`,
      '--service-account-issuer=https://kubernetes.default.svc', `--service-account-key-file=${join(PKI, 'sa.pub')}`, `--service-account-signing-key-file=${join(PKI, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24', '--authorization-mode=RBAC', '--allow-privileged=true',
      '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,ValidatingAdmissionWebhook,MutatingAdmissionWebhook',
      `--admission-control-config-file=${ADMISSION_CONFIG}`,
      '--endpoint-reconciler-type=none', '--v=1',
    ]);
    await waitFor('kube-apiserver', () => httpOk(`https://127.0.0.1:${PORTS.apiserver}/readyz`, adminAgent()), 60_000, pid);
  });
  const delegated = [`--kubeconfig=${KUBECONFIG}`, `--authentication-kubeconfig=${KUBECONFIG}`, `--authorization-kubeconfig=${KUBECONFIG}`, '--bind-address=127.0.0.1'];
  await step('kube-controller-manager', async () => {
    const pid = start('kube-controller-manager', bin('kube-controller-manager'), [
      ...delegated, `--secure-port=${PORTS.controllerManager}`, '--leader-elect=false', `--service-account-private-key-file=${join(PKI, 'sa.key')}`,
      `--root-ca-file=${join(PKI, 'ca.crt')}`, '--use-service-account-credentials=false', '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route', '--v=1',
    ]);
    await waitFor('kube-controller-manager', () => httpOk(`https://127.0.0.1:${PORTS.controllerManager}/healthz`, selfSignedAgent()), 60_000, pid);
  });
  await step('kube-scheduler', async () => {
    const pid = start('kube-scheduler', bin('kube-scheduler'), [...delegated, `--secure-port=${PORTS.scheduler}`, '--leader-elect=false', '--v=1']);
    await waitFor('kube-scheduler', () => httpOk(`https://127.0.0.1:${PORTS.scheduler}/healthz`, selfSignedAgent()), 60_000, pid);
  });
  await step('tidb-scheduler', () => startTidbScheduler(caPem, opts.bindVerb ?? 'bind'));
  await step(`kwok and ${nodes.length} nodes`, async () => {
    const pid = start('kwok', bin('kwok'), [`--kubeconfig=${KUBECONFIG}`, '--manage-all-nodes=true', '--node-lease-duration-seconds=40', `--server-address=127.0.0.1:${PORTS.kwok}`, ...kwokStages().map((f) => `--config=${f}`)]);
    await sleep(300);
    if (!alive(pid)) throw new Error(`kwok exited. Log: ${logPath('kwok')}`);
    await setNodes(nodes);
  });
  if (opts.steward !== false) {
    await step('tidb-steward', async () => {
      await restartSteward(stewardExtra);
      await kubectlOk(['apply', '-f', '-'], webhookManifest(caPem));
    });
  }
}

/**
 * Stops everything up() started (each process group: SIGTERM, SIGKILL after 5 s), then checks /proc
 * for anything still running from .cluster/ and stops that too, and removes the run state.
 * Returns the names of what was stopped.
 */
export async function down(opts: { quiet?: boolean; keepLogs?: boolean } = {}): Promise<string[]> {
  const stopped: string[] = [];
  for (const name of [...COMPONENTS].reverse()) if (await stop(name)) stopped.push(name);
  for (const name of Object.keys(readPids())) if (await stop(name)) stopped.push(name);
  agent?.close().catch(() => undefined);
  agent = null;
  selfSigned?.close().catch(() => undefined);
  selfSigned = null;
  const stray = leftovers();
  for (const p of stray) {
    say(`still running from ${STATE}: pid ${p.pid} ${p.cmd.slice(0, 120)}; stopping it`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    stopped.push(`pid ${p.pid}`);
  }
  if (existsSync(STATE)) {
    if (opts.keepLogs) {
      for (const entry of ['etcd', 'pki', 'pids.json', 'admin.kubeconfig', 'steward-env.json']) rmSync(join(STATE, entry), { recursive: true, force: true });
    } else rmSync(STATE, { recursive: true, force: true });
  }
  if (!opts.quiet) {
    say(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running');
    const left = leftovers();
    say(left.length ? `WARNING: still running: ${left.map((p) => p.pid).join(', ')}` : `no process from ${STATE} is left; state removed`);
  }
  return stopped;
}

/** The CA (PEM) that signed the API server's and tidb-steward's serving certificates. */
export function caPem(): string {
  return pki().caPem;
}

/** Polls fn until it returns something truthy; throws "timed out ... waiting for <what>" with the last error. */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export interface Cluster {
  kubeconfig: string;
  /** The nodes as requested (kwok keeps them Ready). */
  nodes: NodeSpec[];
  stewardPort: number;
  /** CA PEM of every serving certificate (API server, tidb-steward): for webhook caBundle or extender caData. */
  caPem: string;
  /** Path of the built kubectl; .cluster/kubectl wraps it with the kubeconfig. */
  kubectlPath: string;
  kubectl(args: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** kubectl that throws on a non-zero exit; returns stdout. */
  kubectlOk(args: readonly string[], input?: string): Promise<string>;
  /** kubectl apply -f - (YAML or JSON, several documents allowed). */
  apply(manifest: string): Promise<string>;
  waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs?: number, everyMs?: number): Promise<T>;
  setNodes(nodes: readonly NodeSpec[]): Promise<void>;
  /** Restarts tidb-steward with env overrides, e.g. { STEWARD_TOPOLOGY_KEYS: 'kubernetes.io/hostname,topology.kubernetes.io/zone' }. */
  restartSteward(env?: Record<string, string>): Promise<void>;
  stopSteward(): Promise<void>;
  /** Restarts tidb-scheduler with another extender bindVerb ('' = the scheduler binds itself). */
  setBindVerb(bindVerb: string): Promise<void>;
  /** Log file of a component: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, tidb-scheduler, kwok, tidb-steward. */
  logPath(component: string): string;
  /** Last lines of a component's log. */
  logTail(component: string, lines?: number): string;
}

/**
 * The local cluster for a test: starts it or reuses a running one, then makes the node set equal to
 * opts.nodes (default: CLUSTER_NODES or node-a/b/c in zone-a/b/c) and makes tidb-steward run with
 * exactly the overrides opts.topologyKeys + opts.stewardEnv (none by default), restarting it only
 * when they differ from what it runs with or it is not running. opts.steward=false stops it.
 */
export async function ensureCluster(opts: UpOptions = {}): Promise<Cluster> {
  const nodes = opts.nodes ?? nodesFromEnv();
  const { reused } = await up({ ...opts, nodes });
  if (reused) await setNodes(nodes);
  if (opts.steward === false) {
    await stopSteward();
  } else {
    const wanted: Record<string, string> = { ...(opts.topologyKeys ? { STEWARD_TOPOLOGY_KEYS: opts.topologyKeys } : {}), ...opts.stewardEnv };
    const running = stewardOverrides();
    if (JSON.stringify(Object.entries(wanted).sort()) !== JSON.stringify(Object.entries(running).sort()) || !alive(readPids()['tidb-steward'] ?? 0)) await restartSteward(wanted);
  }
  const ca = caPem();
  return {
    kubeconfig: KUBECONFIG,
    nodes,
    stewardPort: PORTS.steward,
    caPem: ca,
    kubectlPath: bin('kubectl'),
    kubectl,
    kubectlOk,
    apply: (manifest) => kubectlOk(['apply', '-f', '-'], manifest),
    waitFor: waitUntil,
    setNodes,
    restartSteward,
    stopSteward,
    setBindVerb,
    logPath,
    logTail: (component, lines = 20) => tail(component, lines),
  };
}
