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

// Whole sentences, as `kubectl describe tc` shows them in the Degraded condition.
t.test('exact diagnoses', async (t) => {
  const claim = (over: Partial<PendingPod['claims'][number]> = {}) => ({ name: 'tikv-basic-tikv-3', storageClassName: 'local' as string | null, phase: 'Pending', size: 2 ** 30, ...over });
  const many = [node('node-a', 3.5, { requested: { cpu: 28.5, memory: 200 * 2 ** 30 } }), node('node-b', 12, { requested: { cpu: 20, memory: 250 * 2 ** 30 } }), node('node-c', 31, { unschedulable: true, requested: { cpu: 1, memory: 0 } })];
  const table: Array<{ name: string; pod: PendingPod; nodes?: NodeCapacity[]; storage?: StorageFacts; code: string; message: string }> = [
    { name: 'bound claims are not checked', pod: pod({ schedulerMessage: null, claims: [claim({ storageClassName: 'gone', phase: 'Bound' })] }), code: 'Unschedulable', message: 'basic-tikv-3 cannot be scheduled: the scheduler has not said why yet' },
    { name: 'no class, no default', pod: pod({ component: 'pd', name: 'basic-pd-1', claims: [claim({ storageClassName: null })] }), code: 'NoStorageClass', message: 'basic-pd-1: volume claim tikv-basic-tikv-3 names no StorageClass and the cluster has no default one; set spec.pd.storageClassName or mark a StorageClass as default' },
    { name: 'default class used when the claim names none', pod: pod({ claims: [claim({ storageClassName: null })] }), storage: { ...storage, defaultClass: 'standard' }, code: 'NoStorageClass', message: 'basic-tikv-3: volume claim tikv-basic-tikv-3 asks for StorageClass "standard", which does not exist (existing: local); create it or change spec.tikv.storageClassName' },
    { name: 'no classes at all', pod: pod({ claims: [claim({ storageClassName: 'fast' })] }), storage: { ...storage, classes: [] }, code: 'NoStorageClass', message: 'basic-tikv-3: volume claim tikv-basic-tikv-3 asks for StorageClass "fast", which does not exist (existing: none); create it or change spec.tikv.storageClassName' },
    { name: 'existing classes listed', pod: pod({ claims: [claim({ storageClassName: 'fast' })] }), storage: { ...storage, classes: ['local', 'slow'] }, code: 'NoStorageClass', message: 'basic-tikv-3: volume claim tikv-basic-tikv-3 asks for StorageClass "fast", which does not exist (existing: local, slow); create it or change spec.tikv.storageClassName' },
    { name: 'a fitting PV: not a volume problem', pod: pod({ schedulerMessage: "didn't find available persistent volumes to bind", claims: [claim({ size: 10 * 2 ** 30 })] }), code: 'Unschedulable', message: "basic-tikv-3 cannot be scheduled: didn't find available persistent volumes to bind" },
    { name: 'a PV of another class does not fit', pod: pod({ schedulerMessage: 'unbound PersistentVolumeClaim', claims: [claim()] }), storage: { classes: ['local', 'ssd'], defaultClass: null, freeVolumes: [{ storageClassName: 'ssd', capacity: 100 * 2 ** 30 }] }, code: 'NoPersistentVolume', message: 'basic-tikv-3: no available PersistentVolume of StorageClass "local" holds 1Gi for claim tikv-basic-tikv-3; create one or use a StorageClass with a provisioner' },
    { name: 'volume node affinity counts as a volume message', pod: pod({ schedulerMessage: '1 node(s) had volume node affinity conflict', claims: [claim({ size: 11 * 2 ** 30 })] }), code: 'NoPersistentVolume', message: 'basic-tikv-3: no available PersistentVolume of StorageClass "local" holds 11Gi for claim tikv-basic-tikv-3; create one or use a StorageClass with a provisioner' },
    { name: 'persistentvolume without a space', pod: pod({ schedulerMessage: 'no persistentvolume', claims: [claim({ size: 11 * 2 ** 30 })] }), code: 'NoPersistentVolume', message: 'basic-tikv-3: no available PersistentVolume of StorageClass "local" holds 11Gi for claim tikv-basic-tikv-3; create one or use a StorageClass with a provisioner' },
    { name: 'a PV exactly the size fits', pod: pod({ schedulerMessage: 'waiting to bind', claims: [claim({ size: 10 * 2 ** 30 })] }), code: 'Unschedulable', message: 'basic-tikv-3 cannot be scheduled: waiting to bind' },
    { name: 'unbound claim with an unrelated message goes on to CPU', pod: pod({ schedulerMessage: '3 Insufficient cpu', claims: [claim({ size: 99 * 2 ** 30 })] }), nodes: many, code: 'InsufficientCPU', message: 'basic-tikv-3 requests 64 CPU but the most any node has free is 12 CPU (node-b); add a node with more CPU or lower spec.tikv.requests.cpu' },
    { name: 'CPU: unschedulable nodes do not count, fractional cores', pod: pod({ requests: { cpu: 0.5, memory: 0 }, schedulerMessage: 'Insufficient CPU' }), nodes: [node('node-a', 0.25), node('node-b', 0.1), node('node-c', 8, { unschedulable: true })], code: 'InsufficientCPU', message: 'basic-tikv-3 requests 500m CPU but the most any node has free is 250m CPU (node-a); add a node with more CPU or lower spec.tikv.requests.cpu' },
    { name: 'CPU: overcommitted node shows 0', pod: pod({ requests: { cpu: 2, memory: 0 }, schedulerMessage: 'Insufficient cpu' }), nodes: [node('node-a', -1)], code: 'InsufficientCPU', message: 'basic-tikv-3 requests 2 CPU but the most any node has free is 0m CPU (node-a); add a node with more CPU or lower spec.tikv.requests.cpu' },
    { name: 'CPU: no schedulable node', pod: pod({ component: 'tidb', name: 'basic-tidb-0', schedulerMessage: 'Insufficient cpu' }), nodes: [node('node-c', 8, { unschedulable: true })], code: 'InsufficientCPU', message: 'basic-tidb-0 requests 64 CPU but the most any node has free is nothing (no schedulable node); add a node with more CPU or lower spec.tidb.requests.cpu' },
    { name: 'CPU: the first of equal nodes', pod: pod({ schedulerMessage: 'Insufficient cpu' }), nodes: [node('node-a', 4), node('node-b', 4)], code: 'InsufficientCPU', message: 'basic-tikv-3 requests 64 CPU but the most any node has free is 4 CPU (node-a); add a node with more CPU or lower spec.tikv.requests.cpu' },
    { name: 'memory: most free memory, not most CPU', pod: pod({ requests: { cpu: 1, memory: 100 * 2 ** 30 }, schedulerMessage: '2 Insufficient memory' }), nodes: many, code: 'InsufficientMemory', message: 'basic-tikv-3 requests 100Gi of memory but the most any node has free is 56Gi (node-a); add a node with more memory or lower spec.tikv.requests.memory' },
    { name: 'memory after CPU is not mentioned', pod: pod({ requests: { cpu: 1, memory: 100 * 2 ** 30 }, schedulerMessage: 'Insufficient memory, Insufficient cpu' }), nodes: many, code: 'InsufficientCPU', message: 'basic-tikv-3 requests 1 CPU but the most any node has free is 12 CPU (node-b); add a node with more CPU or lower spec.tikv.requests.cpu' },
    { name: 'PD rule: quorum', pod: pod({ name: 'basic-pd-3', component: 'pd', schedulerMessage: 'would break quorum' }), code: 'PDPlacementRule', message: 'basic-pd-3: the PD placement rule keeps it off every node: would break quorum; add a node in another failure domain' },
    { name: 'PD rule: PD member', pod: pod({ schedulerMessage: 'too many PD members' }), code: 'PDPlacementRule', message: 'basic-tikv-3: the PD placement rule keeps it off every node: too many PD members; add a node in another failure domain' },
    { name: 'PD rule: majority', pod: pod({ schedulerMessage: 'a Majority' }), code: 'PDPlacementRule', message: 'basic-tikv-3: the PD placement rule keeps it off every node: a Majority; add a node in another failure domain' },
    { name: 'taints: none named', pod: pod({ schedulerMessage: 'untolerated taint' }), code: 'UntoleratedTaint', message: 'basic-tikv-3: the nodes carry taints it does not tolerate (see the scheduler message); add them to spec.tikv.tolerations or remove them from the nodes' },
    {
      name: 'taints: deduplicated, unschedulable nodes and PreferNoSchedule skipped, Exists tolerations honoured',
      pod: pod({ schedulerMessage: 'untolerated taint', tolerations: [{ operator: 'Exists', key: 'gpu' }, { key: 'zone', value: 'a', effect: 'NoExecute' }] }),
      nodes: [
        node('n1', 1, { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }, { key: 'gpu', value: 'a100', effect: 'NoSchedule' }, { key: 'soft', effect: 'PreferNoSchedule' }, { key: 'zone', value: 'a', effect: 'NoSchedule' }] }),
        node('n2', 1, { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }, { key: 'zone', value: 'a', effect: 'NoExecute' }, { key: 'zone', value: 'b', effect: 'NoExecute' }] }),
        node('n3', 1, { unschedulable: true, taints: [{ key: 'cordoned', effect: 'NoSchedule' }] }),
      ],
      code: 'UntoleratedTaint',
      message: 'basic-tikv-3: the nodes carry taints it does not tolerate (dedicated=db:NoSchedule, zone=a:NoSchedule, zone=b:NoExecute); add them to spec.tikv.tolerations or remove them from the nodes',
    },
    { name: 'taints: Exists without a key tolerates everything', pod: pod({ schedulerMessage: 'untolerated taint', tolerations: [{ operator: 'Exists' }] }), nodes: [node('n1', 1, { taints: [{ key: 'a', effect: 'NoSchedule' }] })], code: 'UntoleratedTaint', message: 'basic-tikv-3: the nodes carry taints it does not tolerate (see the scheduler message); add them to spec.tikv.tolerations or remove them from the nodes' },
    { name: 'taints: Equal without value matches an empty value, any effect', pod: pod({ schedulerMessage: 'untolerated taint', tolerations: [{ key: 'a' }] }), nodes: [node('n1', 1, { taints: [{ key: 'a', effect: 'NoSchedule' }, { key: 'a', value: 'x', effect: 'NoSchedule' }] })], code: 'UntoleratedTaint', message: 'basic-tikv-3: the nodes carry taints it does not tolerate (a=x:NoSchedule); add them to spec.tikv.tolerations or remove them from the nodes' },
    { name: 'taints: a toleration for another key does not help', pod: pod({ schedulerMessage: 'untolerated taint', tolerations: [{ key: 'b', operator: 'Exists' }, { key: 'c', value: 'x' }] }), nodes: [node('n1', 1, { taints: [{ key: 'a', value: 'x', effect: 'NoSchedule' }] })], code: 'UntoleratedTaint', message: 'basic-tikv-3: the nodes carry taints it does not tolerate (a=x:NoSchedule); add them to spec.tikv.tolerations or remove them from the nodes' },
    { name: 'selector: counted over schedulable nodes', pod: pod({ nodeSelector: { disk: 'ssd', zone: 'a' }, schedulerMessage: 'node selector' }), nodes: [node('n1', 1, { labels: { disk: 'ssd', zone: 'a' } }), node('n2', 1, { labels: { disk: 'ssd', zone: 'b' } }), node('n3', 1, { labels: { disk: 'ssd', zone: 'a' }, unschedulable: true })], code: 'NodeSelectorMismatch', message: 'basic-tikv-3: nodeSelector disk=ssd,zone=a matches 1 of 2 schedulable nodes; label nodes accordingly or change spec.tikv.nodeSelector' },
    { name: 'affinity without a selector', pod: pod({ schedulerMessage: "didn't match Pod's node affinity" }), code: 'NodeSelectorMismatch', message: 'basic-tikv-3: its node affinity matches no schedulable node; label nodes accordingly or change spec.tikv.affinity' },
    { name: 'nodeSelector spelled as the field', pod: pod({ schedulerMessage: 'nodeSelector' }), code: 'NodeSelectorMismatch', message: 'basic-tikv-3: its node affinity matches no schedulable node; label nodes accordingly or change spec.tikv.affinity' },
  ];
  for (const c of table) {
    const d = diagnosePending(c.pod, c.nodes ?? nodes, c.storage ?? storage);
    t.same(d, { code: c.code, message: c.message }, c.name);
  }
});
