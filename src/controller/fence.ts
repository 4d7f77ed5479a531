// The controller's fence: once this replica's leadership ends, every call a reconcile makes through
// its ports (Kubernetes writes, PD calls, events) throws instead of acting.

/** Thrown by a fenced call: this replica no longer leads (or the controller is stopping). */
export class FencedError extends Error {
  constructor(reason: unknown) {
    super(`not acting: ${reason instanceof Error ? reason.message : String(reason ?? 'leadership ended')}`);
    this.name = 'FencedError';
  }
}

/** The TidbCluster changed since the reconcile read it: its status was not written (HTTP 409). */
export class StatusConflictError extends Error {
  constructor(namespace: string, name: string, resourceVersion: string) {
    super(`TidbCluster ${namespace}/${name} changed since resourceVersion ${resourceVersion} was read; its status was not written`);
    this.name = 'StatusConflictError';
  }
}

/** The port with `guard` run before each of its methods (so a fenced call throws before it acts). */
export function fenced<T extends object>(port: T, guard: () => void): T {
  return new Proxy(port, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        guard();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
