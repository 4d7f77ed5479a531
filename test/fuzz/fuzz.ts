// npm run fuzz [-- --total 100000 --concurrency 16 --seed 1]
// Sends mutated AdmissionReview and ExtenderArgs bodies, made from the recorded fixtures, to the real
// HTTPS server (with a client certificate, so they reach the handlers). Mutations: field deletions,
// type swaps, huge strings, deep nesting, bad UTF-8, byte flips, truncation, wrong or missing content
// types, empty bodies, bodies sent to the other family's routes. Checks every reply: no 5xx, no
// dropped connection, the server process alive, every admission reply a well-formed AdmissionReview
// on HTTP 200 that echoes the request uid whenever the body (as text) carries one. Progress goes to
// stderr; the last line on stdout is one JSON object with the counts. Exit code 1 if any check failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { generateCertificates, generateClientCertificates } from '../../src/tls/certs.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface FuzzOptions {
  total: number;
  concurrency: number;
  seed: number;
  /** Progress lines to stderr every this many requests (0: none). */
  progressEvery?: number;
}

export interface FuzzReport {
  sent: number;
  seed: number;
  seconds: number;
  rps: number;
  by_status: Record<string, number>;
  by_mutation: Record<string, number>;
  crashes: number;
  server_errors: number;
  transport_errors: number;
  admission_replies: number;
  admission_malformed: number;
  admission_with_uid: number;
  uid_echoed: number;
  uid_mismatch: number;
  extender_malformed: number;
  /** Bodies over the 2 MiB limit: answered 413 (or, for the webhooks, a 413 AdmissionReview) unread. */
  over_limit: number;
  /** Of those, the ones whose connection was closed before the client finished sending (EPIPE). */
  over_limit_resets: number;
  failures: string[];
}

// ---- deterministic randomness -------------------------------------------------------------------
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// ---- fixtures -----------------------------------------------------------------------------------
const FIXTURES = new URL('../fixtures/', import.meta.url);
function load(dir: string, match: RegExp): Json[] {
  return readdirSync(new URL(`${dir}/`, FIXTURES))
    .filter((f) => f.endsWith('.json') && match.test(f))
    .map((f) => JSON.parse(readFileSync(new URL(`${dir}/${f}`, FIXTURES), 'utf8')) as Json);
}
const SEEDS = {
  filter: load('extender', /filter|prioritize/),
  bind: load('extender', /bind/),
  pods: load('admission', /pod-/),
  nodes: load('admission', /node-/),
  tidbclusters: load('admission', /tidbcluster-/),
};
const ROUTES = [
  { path: '/scheduler/filter', seeds: SEEDS.filter, weight: 3 },
  { path: '/scheduler/prioritize', seeds: SEEDS.filter, weight: 1 },
  { path: '/scheduler/bind', seeds: SEEDS.bind, weight: 1 },
  { path: '/admission/pods', seeds: SEEDS.pods, weight: 4 },
  { path: '/admission/nodes', seeds: SEEDS.nodes, weight: 2 },
  { path: '/admission/tidbclusters', seeds: SEEDS.tidbclusters, weight: 2 },
] as const;
const ALL_SEEDS = [...SEEDS.filter, ...SEEDS.bind, ...SEEDS.pods, ...SEEDS.nodes, ...SEEDS.tidbclusters];

// ---- structural mutations -----------------------------------------------------------------------
type Path = Array<string | number>;

/** Every path into the document (iteratively, at most 12 deep). */
function paths(doc: Json): Path[] {
  const out: Path[] = [];
  const stack: Array<[Json, Path]> = [[doc, []]];
  while (stack.length) {
    const [v, p] = stack.pop()!;
    if (p.length) out.push(p);
    if (p.length >= 12 || v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, [...p, i]]));
    else for (const [k, x] of Object.entries(v)) stack.push([x, [...p, k]]);
  }
  return out;
}

function parentOf(doc: Json, path: Path): { parent: Record<string | number, Json>; key: string | number } | null {
  let cur: Json = doc;
  for (const k of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string | number, Json>)[k] as Json;
  }
  if (cur === null || typeof cur !== 'object') return null;
  return { parent: cur as Record<string | number, Json>, key: path.at(-1)! };
}

const SWAPS: Json[] = [null, 0, -1, 1.5, 1e308, -0, true, false, '', 'x', '0', [], {}, [1, 'a', null], { a: 1 }, 'null', '\u0000', '😀', 'a'.repeat(300)];
// Big bodies are few (they cost the fuzzer more than the server); some pass the 2 MiB limit.
const HUGE_SIZES = [5_000, 5_000, 5_000, 20_000, 20_000, 20_000, 100_000, 100_000, 300_000, 1_000_000, 2_200_000, 2_600_000];
const DEPTHS = [64, 64, 64, 1_000, 1_000, 20_000, 20_000, 200_000];
const KINDS = ['delete', 'delete', 'delete', 'delete', 'delete', 'delete', 'swap', 'swap', 'swap', 'swap', 'swap', 'swap', 'swap', 'swap', 'keep', 'keep', 'huge', 'deep'] as const;
/** The server's body limit: a bigger body is refused unread, so its uid cannot be echoed. */
const BODY_LIMIT = 2 * 1024 * 1024;

