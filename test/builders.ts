// Small builders for table tests: makePod().pd('db','basic').on('n1').view(), makeNode('n1').zone('a').
import type { Component, NodeView, PodView } from '../src/domain/model.ts';
import { NodeStore, PodStore, StatefulSetStore } from '../src/state/stores.ts';

let uidCounter = 0;

export class PodBuilder {
  private v: PodView;
  private extraLabels: Record<string, string> = {};
  private managedBy = 'tidb-steward';
  constructor(name: string) {
    this.v = { uid: `uid-${++uidCounter}`, namespace: 'db', name, cluster: 'basic', component: 'pd', nodeName: null, terminal: false, deleting: false, owner: null, running: false, skipDrainCheck: false };
  }
  of(namespace: string, cluster: string, component: Component): this {
    this.v = { ...this.v, namespace, cluster, component, owner: `${cluster}-${component}` };
    return this;
  }
  on(node: string | null): this {
    this.v.nodeName = node;
    this.v.running = node !== null;
    return this;
  }
  deleting(): this {
    this.v.deleting = true;
    return this;
  }
  skipDrainCheck(): this {
    this.v.skipDrainCheck = true;
    return this;
  }
  uid(uid: string): this {
    this.v.uid = uid;
    return this;
  }
  terminal(): this {
    this.v.terminal = true;
    return this;
  }
  managed(by: string): this {
    this.managedBy = by;
    return this;
  }
  label(k: string, v: string): this {
    this.extraLabels[k] = v;
    return this;
  }
  view(): PodView {
    return { ...this.v };
  }
  labels(): Record<string, string> {
    return {
      'app.kubernetes.io/component': this.v.component,
      'app.kubernetes.io/instance': this.v.cluster,
      'app.kubernetes.io/managed-by': this.managedBy,
      ...this.extraLabels,
    };
  }
  /** The Pod as kube-scheduler sends it in ExtenderArgs. */
  wire(): Record<string, unknown> {
    return {
      metadata: {
        name: this.v.name,
        namespace: this.v.namespace,
        uid: this.v.uid,
        labels: this.labels(),
        ...(this.v.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: this.v.owner, uid: 'sts-uid', controller: true, blockOwnerDeletion: true }] } : {}),
      },
      spec: { schedulerName: 'tidb-scheduler', containers: [{ name: this.v.component, image: `pingcap/${this.v.component}:v8.5.4` }] },
      status: { phase: 'Pending' },
    };
  }
}

export const makePod = (name: string) => new PodBuilder(name);

export function makeNode(name: string, labels: Record<string, string> = {}, unschedulable = false): NodeView {
  return { name, labels: { 'kubernetes.io/hostname': name, ...labels }, unschedulable };
}

/** n nodes named n1..nN spread round-robin over z zones named z1..zZ. */
export function makeNodes(n: number, zones = n): NodeView[] {
  return Array.from({ length: n }, (_, i) => makeNode(`n${i + 1}`, { 'topology.kubernetes.io/zone': `z${(i % zones) + 1}` }));
}

export const HOST = 'kubernetes.io/hostname';
export const ZONE = 'topology.kubernetes.io/zone';

export function nodeStore(nodes: NodeView[], keys: readonly string[] = [HOST, ZONE]): NodeStore {
  const store = new NodeStore(keys);
  store.replace(nodes.map((n) => [n.name, n]));
  return store;
}

export function stores(opts: { nodes?: NodeView[]; pods?: PodView[]; statefulSets?: Array<{ namespace: string; name: string; replicas: number; targetReplicas?: number }>; keys?: readonly string[] }) {
  const nodes = new NodeStore(opts.keys ?? [HOST]);
  nodes.replace((opts.nodes ?? []).map((n) => [n.name, n]));
  const pods = new PodStore();
  pods.replace((opts.pods ?? []).map((p) => [`${p.namespace}/${p.name}`, p]));
  const statefulSets = new StatefulSetStore();
  statefulSets.replace((opts.statefulSets ?? []).map((s) => [`${s.namespace}/${s.name}`, s]));
  return { nodes, pods, statefulSets };
}
