// Pending-pod diagnosis: the scheduler's message plus what the cluster offers → an actionable sentence.
import t from 'tap';
import { diagnosePending, type NodeCapacity, type PendingPod, type StorageFacts } from '../../src/domain/pending.ts';

const pod = (over: Partial<PendingPod> = {}): PendingPod => ({ name: 'basic-tikv-3', component: 'tikv', requests: { cpu: 64, memory: 2 ** 30 }, nodeSelector: {}, tolerations: [], schedulerMessage: null, claims: [], ...over });
const node = (name: string, cpuFree: number, over: Partial<NodeCapacity> = {}): NodeCapacity => ({ name, allocatable: { cpu: 32, memory: 256 * 2 ** 30 }, requested: { cpu: 32 - cpuFree, memory: 0 }, taints: [], labels: { 'kubernetes.io/hostname': name }, unschedulable: false, ...over });
const storage: StorageFacts = { classes: ['local'], defaultClass: null, freeVolumes: [{ storageClassName: 'local', capacity: 10 * 2 ** 30 }] };
const nodes = [node('node-a', 3.5), node('node-b', 12), node('node-c', 0.25, { unschedulable: true })];

t.test('diagnoses', async (t) => {
  const table: Array<{ name: string; pod: PendingPod; storage?: StorageFacts; code: string; message: RegExp }> = [
    { name: 'CPU: how much is asked, the most any node has free', pod: pod({ schedulerMessage: '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.' }), code: 'InsufficientCPU', message: /basic-tikv-3 requests 64 CPU but the most any node has free is 12 CPU \(node-b\); add a node with more CPU or lower spec\.tikv\.requests\.cpu/ },
    { name: 'memory', pod: pod({ requests: { cpu: 1, memory: 512 * 2 ** 30 }, schedulerMessage: '0/3 nodes are available: 3 Insufficient memory.' }), code: 'InsufficientMemory', message: /requests 512Gi of memory but the most any node has free is 256Gi/ },
    { name: 'missing StorageClass', pod: pod({ schedulerMessage: 'pod has unbound immediate PersistentVolumeClaims', claims: [{ name: 'tikv-basic-tikv-3', storageClassName: 'fast', phase: 'Pending', size: 2 ** 30 }] }), code: 'NoStorageClass', message: /StorageClass "fast", which does not exist \(existing: local\)/ },
    { name: 'no default StorageClass', pod: pod({ claims: [{ name: 'tikv-basic-tikv-3', storageClassName: null, phase: 'Pending', size: 2 ** 30 }] }), code: 'NoStorageClass', message: /no default one/ },
    { name: 'no PV big enough', pod: pod({ schedulerMessage: "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind.", claims: [{ name: 'tikv-basic-tikv-3', storageClassName: 'local', phase: 'Pending', size: 100 * 2 ** 30 }] }), code: 'NoPersistentVolume', message: /no available PersistentVolume of StorageClass "local" holds 100Gi/ },
    { name: 'taints', pod: pod({ schedulerMessage: "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: db}." }), code: 'UntoleratedTaint', message: /dedicated=db:NoSchedule.*spec\.tikv\.tolerations/ },
    { name: 'node selector', pod: pod({ nodeSelector: { disk: 'ssd' }, schedulerMessage: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." }), code: 'NodeSelectorMismatch', message: /nodeSelector disk=ssd matches 0 of 2 schedulable nodes/ },
    { name: 'PD placement rule', pod: pod({ name: 'basic-pd-3', component: 'pd', schedulerMessage: '0/3 nodes are available: 3 node(s) would hold a majority of the PD members of db/basic.' }), code: 'PDPlacementRule', message: /PD placement rule/ },
    { name: 'anything else: the scheduler message', pod: pod({ schedulerMessage: '0/3 nodes are available: 3 node(s) had volume node affinity conflict.x' }), storage: { ...storage, classes: ['local'] }, code: 'Unschedulable', message: /cannot be scheduled: 0\/3 nodes/ },
  ];
  const tainted = nodes.map((n) => ({ ...n, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }));
  for (const c of table) {
    const d = diagnosePending(c.pod, c.name === 'taints' ? tainted : nodes, c.storage ?? storage);
    t.equal(d.code, c.code, c.name);
    t.match(d.message, c.message, `${c.name}: ${d.message}`);
  }
});

t.test('a tolerated taint is not named', async (t) => {
  const tainted = [node('node-a', 1, { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }, { key: 'gpu', effect: 'NoSchedule' }] })];
  const d = diagnosePending(pod({ tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }], schedulerMessage: '1 node(s) had untolerated taint {gpu: }' }), tainted, storage);
  t.match(d.message, /\(gpu:NoSchedule\)/);
});
