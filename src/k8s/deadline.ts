// Deadlines for Kubernetes calls on the admission path: a slow API server must turn into a clear
// "not yet" inside the webhook's timeoutSeconds, not into a call error that kubectl drain gives up on.
import { Observable, type ConfigurationOptions, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** Call options that abort the request after `ms` (added to any options given, e.g. a patch type). */
export function deadline(ms: number, base?: ConfigurationOptions<ObservableMiddleware>): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre: (request: RequestContext) => {
      request.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { ...base, middleware: [...(base?.middleware ?? []), middleware], middlewareMergeStrategy: 'append' };
}