interface Made {
  body: Buffer;
  mutations: string[];
  contentType: string | null;
}

function mutate(rng: Rng, seed: Json): Made {
  const doc = structuredClone(seed);
  const mutations: string[] = [];
  const deep: Array<[string, string]> = [];
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const all = paths(doc);
    if (all.length === 0) break;
    const target = parentOf(doc, rng.pick(all));
    if (!target) continue;
    const kind = rng.pick(KINDS);
    if (kind === 'delete') {
      if (Array.isArray(target.parent)) (target.parent as Json[]).splice(Number(target.key), 1);
      else delete target.parent[target.key];
    } else if (kind === 'swap') {
      target.parent[target.key] = structuredClone(rng.pick(SWAPS));
    } else if (kind === 'huge') {
      const size = rng.pick(HUGE_SIZES);
      target.parent[target.key] = rng.pick(['x', 'é', '"', '\\']).repeat(rng.chance(0.5) ? size : Math.floor(size / 4));
    } else if (kind === 'deep') {
      const depth = rng.pick(DEPTHS);
      const marker = `__deep_${deep.length}__`;
      const open = rng.chance(0.5) ? '['.repeat(depth) : '{"a":'.repeat(depth);
      const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
      deep.push([JSON.stringify(marker), `${open}1${close}`]);
      target.parent[target.key] = marker;
    }
    mutations.push(kind);
  }
  let text = JSON.stringify(doc) ?? '';
  for (const [marker, nested] of deep) text = text.replace(marker, nested);
  let body = Buffer.from(text, 'utf8');
  if (rng.chance(0.1)) {
    body = body.subarray(0, rng.int(body.length + 1));
    mutations.push('truncate');
  }
  if (rng.chance(0.1)) {
    const bad = rng.pick([[0xff], [0xfe, 0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf0, 0x28, 0x8c, 0x28], [0x80]]);
    const at = rng.int(body.length + 1);
    body = Buffer.concat([body.subarray(0, at), Buffer.from(bad), body.subarray(at)]);
    mutations.push('bad-utf8');
  }
  if (rng.chance(0.05) && body.length > 0) {
    body = Buffer.from(body);
    for (let i = 0; i < 1 + rng.int(8); i++) body[rng.int(body.length)] = rng.int(256);
    mutations.push('byte-flip');
  }
  if (rng.chance(0.02)) {
    body = Buffer.alloc(0);
    mutations.push('empty');
  }
  let contentType: string | null = 'application/json';
  if (rng.chance(0.12)) {
    contentType = rng.pick([null, 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/octet-stream']);
    mutations.push('content-type');
  }
  return { body, mutations, contentType };
}

// ---- the server under test ----------------------------------------------------------------------
interface Server {
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const script = fileURLToPath(new URL('./server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--max-semi-space-size=8', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then((code) => reject(new Error(`fuzz server exited (${code}) before listening: ${err}`)));
  });
  return { port, child, exited, stderr: () => err };
}

// ---- the run ------------------------------------------------------------------------------------
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const serving = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const callers = await generateClientCertificates(['fuzzer']);
  const server = await startServer({ FUZZ_SERVER_CERT: serving.cert, FUZZ_SERVER_KEY: serving.key, FUZZ_CLIENT_CA: callers.caCert });
  let alive = true;
  void server.exited.then(() => (alive = false));
  const pool = new Pool(`https://127.0.0.1:${server.port}`, {
    connections: opts.concurrency,
    connect: { ca: serving.caCert, servername: 'localhost', cert: callers.clients.fuzzer!.cert, key: callers.clients.fuzzer!.key },
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const report: FuzzReport = {
    sent: 0, seed: opts.seed, seconds: 0, rps: 0, by_status: {}, by_mutation: {}, crashes: 0, server_errors: 0, transport_errors: 0,
    admission_replies: 0, admission_malformed: 0, admission_with_uid: 0, uid_echoed: 0, uid_mismatch: 0, extender_malformed: 0, over_limit: 0, over_limit_resets: 0, failures: [],
  };
  const fail = (what: string) => {
    if (report.failures.length < 20) report.failures.push(what.slice(0, 400));
  };
  const rng = prng(opts.seed);
  const weighted = ROUTES.flatMap((r) => Array<typeof r>(r.weight).fill(r));
  const started = Date.now();
  let next = 0;

  async function one(i: number): Promise<void> {
    const route = rng.pick(weighted);
    const seed = rng.chance(0.05) ? rng.pick(ALL_SEEDS) : rng.pick(route.seeds);
    const made = mutate(rng, seed);
    for (const m of made.mutations) report.by_mutation[m] = (report.by_mutation[m] ?? 0) + 1;
    if (made.body.length > BODY_LIMIT) report.over_limit++;
    const label = `#${i} ${route.path} [${made.mutations.join(',')}] ${made.body.length} bytes`;
    let status: number;
    let text: string;
    try {
      const res = await pool.request({ path: route.path, method: 'POST', headers: made.contentType ? { 'content-type': made.contentType } : {}, body: made.body });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      if (!alive) return;
      if (made.body.length > BODY_LIMIT) {
        // Refused unread: the server answers 413 and closes while the client is still sending.
        report.over_limit_resets++;
        return;
      }
      report.transport_errors++;
      fail(`${label}: transport error ${(err as Error).message}`);
      return;
    } finally {
      report.sent++;
    }
    report.by_status[status] = (report.by_status[status] ?? 0) + 1;
    if (status >= 500) {
      report.server_errors++;
      fail(`${label}: HTTP ${status} ${text.slice(0, 200)}`);
    }
    let reply: { kind?: unknown; response?: { uid?: unknown; allowed?: unknown; status?: { code?: unknown; message?: unknown } } } | null = null;
    try {
      reply = JSON.parse(text);
    } catch {
      reply = null;
    }
    if (route.path.startsWith('/admission/')) {
      report.admission_replies++;
      const r = reply?.response;
      const wellFormed =
        status === 200 && reply?.kind === 'AdmissionReview' && typeof r?.uid === 'string' && typeof r?.allowed === 'boolean' &&
        (r.allowed === true || (typeof r.status?.code === 'number' && typeof r.status?.message === 'string'));
      if (!wellFormed) {
        report.admission_malformed++;
        fail(`${label}: malformed admission reply HTTP ${status} ${text.slice(0, 200)}`);
        return;
      }
      // The uid the body carries, as the server can read it (invalid UTF-8 is decoded with U+FFFD).
      let sentUid: unknown;
      try {
        sentUid = (JSON.parse(made.body.toString('utf8')) as { request?: { uid?: unknown } } | null)?.request?.uid;
      } catch {
        sentUid = undefined;
      }
      if (made.body.length <= BODY_LIMIT && typeof sentUid === 'string') {
        report.admission_with_uid++;
        if (r!.uid === sentUid) report.uid_echoed++;
        else {
          report.uid_mismatch++;
          fail(`${label}: uid ${JSON.stringify(sentUid).slice(0, 60)} answered with ${JSON.stringify(r!.uid).slice(0, 60)}`);
        }
      }
    } else if (status < 500 && reply === null) {
      report.extender_malformed++;
      fail(`${label}: extender reply is not JSON: HTTP ${status} ${text.slice(0, 200)}`);
    }
  }

  async function worker(): Promise<void> {
    while (alive && next < opts.total) {
      const i = next++;
      await one(i);
      if (opts.progressEvery && report.sent % opts.progressEvery === 0) {
        const s = (Date.now() - started) / 1000;
        process.stderr.write(`[fuzz] ${report.sent}/${opts.total} sent in ${s.toFixed(0)}s; 5xx ${report.server_errors}, transport errors ${report.transport_errors}, malformed admission ${report.admission_malformed}, uid mismatches ${report.uid_mismatch}\n`);
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  if (!alive) {
    report.crashes++;
    fail(`the server process exited: ${server.stderr().slice(-1500)}`);
  }
  report.seconds = Number(((Date.now() - started) / 1000).toFixed(1));
  report.rps = Math.round(report.sent / Math.max(report.seconds, 0.001));
  await pool.close();
  server.child.kill('SIGTERM');
  await server.exited;
  return report;
}

export function passed(r: FuzzReport): boolean {
  return r.crashes === 0 && r.server_errors === 0 && r.transport_errors === 0 && r.admission_malformed === 0 && r.uid_mismatch === 0 && r.extender_malformed === 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { total: { type: 'string' }, concurrency: { type: 'string' }, seed: { type: 'string' } } });
  const total = Number(values.total ?? process.env.FUZZ_TOTAL ?? 100_000);
  const concurrency = Number(values.concurrency ?? process.env.FUZZ_CONCURRENCY ?? 16);
  const seed = Number(values.seed ?? process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  process.stderr.write(`[fuzz] ${total} mutated bodies from ${ALL_SEEDS.length} recorded fixtures, ${concurrency} connections, seed ${seed}\n`);
  const report = await runFuzz({ total, concurrency, seed, progressEvery: Math.max(1000, Math.round(total / 20)) });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(passed(report) ? 0 : 1);
}
