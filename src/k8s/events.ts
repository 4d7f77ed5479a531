// Kubernetes Events for the transitions people care about (leader hand-overs, waits, timeouts,
// escape-hatch use). The same event is not repeated within a minute: drains retry every few seconds.
import type { Logger } from 'pino';
import type { KubeClients } from './client.ts';
import { deadline } from './deadline.ts';

export interface ObjectRef {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
}

export interface EventSink {
  emit(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export function kubeEvents(clients: KubeClients, logger: Logger, now: () => number = Date.now): EventSink {
  const recent = new Map<string, number>();
  return {
    emit(ref, type, reason, message) {
      const key = `${ref.namespace}/${ref.kind}/${ref.name}/${reason}/${message}`;
      const t = now();
      if ((recent.get(key) ?? 0) > t - 60_000) return;
      recent.set(key, t);
      if (recent.size > 5000) for (const [k, at] of recent) if (at < t - 60_000) recent.delete(k);
      const time = new Date(t);
      void clients.core
        .createNamespacedEvent({
          namespace: ref.namespace,
          body: {
            metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
            involvedObject: { kind: ref.kind, apiVersion: ref.apiVersion, namespace: ref.namespace, name: ref.name, ...(ref.uid ? { uid: ref.uid } : {}) },
            type,
            reason,
            message: message.slice(0, 1024),
            source: { component: 'tidb-steward' },
            firstTimestamp: time,
            lastTimestamp: time,
            count: 1,
            reportingComponent: 'tidb-steward',
          },
        }, deadline(5000))
        .catch((err: Error) => logger.warn({ err: err.message, reason, object: `${ref.namespace}/${ref.name}` }, 'could not record event'));
    },
  };
}
