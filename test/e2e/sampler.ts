// A watch-based sampler of one TiDB cluster's pods and its DisruptionLedger, shared by the e2e suites
// that prove disruptions never take too many members away at once. Pods and the ledger are watched
// (`kubectl get -w --output-watch-events`), not polled, so a member away for less than a poll is still
// seen; their events are replayed in resourceVersion order (one etcd holds both here), so each sample
// is the cluster at one revision.
import { kubectlOk, kubectlWatch, sleep } from './helpers.ts';

export interface PodSample {
  name: string;
  uid: string;
  node: string | null;
  phase: string;
  ready: boolean;
  deleting: boolean;
  annotations: Record<string, string>;
}

export interface LeavingSample {
  component: string;
  member: string;
  pod: string;
  podUid: string;
  /** When tidb-steward allowed it (its clock, the same machine's). */
  since: string;
  act?: string;
}

export interface EvictionSample {
  storeId: string;
  cause: string;
  pod?: string;
}

/** The cluster at one revision: its pods (present ones only) and its ledger. */
export interface ClusterSample {
  rv: number;
  /** When the last event of this revision reached this process (ms). */
  at: number;
  pods: ReadonlyMap<string, PodSample>;
  leaving: readonly LeavingSample[];
  evictions: readonly EvictionSample[];
}

interface WatchEvent {
  rv: number;
  at: number;
  kind: 'pod' | 'ledger';
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
}

