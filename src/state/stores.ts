// In-memory caches fed by the reflectors. Plain data structures: no I/O, so handlers read them
// synchronously and tests fill them directly.
import { clusterKey, type Component, type NodeView, type PodView, type StatefulSetView } from '../domain/model.ts';

export interface Store<T> {
  /** Swap the whole content after a (re)list; items that vanished are dropped. */
  replace(items: Iterable<[string, T]>): void;
  upsert(key: string, item: T): void;
  remove(key: string): void;
  readonly size: number;
}

export class MapStore<T> implements Store<T> {
  protected items = new Map<string, T>();
  replace(items: Iterable<[string, T]>): void {
    this.items = new Map(items);
  }
  upsert(key: string, item: T): void {
    this.items.set(key, item);
  }
  remove(key: string): void {
    this.items.delete(key);
  }
  get(key: string): T | undefined {
    return this.items.get(key);
  }
  values(): IterableIterator<T> {
    return this.items.values();
  }
  get size(): number {
    return this.items.size;
  }
}

function memberIndexKey(namespace: string, cluster: string, component: Component): string {
  return `${clusterKey(namespace, cluster)}#${component}`;
}

const NO_MEMBERS: ReadonlyMap<string, PodView> = new Map();

/** TiDB PD/TiKV pods by ns/name, with an index by cluster and component for the placement rule. */
export class PodStore implements Store<PodView> {
  private byKey = new Map<string, PodView>();
  private byMembers = new Map<string, Map<string, PodView>>();
  private byNode = new Map<string, Set<PodView>>();
  /** Called after every change of a pod, e.g. to settle reservations once a binding is seen. */
  onChange: ((pod: PodView) => void) | null = null;

  replace(items: Iterable<[string, PodView]>): void {
    this.byKey = new Map();
    this.byMembers = new Map();
    this.byNode = new Map();
    for (const [key, pod] of items) this.upsert(key, pod);
  }

  upsert(key: string, pod: PodView): void {
    const previous = this.byKey.get(key);
    if (previous) this.unindex(key, previous);
    this.byKey.set(key, pod);
    const indexKey = memberIndexKey(pod.namespace, pod.cluster, pod.component);
    let members = this.byMembers.get(indexKey);
    if (!members) {
      members = new Map();
      this.byMembers.set(indexKey, members);
    }
    members.set(key, pod);
    if (pod.nodeName) {
      let onNode = this.byNode.get(pod.nodeName);
      if (!onNode) this.byNode.set(pod.nodeName, (onNode = new Set()));
      onNode.add(pod);
    }
    this.onChange?.(pod);
  }

  remove(key: string): void {
    const previous = this.byKey.get(key);
    if (!previous) return;
    this.byKey.delete(key);
    this.unindex(key, previous);
  }

  private unindex(key: string, pod: PodView): void {
    if (pod.nodeName) {
      const onNode = this.byNode.get(pod.nodeName);
      onNode?.delete(pod);
      if (onNode?.size === 0) this.byNode.delete(pod.nodeName);
    }
    const indexKey = memberIndexKey(pod.namespace, pod.cluster, pod.component);
    const members = this.byMembers.get(indexKey);
    if (!members) return;
    members.delete(key);
    if (members.size === 0) this.byMembers.delete(indexKey);
  }

  get(key: string): PodView | undefined {
    return this.byKey.get(key);
  }

  /** Every cached pod of one component of one cluster, keyed by ns/name. */
  members(namespace: string, cluster: string, component: Component): ReadonlyMap<string, PodView> {
    return this.byMembers.get(memberIndexKey(namespace, cluster, component)) ?? NO_MEMBERS;
  }

  /** The cached TiDB pods bound to one node. */
  onNode(nodeName: string): Iterable<PodView> {
    return this.byNode.get(nodeName) ?? [];
  }

  values(): IterableIterator<PodView> {
    return this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }
}

const NO_NODES: ReadonlySet<NodeView> = new Set();

/** Nodes by name, indexed by failure domain for the placement rule (see NodeIndex). */
export class NodeStore implements Store<NodeView> {
  private byName = new Map<string, NodeView>();
  private byDomain = new Map<string, Map<string, Set<NodeView>>>();
  private unlabeled = new Map<string, Set<NodeView>>();
  /** Keys indexed so far: the configured ones, then any a cluster names (built on first use). */
  private readonly keys: string[] = [];
  /** Called after every upsert with the node before (if any), e.g. to start a drain's hand-over. */
  onChange: ((before: NodeView | undefined, after: NodeView) => void) | null = null;

  constructor(topologyKeys: readonly string[]) {
    for (const key of topologyKeys) this.index(key);
  }

  /**
   * Indexes the nodes by a key not indexed yet: one pass over the cache, the first time a cluster's
   * own topology key is asked for; from then on upserts keep it up to date like the configured keys.
   */
  private index(key: string): void {
    if (this.byDomain.has(key)) return;
    this.keys.push(key);
    this.byDomain.set(key, new Map());
    this.unlabeled.set(key, new Set());
    for (const node of this.byName.values()) this.place(key, node);
  }

  /** Files a node under its domain for one key (or as unlabeled). */
  private place(key: string, node: NodeView): void {
    const value = node.labels[key];
    if (value === undefined) {
      this.unlabeled.get(key)!.add(node);
      return;
    }
    const domains = this.byDomain.get(key)!;
    let members = domains.get(value);
    if (!members) domains.set(value, (members = new Set()));
    members.add(node);
  }

  replace(items: Iterable<[string, NodeView]>): void {
    this.byName = new Map();
    for (const key of this.keys) {
      this.byDomain.set(key, new Map());
      this.unlabeled.set(key, new Set());
    }
    for (const [name, node] of items) this.upsert(name, node);
  }

  upsert(name: string, node: NodeView): void {
    const before = this.byName.get(name);
    this.remove(name);
    this.byName.set(name, node);
    for (const key of this.keys) this.place(key, node);
    this.onChange?.(before, node);
  }

  remove(name: string): void {
    const node = this.byName.get(name);
    if (!node) return;
    this.byName.delete(name);
    for (const key of this.keys) {
      const value = node.labels[key];
      if (value === undefined) {
        this.unlabeled.get(key)!.delete(node);
        continue;
      }
      const domains = this.byDomain.get(key)!;
      const members = domains.get(value);
      members?.delete(node);
      if (members?.size === 0) domains.delete(value);
    }
  }

  get(name: string): NodeView | undefined {
    return this.byName.get(name);
  }

  inDomain(key: string, value: string): Iterable<NodeView> {
    this.index(key);
    return this.byDomain.get(key)!.get(value) ?? NO_NODES;
  }

  missing(key: string): Iterable<NodeView> {
    this.index(key);
    return this.unlabeled.get(key)!;
  }

  /** The keys the cache is indexed by (configured first). */
  indexedKeys(): readonly string[] {
    return this.keys;
  }

  values(): IterableIterator<NodeView> {
    return this.byName.values();
  }

  get size(): number {
    return this.byName.size;
  }
}
export class StatefulSetStore extends MapStore<StatefulSetView> {}
