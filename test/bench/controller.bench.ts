// npm run bench:controller — BENCH_CLUSTERS (default 100) TidbClusters applied at once on the local
// control plane (kwok nodes, the PD stand-in following the pods): seconds until every one is Ready,
// and tidb-steward's resident memory (peak while converging, and after), printed as one JSON line.
import { readFileSync } from 'node:fs';
import { defaultNodes, ensureCluster, KUBECONFIG } from '../cluster/controlplane.ts';
import { readPids } from '../cluster/procs.ts';
import { PdFleet } from '../e2e/pd-fleet.ts';
import { dropReleasedVolumes, ensureVolumes, installCrd, tidbCluster } from '../e2e/tc-helpers.ts';
import { kubectl, kubectlOk, sleep } from '../e2e/helpers.ts';

const N = Number(process.env.BENCH_CLUSTERS ?? 100);
const NS = 'bench-tc';
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** The node process of tidb-steward (the pid file holds its process group leader). */
function stewardPid(): number {
  const pid = readPids()['tidb-steward'];
  if (!pid) throw new Error('tidb-steward is not running');
  return pid;
}

const fleet = new PdFleet();
try {
  await fleet.start();
  const names = Array.from({ length: N }, (_, i) => `tc${String(i).padStart(3, '0')}`);
  const env = { STEWARD_PD_ENDPOINTS: fleet.stewardEndpoints(names.map((n) => [NS, n])), STEWARD_LOG_LEVEL: 'warn' };
  // 7 pods per cluster; kwok nodes hold plenty, PD's rule wants 3 failure domains per cluster.
  log(`local control plane with 10 nodes; tidb-steward restarted with PD endpoints of ${N} clusters`);
  await ensureCluster({ stewardEnv: env, nodes: defaultNodes(10) });
  await fleet.follow(KUBECONFIG);
  await installCrd();
  await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=300s'], { timeoutMs: 320_000 });
  await kubectlOk(['create', 'namespace', NS]);
  await dropReleasedVolumes();
  log(`creating ${N * 6} PersistentVolumes`);
  await ensureVolumes(N * 6, '1Gi', `bench-${Date.now().toString(36)}`);
  await sleep(2000);
  const pid = stewardPid();
  const rssBefore = rssMb(pid);
  const manifest = names.map((n) => tidbCluster(NS, n, { tidb: { replicas: 1 } })).join('\n---\n');
  const started = Date.now();
  await kubectlOk(['apply', '-f', '-'], manifest);
  log(`${N} TidbClusters applied in ${((Date.now() - started) / 1000).toFixed(1)}s; waiting for all Ready`);
  let peak = rssBefore;
  let ready = 0;
  let lastSay = 0;
  const deadline = Date.now() + Number(process.env.BENCH_TIMEOUT_MS ?? 900_000);
  while (Date.now() < deadline) {
    peak = Math.max(peak, rssMb(pid));
    const out = await kubectlOk(['get', 'tidbclusters', '-n', NS, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
    ready = out.split('\n').filter((l) => l === 'True').length;
    if (ready === N) break;
    if (Date.now() - lastSay > 10_000) {
      log(`${ready}/${N} Ready after ${((Date.now() - started) / 1000).toFixed(0)}s, tidb-steward RSS ${rssMb(pid)} MB`);
      lastSay = Date.now();
    }
    await sleep(1000);
  }
  const seconds = (Date.now() - started) / 1000;
  await sleep(5000);
  const settled = rssMb(pid);
  const pods = Number((await kubectlOk(['get', 'pods', '-n', NS, '--no-headers', '-o', 'name'])).trim().split('\n').filter(Boolean).length);
  process.stdout.write(
    `${JSON.stringify({ bench: 'controller', clusters: N, ready, pods, seconds_to_all_ready: Number(seconds.toFixed(1)), rss_mb_before: rssBefore, rss_mb_peak: peak, rss_mb_after: settled, pd: 'stand-in', nodes: 10 })}\n`,
  );
  log(`cleaning up: deleting namespace ${NS}`);
  await kubectl(['delete', 'namespace', NS, '--wait=false']);
  await fleet.stop();
  if (ready !== N) process.exit(1);
} catch (err) {
  log(`failed: ${(err as Error).message}`);
  await fleet.stop().catch(() => undefined);
  process.exit(1);
}
