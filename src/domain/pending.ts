// Why is a member pod Pending? A pure diagnosis from the scheduler's own message and what the cluster
// offers, in sentences a person can act on (which resource, how much is asked, the most any node has
// free; which StorageClass or volume is missing; which taint or label rule excludes the nodes).
import { formatBytes, formatCpu } from '../cluster/quantity.ts';

export interface PendingPod {
  name: string;
  component: 'pd' | 'tikv' | 'tidb';
  /** CPU in cores, memory in bytes (sum over containers). */
  requests: { cpu: number; memory: number };
  nodeSelector: Record<string, string>;
  tolerations: Array<{ key?: string; operator?: string; value?: string; effect?: string }>;
  /** The PodScheduled condition message of the scheduler, if any. */
  schedulerMessage: string | null;
  claims: Array<{ name: string; storageClassName: string | null; phase: string; size: number }>;
}

export interface NodeCapacity {
  name: string;
  allocatable: { cpu: number; memory: number };
  requested: { cpu: number; memory: number };
  taints: Array<{ key: string; value?: string; effect: string }>;
  labels: Record<string, string>;
  unschedulable: boolean;
}

export interface StorageFacts {
  classes: string[];
  defaultClass: string | null;
  /** Available (unbound) PersistentVolumes. */
  freeVolumes: Array<{ storageClassName: string; capacity: number }>;
}

export interface Diagnosis {
  code: 'InsufficientCPU' | 'InsufficientMemory' | 'NoStorageClass' | 'NoPersistentVolume' | 'PDPlacementRule' | 'UntoleratedTaint' | 'NodeSelectorMismatch' | 'Unschedulable';
  message: string;
}

const tolerates = (pod: PendingPod, t: NodeCapacity['taints'][number]) =>
  t.effect === 'PreferNoSchedule' ||
  pod.tolerations.some((x) => (x.operator === 'Exists' && (!x.key || x.key === t.key)) || (x.key === t.key && (x.value ?? '') === (t.value ?? '') && (!x.effect || x.effect === t.effect)));

const fieldOf = (pod: PendingPod, what: string) => `spec.${pod.component}.${what}`;

export function diagnosePending(pod: PendingPod, nodes: readonly NodeCapacity[], storage: StorageFacts): Diagnosis {
  const msg = pod.schedulerMessage ?? '';
  const schedulable = nodes.filter((n) => !n.unschedulable);
  // Storage first: the scheduler cannot place a pod whose claim can never bind.
  for (const claim of pod.claims.filter((c) => c.phase !== 'Bound')) {
    const cls = claim.storageClassName ?? storage.defaultClass;
    if (cls === null) {
      return { code: 'NoStorageClass', message: `${pod.name}: volume claim ${claim.name} names no StorageClass and the cluster has no default one; set ${fieldOf(pod, 'storageClassName')} or mark a StorageClass as default` };
    }
    if (!storage.classes.includes(cls)) {
      return { code: 'NoStorageClass', message: `${pod.name}: volume claim ${claim.name} asks for StorageClass "${cls}", which does not exist (existing: ${storage.classes.join(', ') || 'none'}); create it or change ${fieldOf(pod, 'storageClassName')}` };
    }
    if (/persistent ?volume|PersistentVolumeClaim|volume node affinity|bind/i.test(msg)) {
      const fitting = storage.freeVolumes.filter((v) => v.storageClassName === cls && v.capacity >= claim.size);
      if (fitting.length === 0) {
        return { code: 'NoPersistentVolume', message: `${pod.name}: no available PersistentVolume of StorageClass "${cls}" holds ${formatBytes(claim.size)} for claim ${claim.name}; create one or use a StorageClass with a provisioner` };
      }
    }
  }
  for (const [res, code] of [['cpu', 'InsufficientCPU'], ['memory', 'InsufficientMemory']] as const) {
    if (!new RegExp(`Insufficient ${res}`, 'i').test(msg)) continue;
    const want = pod.requests[res];
    let best: NodeCapacity | null = null;
    let bestFree = -Infinity;
    for (const n of schedulable) {
      const free = n.allocatable[res] - n.requested[res];
      if (free > bestFree) {
        bestFree = free;
        best = n;
      }
    }
    const fmt = res === 'cpu' ? (v: number) => `${formatCpu(v)} CPU` : formatBytes;
    const where = best ? `${fmt(Math.max(0, bestFree))} (${best.name})` : 'nothing (no schedulable node)';
    return {
      code,
      message: `${pod.name} requests ${fmt(want)} ${res === 'cpu' ? '' : 'of memory '}but the most any node has free is ${where}; add a node with more ${res === 'cpu' ? 'CPU' : 'memory'} or lower ${fieldOf(pod, `requests.${res}`)}`,
    };
  }
  const pdRule = /PD member|quorum|majority/i.exec(msg);
  if (pdRule) {
    return { code: 'PDPlacementRule', message: `${pod.name}: the PD placement rule keeps it off every node: ${msg}; add a node in another failure domain` };
  }
  if (/untolerated taint/i.test(msg)) {
    const taints = [...new Set(schedulable.flatMap((n) => n.taints.filter((t) => !tolerates(pod, t)).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`)))];
    return { code: 'UntoleratedTaint', message: `${pod.name}: the nodes carry taints it does not tolerate (${taints.join(', ') || 'see the scheduler message'}); add them to ${fieldOf(pod, 'tolerations')} or remove them from the nodes` };
  }
  if (/didn't match Pod's node affinity|node selector|nodeSelector/i.test(msg)) {
    const sel = Object.entries(pod.nodeSelector);
    const matching = schedulable.filter((n) => sel.every(([k, v]) => n.labels[k] === v)).length;
    const what = sel.length ? `nodeSelector ${sel.map(([k, v]) => `${k}=${v}`).join(',')} matches ${matching} of ${schedulable.length} schedulable nodes` : 'its node affinity matches no schedulable node';
    return { code: 'NodeSelectorMismatch', message: `${pod.name}: ${what}; label nodes accordingly or change ${fieldOf(pod, sel.length ? 'nodeSelector' : 'affinity')}` };
  }
  return { code: 'Unschedulable', message: `${pod.name} cannot be scheduled: ${msg || 'the scheduler has not said why yet'}` };
}
