// Shared by the benchmarks: a load client in a child process, interleaved runs of our server and a
// bare Fastify route on the same body, percentiles and the final JSON line.
import { fork } from 'node:child_process';
import type { LoadRequest, LoadResult } from './load-client.ts';

export const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2500);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export interface Target {
  url: string;
  path: string;
}

export interface Case {
  name: string;
  nodes?: number;
  body: () => string;
  ours: Target;
  baseline: Target;
  /** A route that answers {} without reading the body, to show what the reply itself costs. */
  noop?: Target;
  /** Long cases run longer with fewer warm-up requests. */
  slow?: boolean;
}

export interface Row {
  name: string;
  nodes?: number;
  body_kb: number;
  p50_ms: number;
  p99_ms: number;
  rps: number;
  baseline_p50_ms: number;
  baseline_p99_ms: number;
  baseline_rps: number;
  noop_rps?: number;
  errors: number;
}

export function startLoadClient(ca: string) {
  const child = fork(new URL('./load-client.ts', import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const load = (target: Target, body: string, durationMs: number, warmupRequests: number) =>
    new Promise<LoadResult>((resolve, reject) => {
      child.once('message', (m: LoadResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
      const req: LoadRequest = { url: target.url, path: target.path, body, ca, durationMs, warmupRequests, concurrency: CONCURRENCY };
      child.send(req);
    });
  return { load, stop: () => child.kill() };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Runs one case: our server and the bare route alternately, ROUNDS times each. */
export async function runCase(client: ReturnType<typeof startLoadClient>, c: Case): Promise<Row> {
  const body = c.body();
  const durationMs = c.slow ? DURATION_MS * 2 : DURATION_MS;
  const warmup = c.slow ? 5 : 200;
  const mine: number[] = [];
  const theirs: number[] = [];
  let mineReq = 0, mineMs = 0, baseReq = 0, baseMs = 0, noopReq = 0, noopMs = 0, errors = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = await client.load(c.ours, body, durationMs, warmup);
    const b = await client.load(c.baseline, body, durationMs, warmup);
    mine.push(...a.latenciesMs);
    theirs.push(...b.latenciesMs);
    mineReq += a.requests; mineMs += a.elapsedMs; baseReq += b.requests; baseMs += b.elapsedMs;
    errors += a.errors + b.errors;
    if (c.noop) {
      const z = await client.load(c.noop, body, durationMs / 2, warmup);
      noopReq += z.requests; noopMs += z.elapsedMs;
    }
  }
  mine.sort((x, y) => x - y);
  theirs.sort((x, y) => x - y);
  const row: Row = {
    name: c.name,
    ...(c.nodes !== undefined ? { nodes: c.nodes } : {}),
    body_kb: Math.round(body.length / 1024),
    p50_ms: round3(pct(mine, 50)),
    p99_ms: round3(pct(mine, 99)),
    rps: Math.round((mineReq / mineMs) * 1000),
    baseline_p50_ms: round3(pct(theirs, 50)),
    baseline_p99_ms: round3(pct(theirs, 99)),
    baseline_rps: Math.round((baseReq / baseMs) * 1000),
    ...(c.noop ? { noop_rps: Math.round((noopReq / noopMs) * 1000) } : {}),
    errors,
  };
  log(
    `${row.name.padEnd(22)} ${row.nodes !== undefined ? `${String(row.nodes).padStart(5)} nodes ` : ''} p50 ${row.p50_ms} ms  p99 ${row.p99_ms} ms  ${row.rps} rps` +
      `   | bare route p50 ${row.baseline_p50_ms} ms  p99 ${row.baseline_p99_ms} ms  ${row.baseline_rps} rps  (ratio ${(row.rps / row.baseline_rps).toFixed(2)})` +
      `${row.noop_rps !== undefined ? ` | empty reply ${row.noop_rps} rps` : ''}${errors ? `  ERRORS ${errors}` : ''}`,
  );
  return row;
}

export function serverUrl(app: { server: { address(): unknown } }): string {
  return `https://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}
