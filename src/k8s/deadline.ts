// Deadlines for Kubernetes calls on the admission path: a slow API server must turn into a clear
// "not yet" inside the webhook's timeoutSeconds, not into a call error that kubectl drain gives up on.
import { HttpMethod, Observable, type ConfigurationOptions, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { writeSignal } from '../act.ts';

/** How long a controller write may take at most; the controller's act deadline is shorter (act.ts). */
export const WRITE_TIMEOUT_MS = 10_000;

/**
 * Call options that abort the request after `ms` (added to any options given, e.g. a patch type). A
 * write made for a controller act also aborts on that act's signal (leadership lost, act deadline).
 */
export function deadline(ms: number, base?: ConfigurationOptions<ObservableMiddleware>): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre: (request: RequestContext) => {
      const own = AbortSignal.timeout(ms);
      request.setSignal(request.getHttpMethod() === HttpMethod.GET ? own : writeSignal(own));
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { ...base, middleware: [...(base?.middleware ?? []), middleware], middlewareMergeStrategy: 'append' };
}
