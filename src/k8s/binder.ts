// Kubernetes I/O behind the extender's bind verb: the only extender path allowed to call the API.
import type { Component, PodView } from '../domain/model.ts';
import { LABEL_COMPONENT, LABEL_INSTANCE } from '../domain/model.ts';
import { apiStatus, type KubeClients } from './client.ts';
import { podView } from './views.ts';

export interface BinderPort {
  /** The pod as the API server has it now, or null if it is gone. */
  getPod(namespace: string, name: string): Promise<{ uid: string; view: PodView | null } | null>;
  /** A consistent read of one component's pods of one cluster. */
  listMembers(namespace: string, cluster: string, component: Component): Promise<PodView[]>;
  bind(namespace: string, name: string, uid: string, nodeName: string): Promise<void>;
}

export function kubeBinder(clients: KubeClients): BinderPort {
  return {
    async getPod(namespace, name) {
      try {
        const pod = await clients.core.readNamespacedPod({ namespace, name });
        return { uid: pod.metadata?.uid ?? '', view: podView(pod).value };
      } catch (err) {
        if (apiStatus(err) === 404) return null;
        throw err;
      }
    },
    async listMembers(namespace, cluster, component) {
      const list = await clients.core.listNamespacedPod({
        namespace,
        labelSelector: `${LABEL_COMPONENT}=${component},${LABEL_INSTANCE}=${cluster}`,
      });
      return list.items.map((p) => podView(p).value).filter((v): v is PodView => v !== null);
    },
    async bind(namespace, name, uid, nodeName) {
      await clients.core.createNamespacedPodBinding({
        name,
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          // The uid precondition makes the API refuse a binding meant for an earlier pod of the same name.
          metadata: { name, namespace, uid },
          target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
        },
      });
    },
  };
}
