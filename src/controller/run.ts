// Wiring of the controller into the process: every replica campaigns for the Lease; the holder starts
// the controller's caches and workers, fenced by its leadership, and stops them when it loses the Lease.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { podSource, statefulSetSource, type KubeClients } from '../k8s/client.ts';
import type { EventSink } from '../k8s/events.ts';
import {
  apply,
  CONTROLLER_SELECTOR,
  controllerClients,
  controllerPodView,
  controllerStsView,
  diagnosisFactsReader,
  kubeLeaseLock,
  renewRetiredClaims,
  deleteMemberPod,
  retireClaims,
  setFinalizers,
  tidbClusterSource,
  tidbClusterView,
  writeStatus,
} from '../k8s/tidbclusters.ts';
import { TidbClusterController, type DisruptionPort, type PdPort } from './controller.ts';
import { LEASE_TIMING, LeaderElector } from './leader.ts';
import { actDeadlineMs } from './fence.ts';

export interface RunControllerOptions {
  clients: KubeClients;
  logger: Logger;
  events: EventSink;
  pdFor(namespace: string, cluster: string): PdPort | Promise<PdPort>;
  disruptions: DisruptionPort;
  nodeLabels?: (node: string) => Readonly<Record<string, string>> | undefined;
  leaseNamespace: string;
  leaseName: string;
  identity?: string;
  workers: number;
  evictTimeoutMs: number;
  pendingGraceMs: number;
  upgrade?: { readyTimeoutMs: number; leaderReturnMs: number };
  relistIntervalMs: number;
  staleAfterMs: number;
}

export function runController(opts: RunControllerOptions): { elector: LeaderElector; controller: TidbClusterController; stop(): Promise<void> } {
  const { clients, logger } = opts;
  const cc = controllerClients(clients);
  const log = logger.child({ part: 'controller' });
  const diagnosisFacts = diagnosisFactsReader(clients, cc);
  const controller = new TidbClusterController({
    logger: log,
    events: opts.events,
    pdFor: opts.pdFor,
    disruptions: opts.disruptions,
    ...(opts.nodeLabels ? { nodeLabels: opts.nodeLabels } : {}),
    workers: opts.workers,
    evictTimeoutMs: opts.evictTimeoutMs,
    pendingGraceMs: opts.pendingGraceMs,
    ...(opts.upgrade ? { upgrade: opts.upgrade } : {}),
    relistIntervalMs: opts.relistIntervalMs,
    staleAfterMs: opts.staleAfterMs,
    // Shutdown (stop campaigning ≤ 2 Lease calls, this wait, release ≤ 2 Lease calls) must fit in the
    // process's 10 s close grace.
    stopTimeoutMs: 3000,
    writeDeadlineMs: actDeadlineMs(LEASE_TIMING),
    sources: {
      clusters: tidbClusterSource(clients, cc),
      pods: podSource(clients, CONTROLLER_SELECTOR),
      statefulSets: statefulSetSource(clients, CONTROLLER_SELECTOR),
    },
    views: { cluster: tidbClusterView, pod: controllerPodView, sts: controllerStsView },
    io: {
      apply: (obj) => apply(clients, cc, obj),
      writeStatus: (ns, name, status, rv) => writeStatus(cc, ns, name, status, rv),
      setFinalizers: (ns, name, finalizers, rv) => setFinalizers(cc, ns, name, finalizers, rv),
      diagnosisFacts,
      retireClaims: (ns, claims, note) => retireClaims(clients, ns, claims, note),
      renewRetiredClaims: (ns, claims) => renewRetiredClaims(clients, ns, claims),
      deletePod: (ns, name, uid) => deleteMemberPod(clients, ns, name, uid),
    },
  });
  const identity = opts.identity ?? `${hostname()}_${process.pid}`;
  const elector = new LeaderElector({
    identity,
    lock: kubeLeaseLock(cc, opts.leaseNamespace, opts.leaseName, LEASE_TIMING.callTimeoutMs),
    onStartedLeading(fence) {
      log.info({ identity, lease: `${opts.leaseNamespace}/${opts.leaseName}` }, 'became the leader: running the TidbCluster controller');
      void controller.start(fence);
    },
    onStoppedLeading(reason) {
      if (reason === 'released') log.info({ identity }, 'giving the lease up: the TidbCluster controller has stopped');
      else log.warn({ identity, reason }, `stopped acting as the leader (${reason}): stopping the TidbCluster controller`);
      void controller.stop();
    },
    onNewLeader(holder) {
      if (holder !== identity) log.info({ leader: holder }, 'another replica runs the TidbCluster controller');
    },
    onError(err) {
      log.warn({ err: (err as Error).message, lease: `${opts.leaseNamespace}/${opts.leaseName}` }, 'leader election: could not read or write the lease; retrying');
    },
  });
  elector.start();
  return { elector, controller, stop: () => shutDown(elector, controller) };
}

/**
 * Shutdown in controller-runtime's order: stop campaigning (the lease is kept and its fence holds),
 * end the controller (fenced at once; in-flight reconciles get a bounded wait), and only then give the
 * lease up, so the next leader never runs beside a reconcile of this one.
 */
export async function shutDown(elector: Pick<LeaderElector, 'stopCampaigning' | 'release'>, controller: Pick<TidbClusterController, 'stop'>): Promise<void> {
  await elector.stopCampaigning();
  await controller.stop();
  await elector.release();
}
