// The only module that builds Kubernetes API clients. Config is chosen explicitly: client-node's
// loadFromDefault() would silently fall back to http://localhost:8080.
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Watch, ApiException } from '@kubernetes/client-node';
import type { ListWatchSource } from './reflector.ts';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  admission: AdmissionregistrationV1Api;
  coordination: CoordinationV1Api;
  custom: CustomObjectsApi;
  watch: Watch;
}

export function makeClients(kubeconfig: string | undefined, env: Readonly<Record<string, string | undefined>>): KubeClients {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else throw new Error('no Kubernetes credentials: set --kubeconfig / KUBECONFIG, or run inside a cluster');
  return clientsOf(kc);
}

/** Every API client of one KubeConfig. */
export function clientsOf(kc: KubeConfig): KubeClients {
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), admission: kc.makeApiClient(AdmissionregistrationV1Api), coordination: kc.makeApiClient(CoordinationV1Api), custom: kc.makeApiClient(CustomObjectsApi), watch: new Watch(kc) };
}

/** HTTP status of an API error, or undefined for transport errors. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The Status message of an API error, for logs and replies people read. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (body?.message) return `${body.message} (HTTP ${err.code})`;
    } catch {
      // fall through to the raw text
    }
    return `HTTP ${err.code}: ${String(err.body).slice(0, 300)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

type Lister = (opts: { limit: number; continueToken?: string | undefined }) => Promise<{
  items: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string };
}>;

function source(clients: KubeClients, path: string, labelSelector: string | undefined, lister: Lister): ListWatchSource {
  return {
    async list(opts) {
      const res = await lister(opts);
      return {
        items: res.items,
        resourceVersion: res.metadata?.resourceVersion ?? '',
        continueToken: res.metadata?._continue,
      };
    },
    async watch(resourceVersion, onEvent, onDone) {
      const controller = await clients.watch.watch(
        path,
        { resourceVersion, allowWatchBookmarks: true, labelSelector },
        onEvent,
        onDone,
      );
      return { abort: () => controller.abort() };
    },
  };
}

export function podSource(clients: KubeClients, labelSelector: string): ListWatchSource {
  return source(clients, '/api/v1/pods', labelSelector, ({ limit, continueToken }) =>
    clients.core.listPodForAllNamespaces({ labelSelector, limit, _continue: continueToken }),
  );
}

export function nodeSource(clients: KubeClients): ListWatchSource {
  return source(clients, '/api/v1/nodes', undefined, ({ limit, continueToken }) =>
    clients.core.listNode({ limit, _continue: continueToken }),
  );
}

export function statefulSetSource(clients: KubeClients, labelSelector: string): ListWatchSource {
  return source(clients, '/apis/apps/v1/statefulsets', labelSelector, ({ limit, continueToken }) =>
    clients.apps.listStatefulSetForAllNamespaces({ labelSelector, limit, _continue: continueToken }),
  );
}

/** tidb-operator's Advanced StatefulSets (apps.pingcap.com/v1); 404 while its CRD is not installed. */
export function advancedStatefulSetSource(clients: KubeClients): ListWatchSource {
  return source(clients, '/apis/apps.pingcap.com/v1/statefulsets', undefined, async ({ limit, continueToken }) =>
    (await clients.custom.listClusterCustomObject({ group: 'apps.pingcap.com', version: 'v1', plural: 'statefulsets', limit, _continue: continueToken })) as {
      items: unknown[];
      metadata?: { resourceVersion?: string; _continue?: string };
    },
  );
}

/** PingCAP's TidbClusters (tidb-operator v1), for their placement annotation. */
export function pingcapTidbClusterSource(clients: KubeClients): ListWatchSource {
  return source(clients, '/apis/pingcap.com/v1alpha1/tidbclusters', undefined, async ({ limit, continueToken }) =>
    (await clients.custom.listClusterCustomObject({ group: 'pingcap.com', version: 'v1alpha1', plural: 'tidbclusters', limit, _continue: continueToken })) as {
      items: unknown[];
      metadata?: { resourceVersion?: string; _continue?: string };
    },
  );
}

/** Every StatefulSet: which ones run TiDB pods is read from their pod template (see statefulSetView). */
export function allStatefulSetSource(clients: KubeClients): ListWatchSource {
  return source(clients, '/apis/apps/v1/statefulsets', undefined, ({ limit, continueToken }) =>
    clients.apps.listStatefulSetForAllNamespaces({ limit, _continue: continueToken }),
  );
}

export function claimSource(clients: KubeClients): ListWatchSource {
  return source(clients, '/api/v1/persistentvolumeclaims', undefined, ({ limit, continueToken }) =>
    clients.core.listPersistentVolumeClaimForAllNamespaces({ limit, _continue: continueToken }),
  );
}

export function volumeSource(clients: KubeClients): ListWatchSource {
  return source(clients, '/api/v1/persistentvolumes', undefined, ({ limit, continueToken }) =>
    clients.core.listPersistentVolume({ limit, _continue: continueToken }),
  );
}
