/* eslint-disable @typescript-eslint/no-explicit-any */
// Builds the real Fastify app over filled caches, for inject() and TLS tests.
import { readFileSync } from 'node:fs';
import { buildApp, type ClientAuth } from '../../src/http/app.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { PlacementService } from '../../src/services/placement.ts';
import { ReservationLedger } from '../../src/state/ledger.ts';
import { PodStore } from '../../src/state/stores.ts';
import type { ServingPair } from '../../src/tls/certs.ts';
import type { NodeView, PodView } from '../../src/domain/model.ts';
import { makeNode, stores } from '../builders.ts';
import { FakeEvents, fakeBinder, pdClientFor, silentLogger, standinPd } from '../fakes.ts';
import { FakeLivePods, FakeTeardown, MemoryLedger } from '../drain-fakes.ts';
import type { PdStandin } from '../pd-standin.ts';
import { DrainService } from '../../src/services/drain.ts';

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/extender/${name}`, import.meta.url), 'utf8'));
}

export const fixtureNodes: NodeView[] = ['a', 'b', 'c'].map((z) => makeNode(`node-${z}`, { 'topology.kubernetes.io/zone': `zone-${z}` }));

export function admissionFixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(new URL(`../fixtures/admission/${name}`, import.meta.url), 'utf8'));
}

export function testApp(opts: { pods?: PodView[]; nodes?: NodeView[]; synced?: boolean; tls?: ServingPair; clientAuth?: ClientAuth; bodyLimitBytes?: number; pd?: PdStandin; statefulSets?: Array<{ namespace: string; name: string; replicas: number }>; clusterTopologyKeys?: (namespace: string, cluster: string) => readonly string[] | undefined } = {}) {
  const s = stores({
    nodes: opts.nodes ?? fixtureNodes,
    pods: opts.pods ?? [],
    statefulSets: opts.statefulSets ?? [{ namespace: 'db', name: 'basic-pd', replicas: 3 }, { namespace: 'db', name: 'basic-tikv', replicas: 3 }],
  });
  const api = new PodStore();
  api.replace([...s.pods.values()].map((p) => [`${p.namespace}/${p.name}`, p]));
  const binder = fakeBinder(api);
  const metrics = createMetrics({ defaultMetrics: false });
  let synced = opts.synced ?? true;
  const placement = new PlacementService({
    ...s,
    ledger: new ReservationLedger(),
    topologyKeys: ['kubernetes.io/hostname'],
    clusterTopologyKeys: opts.clusterTopologyKeys,
    binder,
    reservationTtlMs: 60_000,
    isSynced: () => synced,
    now: Date.now,
    logger: silentLogger,
  });
  const pd = opts.pd ?? standinPd(['basic-pd-0', 'basic-pd-1', 'basic-pd-2'], 'basic-pd-0');
  const client = pdClientFor(pd);
  const drain = new DrainService({
    pods: s.pods,
    nodes: s.nodes,
    pdFor: () => client,
    ledger: new MemoryLedger(),
    teardown: new FakeTeardown(),
    livePods: new FakeLivePods(),
    events: new FakeEvents(),
    metrics: { decision: (component, outcome) => metrics.drainDecisions.inc({ component, outcome }), waited: () => undefined },
    logger: silentLogger,
    now: Date.now,
    evictTimeoutMs: 600_000,
    abandonAfterMs: 300_000,
  });
  const app = buildApp({
    drain,
    admissionBodyLimitBytes: opts.bodyLimitBytes ?? 7 * 1024 * 1024,
    logger: silentLogger,
    metrics,
    placement,
    readiness: { pending: () => (synced ? [] : ['pods cache']) },
    extenderBodyLimitBytes: opts.bodyLimitBytes ?? 96 * 1024 * 1024,
    tls: opts.tls,
    clientAuth: opts.clientAuth,
  });
  return { app, api, binder, metrics, pd, drain, placement, ...s, setSynced: (v: boolean) => (synced = v) };
}

/** An inject() request with a JSON body (or a raw string) and the content type the callers send. */
export const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url,
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  headers: { 'content-type': 'application/json', ...headers },
});
