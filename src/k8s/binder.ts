// Kubernetes I/O behind the extender's bind verb: the only extender path allowed to call the API.
import type { Component, PodView, Taint, Toleration } from '../domain/model.ts';
import { LABEL_COMPONENT, LABEL_INSTANCE } from '../domain/model.ts';
import { ANNOTATION_PD_TARGET_REPLICAS, parseTargetReplicas } from '../domain/placement.ts';
import { apiStatus, type KubeClients } from './client.ts';
import { podView, statefulSetOwner } from './views.ts';

/** What bind must know about the pod as the API server has it now. */
export interface LivePod {
  uid: string;
  /** The TiDB view, or null for a pod the placement rule does not govern. */
  view: PodView | null;
  schedulerName: string;
  nodeName: string | null;
  tolerations: Toleration[];
  /** Names of the PersistentVolumeClaims it mounts. */
  claims: string[];
}

export interface LiveNode {
  taints: Taint[];
  unschedulable: boolean;
}

export interface BinderPort {
  /** The pod as the API server has it now, or null if it is gone. */
  getPod(namespace: string, name: string): Promise<LivePod | null>;
  /** A node the cache does not hold yet, or null if it does not exist. */
  getNode(name: string): Promise<LiveNode | null>;
  /** A consistent read of one component's pods of one cluster. */
  listMembers(namespace: string, cluster: string, component: Component): Promise<PodView[]>;
  bind(namespace: string, name: string, uid: string, nodeName: string): Promise<void>;
  /** Does the owning StatefulSet (apps/v1, or Advanced) exist? Its replica count when it does. */
  getOwner?(namespace: string, name: string, advanced: boolean): Promise<{ replicas: number; targetReplicas?: number } | null>;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export function livePod(pod: any): LivePod {
  const spec = pod?.spec ?? {};
  const tolerations: Toleration[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const claims = claimsOf(pod);
  return {
    uid: pod?.metadata?.uid ?? '',
    view: podView(pod).value,
    schedulerName: spec.schedulerName ?? 'default-scheduler',
    nodeName: spec.nodeName || null,
    tolerations,
    claims,
  };
}

/** Names of the PersistentVolumeClaims a pod mounts (also as the scheduler sends it in ExtenderArgs). */
export function claimsOf(pod: any): string[] {
  const volumes = pod?.spec?.volumes;
  if (!Array.isArray(volumes)) return [];
  const claims: string[] = [];
  for (const v of volumes) {
    const claim = v?.persistentVolumeClaim?.claimName;
    if (typeof claim === 'string') claims.push(claim);
  }
  return claims;
}

export { statefulSetOwner };

export function kubeBinder(clients: KubeClients): BinderPort {
  return {
    async getPod(namespace, name) {
      try {
        return livePod(await clients.core.readNamespacedPod({ namespace, name }));
      } catch (err) {
        if (apiStatus(err) === 404) return null;
        throw err;
      }
    },
    async getNode(name) {
      try {
        const node = await clients.core.readNode({ name });
        const taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute').map((t) => ({ key: t.key, value: t.value, effect: t.effect }));
        return { taints, unschedulable: Boolean(node.spec?.unschedulable) };
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
    async getOwner(namespace, name, advanced) {
      try {
        const sts: any = advanced
          ? await clients.custom.getNamespacedCustomObject({ group: 'apps.pingcap.com', version: 'v1', plural: 'statefulsets', namespace, name })
          : await clients.apps.readNamespacedStatefulSet({ namespace, name });
        const replicas = sts?.spec?.replicas;
        const target = parseTargetReplicas(sts?.metadata?.annotations?.[ANNOTATION_PD_TARGET_REPLICAS]);
        return { replicas: typeof replicas === 'number' ? replicas : 1, ...(target !== null ? { targetReplicas: target } : {}) };
      } catch (err) {
        if (apiStatus(err) === 404) return null;
        throw err;
      }
    },
  };
}
