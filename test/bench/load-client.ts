// Load generator for the benchmarks, run as a child process so that its work and memory stay out of
// the measured server. Keep-alive connections, like kube-scheduler's and kube-apiserver's clients.
import { Pool } from 'undici';

export interface LoadRequest {
  url: string;
  path: string;
  body: string;
  ca: string;
  durationMs: number;
  warmupRequests: number;
  concurrency: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  elapsedMs: number;
  latenciesMs: number[];
}

async function run(req: LoadRequest): Promise<LoadResult> {
  const pool = new Pool(req.url, { connections: req.concurrency, pipelining: 1, connect: { ca: req.ca, servername: 'localhost' } });
  const headers = { 'content-type': 'application/json' };
  const one = async () => {
    const res = await pool.request({ method: 'POST', path: req.path, headers, body: req.body });
    await res.body.arrayBuffer();
    return res.statusCode;
  };
  for (let i = 0; i < req.warmupRequests; i++) await one();
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + req.durationMs;
  await Promise.all(
    Array.from({ length: req.concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await one().catch(() => 0);
        latencies.push(performance.now() - t0);
        if (status !== 200) errors++;
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  await pool.close();
  return { requests: latencies.length, errors, elapsedMs, latenciesMs: latencies };
}

process.on('message', (msg: LoadRequest) => {
  run(msg).then(
    (result) => process.send?.(result),
    (err: Error) => process.send?.({ error: err.message }),
  );
});
