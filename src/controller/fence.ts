// The controller's fence: once this replica's leadership ends, every call a reconcile makes through
// its ports (Kubernetes writes, PD calls, events) throws instead of acting. A call already under way
// carries the term's signal and, for a write, a deadline no longer than the Lease duration minus the
// renew deadline: the fence closes at the latest a renew deadline after the last renewal began, and
// no other replica can take over before a lease duration after it, so a write started while the fence
// was open is answered or abandoned (its request aborted) before anyone else may lead.
import { withActSignal } from '../act.ts';

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

/** A controller write that did not finish within the act deadline: abandoned (its request aborted). */
export class ActDeadlineError extends Error {
  constructor(call: string, ms: number) {
    super(`${call} did not finish within ${ms} ms (the Lease duration minus the renew deadline) and was abandoned, so that it cannot land once another replica may lead; will retry`);
    this.name = 'ActDeadlineError';
  }
}

/**
 * The longest a controller write may take: what is left of the Lease once the renew deadline passed.
 * Refuses timings that leave nothing (a write could then land after another replica took over).
 */
export function actDeadlineMs(timing: { leaseDurationMs: number; renewDeadlineMs: number }): number {
  const margin = timing.leaseDurationMs - timing.renewDeadlineMs;
  if (!(margin > 0)) {
    throw new Error(`leader election: the Lease duration (${timing.leaseDurationMs} ms) must be longer than the renew deadline (${timing.renewDeadlineMs} ms): the difference bounds every controller write, and with none left a write could land after another replica took over`);
  }
  return margin;
}

export interface CallBounds {
  /** The term's fence when the call is made (null: none). */
  term: () => AbortSignal | null;
  /** Deadline of a write (actDeadlineMs). */
  writeDeadlineMs: number;
  /** Methods that only read: they carry the term but not the write deadline. */
  reads?: ReadonlySet<string>;
  /** Name of the port, for the error. */
  port: string;
}

/**
 * The port with `guard` run before each of its methods (so a fenced call throws before it acts) and,
 * with `bounds`, each call run under its act signal: the term's fence and, for a write, the deadline.
 * The call's promise settles no later than that signal aborts; the request itself is aborted by the
 * Kubernetes and PD clients, which read the signal (act.ts).
 */
export function fenced<T extends object>(port: T, guard: () => void, bounds?: CallBounds): T {
  return new Proxy(port, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        guard();
        const call = () => (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!bounds) return call();
        const term = bounds.term();
        const write = !bounds.reads?.has(String(prop));
        const limits = [...(term ? [term] : []), ...(write ? [AbortSignal.timeout(bounds.writeDeadlineMs)] : [])];
        if (!limits.length) return call();
        const signal = AbortSignal.any(limits);
        const result = withActSignal(signal, call);
        if (!(result instanceof Promise)) return result;
        const name = `${bounds.port}.${String(prop)}`;
        return new Promise((resolve, reject) => {
          const onAbort = () => reject(term?.aborted ? new FencedError(term.reason) : new ActDeadlineError(name, bounds.writeDeadlineMs));
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
        });
      };
    },
  });
}
