// Shared by the controller e2e test, the demo and the benchmark: the CRD, storage the kwok nodes can
// offer (a StorageClass without provisioner and pre-created PersistentVolumes), the Lease namespace,
// and TidbCluster manifests and status reads.
import { readFileSync } from 'node:fs';
import { kubectl, kubectlOk } from '../cluster/controlplane.ts';

export const STORAGE_CLASS = 'e2e-local';

export async function installCrd(): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], readFileSync(new URL('../../manifests/crd-tidbcluster.yaml', import.meta.url), 'utf8'));
  await kubectlOk(['wait', '--for=condition=Established', 'crd/tidbclusters.tidb-steward.dev', '--timeout=60s']);
  // The controller's Lease lives in tidb-steward's namespace.
  const ns = await kubectl(['get', 'namespace', 'tidb-steward']);
  if (ns.code !== 0) await kubectlOk(['create', 'namespace', 'tidb-steward']);
}

/**
 * kwok provisions no volumes: a StorageClass with no provisioner, bound at once (Immediate) to
 * pre-created hostPath PersistentVolumes that nothing ever writes to. `count` more volumes of `size`.
 */
export async function ensureVolumes(count: number, size = '1Gi', prefix = 'e2e-pv'): Promise<void> {
  const docs: unknown[] = [
    { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: STORAGE_CLASS }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'Immediate', reclaimPolicy: 'Retain' },
  ];
  for (let i = 0; i < count; i++) {
    docs.push({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${prefix}-${i}`, labels: { 'tidb-steward.dev/e2e': 'true' } },
      spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: STORAGE_CLASS, hostPath: { path: `/mnt/kwok-volumes/${prefix}-${i}` } },
    });
  }
  await kubectlOk(['apply', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n---\n'));
}

/** PVs released by deleted claims are not reused by Kubernetes: drop them (tests make new ones). */
export async function dropReleasedVolumes(): Promise<void> {
  const out = await kubectlOk(['get', 'pv', '-l', 'tidb-steward.dev/e2e=true', '-o', 'json']);
  const released = (JSON.parse(out).items as Array<{ metadata: { name: string }; status: { phase: string } }>).filter((v) => v.status.phase === 'Released').map((v) => v.metadata.name);
  if (released.length) await kubectl(['delete', 'pv', ...released, '--wait=false']);
}

export function tidbCluster(namespace: string, name: string, spec: Record<string, unknown> = {}): string {
  const volume = { storageClassName: STORAGE_CLASS, storageSize: '1Gi' };
  const s = spec as Record<string, Record<string, unknown> | undefined>;
  return JSON.stringify({
    apiVersion: 'tidb-steward.dev/v1alpha1',
    kind: 'TidbCluster',
    metadata: { name, namespace },
    spec: {
      ...spec,
      pd: { replicas: 3, ...volume, ...s.pd },
      tikv: { replicas: 3, ...volume, ...s.tikv },
      tidb: { replicas: 2, ...s.tidb },
    },
  });
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function getTc(namespace: string, name: string): Promise<any> {
  return JSON.parse(await kubectlOk(['get', 'tidbcluster', '-n', namespace, name, '-o', 'json']));
}

export function condition(tc: any, type: string): { status: string; reason: string; message: string; observedGeneration?: number } | undefined {
  return tc?.status?.conditions?.find((c: any) => c.type === type);
}

export async function isReady(namespace: string, name: string): Promise<boolean> {
  const tc = await getTc(namespace, name);
  const c = condition(tc, 'Ready');
  return c?.status === 'True' && c.observedGeneration === tc.metadata.generation;
}

export async function patchTc(namespace: string, name: string, patch: Record<string, unknown>): Promise<void> {
  await kubectlOk(['patch', 'tidbcluster', '-n', namespace, name, '--type=merge', '-p', JSON.stringify(patch)]);
}

export async function stsReplicas(namespace: string, name: string): Promise<number | null> {
  const r = await kubectl(['get', 'statefulset', '-n', namespace, name, '-o', 'jsonpath={.spec.replicas}']);
  return r.code === 0 ? Number(r.stdout) : null;
}
