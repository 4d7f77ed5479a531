// The signal of the act a call is made for. The controller runs each of its port calls inside
// `withActSignal` (its leadership term, and for a write a deadline shorter than what is left of the
// Lease); the Kubernetes write middleware and the PD client abort their write requests on it, so a
// write is either answered or abandoned before another replica can lead. Reads keep their own
// deadlines: a PD snapshot read for the controller may be shared with a drain webhook.
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<AbortSignal>();

export function withActSignal<T>(signal: AbortSignal, fn: () => T): T {
  return scope.run(signal, fn);
}

/** The calling act's signal, if the call is made for one. */
export function actSignal(): AbortSignal | undefined {
  return scope.getStore();
}

/** A write's own timeout combined with the calling act's signal. */
export function writeSignal(own: AbortSignal): AbortSignal {
  const act = scope.getStore();
  return act ? AbortSignal.any([own, act]) : own;
}