// The whole event as one line of JSON. No {range}: kubectl's watch prints only the first event of a
// template that has one.
const EVENT = 'jsonpath={@}{"\\n"}';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function podOf(o: any): PodSample {
  return {
    name: o.metadata.name,
    uid: o.metadata.uid,
    node: o.spec?.nodeName ?? null,
    phase: o.status?.phase ?? '',
    ready: (o.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(o.metadata.deletionTimestamp),
    annotations: o.metadata.annotations ?? {},
  };
}

export interface Sampler {
  /**
   * Resolves once the pod watch has listed every expected pod, with the revision from which the
   * replay knows the whole state: the watches' first lists arrive one object at a time, so a replay
   * of them alone would count pods not yet listed as missing.
   */
  ready: Promise<void>;
  /** The latest state as events arrive (not yet in revision order): for waits, not for proofs. */
  live(): ClusterSample;
  /** Resolves with the live state once `pred` holds for it, checked at every event. */
  when(what: string, pred: (s: ClusterSample) => boolean, timeoutMs?: number): Promise<ClusterSample>;
  /** Stops the watches; one sample per revision from the baseline on, in revision order (the same on every call). */
  stop(): Promise<ClusterSample[]>;
}

/**
 * Watches the pods matching `selector` in `namespace` and the DisruptionLedger of `cluster` until
 * stopped. `expectedPods` are the pods the cluster has when sampling starts.
 */
export function watchCluster(opts: { namespace: string; cluster: string; selector: string; expectedPods: readonly string[] }): Sampler {
  const { namespace, cluster, selector } = opts;
  const events: WatchEvent[] = [];
  const seen = new Set<string>();
  let baseline = Infinity;
  const livePods = new Map<string, PodSample>();
  let liveLedger: { leaving: LeavingSample[]; evictions: EvictionSample[] } = { leaving: [], evictions: [] };
  let liveRv = 0;
  const waiters = new Set<() => void>();
  let stopped: Promise<ClusterSample[]> | null = null;
  const live = (): ClusterSample => ({ rv: liveRv, at: Date.now(), pods: new Map(livePods), leaving: liveLedger.leaving, evictions: liveLedger.evictions });
  const ledgerOf = (type: string, spec: { leaving?: LeavingSample[]; evictions?: EvictionSample[] } | undefined) =>
    type === 'DELETED' ? { leaving: [], evictions: [] } : { leaving: spec?.leaving ?? [], evictions: spec?.evictions ?? [] };
  const record = (kind: 'pod' | 'ledger') => (line: string) => {
    let e: { type: string; object: { metadata: { name: string; resourceVersion: string }; spec?: never } };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    const rv = Number(e.object?.metadata?.resourceVersion);
    if (!Number.isFinite(rv)) return;
    events.push({ rv, at: Date.now(), kind, type: e.type, object: e.object });
    liveRv = Math.max(liveRv, rv);
    if (kind === 'pod') {
      seen.add(e.object.metadata.name);
      if (e.type === 'DELETED') livePods.delete(e.object.metadata.name);
      else livePods.set(e.object.metadata.name, podOf(e.object));
    } else liveLedger = ledgerOf(e.type, e.object.spec);
    for (const w of waiters) w();
  };
  const watches = [
    kubectlWatch(['get', 'pods', '-n', namespace, '-l', selector, '-w', '--output-watch-events', '-o', EVENT], record('pod')),
    kubectlWatch(['get', 'disruptionledgers.tidb-steward.dev', '-n', namespace, '--field-selector', `metadata.name=${cluster}`, '-w', '--output-watch-events', '-o', EVENT], record('ledger')),
  ];
  const ready = (async () => {
    const deadline = Date.now() + 30_000;
    while (!opts.expectedPods.every((p) => seen.has(p))) {
      if (Date.now() > deadline) throw new Error(`the pod watch did not list ${opts.expectedPods.filter((p) => !seen.has(p)).join(', ')} within 30s`);
      await sleep(100);
    }
    // kubectl prints lists without their resourceVersion: ask the API for the lists' own.
    const rvs = await Promise.all(
      [`/api/v1/namespaces/${namespace}/pods?limit=1`, `/apis/tidb-steward.dev/v1alpha1/namespaces/${namespace}/disruptionledgers?limit=1`].map(async (path) => Number(JSON.parse(await kubectlOk(['get', '--raw', path])).metadata.resourceVersion)),
    );
    if (!rvs.every((rv) => rv > 0)) throw new Error(`no list resourceVersion: ${rvs.join(', ')}`);
    baseline = Math.max(...rvs);
  })();
  return {
    ready,
    live,
    when(what, pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const s = live();
          if (!pred(s)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(s);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (watched)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      // Idempotent: a test's teardown stops it again, so a failed test leaves no kubectl running.
      return (stopped ??= replay());
    },
  };
  async function replay(): Promise<ClusterSample[]> {
    await Promise.all(watches.map((w) => w.stop()));
    const pods = new Map<string, PodSample>();
    let ledger: { leaving: LeavingSample[]; evictions: EvictionSample[] } = { leaving: [], evictions: [] };
    const samples: ClusterSample[] = [];
    const ordered = [...events].sort((a, b) => a.rv - b.rv);
    const snapshot = (rv: number, at: number) => samples.push({ rv, at, pods: new Map(pods), leaving: ledger.leaving, evictions: ledger.evictions });
    for (const [i, e] of ordered.entries()) {
      // The state at the baseline, once every event before it applied.
      if (e.rv >= baseline && (i === 0 || ordered[i - 1]!.rv < baseline)) snapshot(ordered[i - 1]?.rv ?? e.rv, e.at);
      if (e.kind === 'pod') {
        if (e.type === 'DELETED') pods.delete(e.object.metadata.name);
        else pods.set(e.object.metadata.name, podOf(e.object));
      } else ledger = ledgerOf(e.type, e.object.spec);
      // Then one sample per revision: the state once all of that revision's events applied.
      if (e.rv >= baseline && ordered[i + 1]?.rv !== e.rv) snapshot(e.rv, e.at);
    }
    return samples;
  }
}

/** Pod names that are away in a sample: missing, deleting, not Running or not Ready. */
export function podAway(s: ClusterSample, pod: string): boolean {
  const p = s.pods.get(pod);
  return !p || p.deleting || p.phase !== 'Running' || !p.ready;
}
