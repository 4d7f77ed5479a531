// A supervised list+watch that keeps only narrow views. client-node's informer caches whole objects,
// stops on the first unexpected error and never relists on its own; this one restarts with jittered
// backoff, relists periodically and when a watch goes quiet, and reports when it has synced.
import type { Logger } from 'pino';
import type { Store } from '../state/stores.ts';
import type { Keyed } from './views.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface ListPage {
  items: any[];
  resourceVersion: string;
  continueToken?: string | undefined;
}

export interface WatchHandle {
  abort(): void;
}

export interface ListWatchSource {
  list(opts: { limit: number; continueToken?: string | undefined }): Promise<ListPage>;
  watch(
    resourceVersion: string,
    onEvent: (type: string, obj: any) => void,
    onDone: (err: unknown) => void,
  ): Promise<WatchHandle>;
}

export interface ReflectorOptions<T> {
  name: string;
  source: ListWatchSource;
  transform: (obj: any) => Keyed<T>;
  store: Store<T>;
  logger: Logger;
  relistIntervalMs: number;
  staleAfterMs: number;
  pageSize?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Called on every restart with a bounded reason (a metric label): gone, periodic, stale or error. */
  onRestart?: (reason: RestartReason) => void;
  /**
   * The resource may not be served (a CRD not installed): a 404 on list counts as an empty, synced
   * cache, checked again every `absentRecheckMs` (default 15 s) until the resource appears.
   */
  optional?: boolean;
  absentRecheckMs?: number;
}

export type RestartReason = 'gone' | 'periodic' | 'stale' | 'error';

class RelistNeeded extends Error {
  readonly reason: RestartReason;
  constructor(reason: Exclude<RestartReason, 'error'>, message: string) {
    super(message);
    this.reason = reason;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

export class Reflector<T> {
  private synced = false;
  private lastActivity = Date.now();
  private readonly stopper = new AbortController();
  private current: WatchHandle | null = null;
  private running: Promise<void> | null = null;
  private readonly opts: ReflectorOptions<T>;

  constructor(opts: ReflectorOptions<T>) {
    this.opts = opts;
  }

  get name(): string {
    return this.opts.name;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Milliseconds since the last list or watch event. */
  idleMs(now = Date.now()): number {
    return now - this.lastActivity;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.current?.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { logger, name } = this.opts;
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 30_000;
    let backoff = initial;
    let absent = false;
    while (!this.stopper.signal.aborted) {
      try {
        let rv: string;
        try {
          rv = await this.relist();
        } catch (err) {
          if (!this.opts.optional || statusOf(err) !== 404) throw err;
          if (!absent) logger.info({ reflector: name }, 'resource not served by the API server (CRD not installed?); treated as empty, checked again periodically');
          absent = true;
          this.opts.store.replace([]);
          this.synced = true;
          this.lastActivity = Date.now();
          await sleep(this.opts.absentRecheckMs ?? 15_000, this.stopper.signal);
          continue;
        }
        if (absent) logger.info({ reflector: name }, 'resource is served now');
        absent = false;
        backoff = initial;
        await this.watchFrom(rv);
      } catch (err) {
        if (this.stopper.signal.aborted) break;
        if (err instanceof RelistNeeded) {
          this.opts.onRestart?.(err.reason);
          logger.info({ reflector: name, reason: err.message }, 'relisting');
          continue;
        }
        const delay = Math.round(backoff * (0.5 + Math.random()));
        this.opts.onRestart?.('error');
        logger.warn({ reflector: name, err: describe(err), retryInMs: delay }, 'list/watch failed; retrying');
        await sleep(delay, this.stopper.signal);
        backoff = Math.min(max, backoff * 2);
      }
    }
  }

  private async relist(): Promise<string> {
    const items: Array<[string, T]> = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.opts.source.list({ limit: this.opts.pageSize ?? 500, continueToken });
      for (const obj of page.items) {
        const { key, value } = this.opts.transform(obj);
        if (value !== null) items.push([key, value]);
      }
      resourceVersion = page.resourceVersion;
      continueToken = page.continueToken || undefined;
    } while (continueToken);
    this.opts.store.replace(items);
    this.lastActivity = Date.now();
    if (!this.synced) this.opts.logger.info({ reflector: this.opts.name, items: items.length }, 'cache synced');
    this.synced = true;
    return resourceVersion;
  }

  /** Watches until a relist is due; throws RelistNeeded or a real error. */
  private async watchFrom(startRv: string): Promise<void> {
    let rv = startRv;
    const relistAt = Date.now() + this.opts.relistIntervalMs;
    let quietCloses = 0;
    while (!this.stopper.signal.aborted) {
      if (Date.now() >= relistAt) throw new RelistNeeded('periodic', 'periodic relist');
      if (this.idleMs() >= this.opts.staleAfterMs) throw new RelistNeeded('stale', `no events for ${Math.round(this.idleMs() / 1000)}s`);
      let events = 0;
      let timedOut = false;
      let gone = false;
      let failure: unknown = null;
      const done = new Promise<void>((resolve) => {
        const onEvent = (type: string, obj: any) => {
          events++;
          this.lastActivity = Date.now();
          if (type === 'BOOKMARK') {
            rv = obj?.metadata?.resourceVersion ?? rv;
            return;
          }
          if (type === 'ERROR') {
            if (obj?.code === 410) gone = true;
            else failure = new Error(`watch error: ${obj?.message ?? JSON.stringify(obj)}`);
            this.current?.abort();
            return;
          }
          rv = obj?.metadata?.resourceVersion ?? rv;
          const { key, value } = this.opts.transform(obj);
          if (type === 'DELETED' || value === null) this.opts.store.remove(key);
          else this.opts.store.upsert(key, value);
        };
        const onDone = (err: unknown) => {
          if (isTimeout(err)) timedOut = true;
          else if (err && !isAbort(err)) {
            if ((err as { statusCode?: number }).statusCode === 410) gone = true;
            else failure ??= err;
          }
          resolve();
        };
        this.opts.source
          .watch(rv, onEvent, onDone)
          .then((handle) => {
            this.current = handle;
            if (this.stopper.signal.aborted) handle.abort();
          })
          .catch((err) => {
            failure = err;
            resolve();
          });
      });
      // Wake up for the periodic relist, and when the watch goes quiet for too long (watches are known
      // to hang without an error); the loop head then decides to relist.
      const wakeAt = Math.min(relistAt, this.lastActivity + this.opts.staleAfterMs);
      const timer = setTimeout(() => this.current?.abort(), Math.max(0, wakeAt - Date.now()));
      await done;
      clearTimeout(timer);
      this.current = null;
      if (gone) throw new RelistNeeded('gone', 'resource version expired (410 Gone)');
      if (failure) throw failure;
      // client-node cuts a watch after 30 s without data: resume at once. A server that keeps closing
      // watches without sending anything gets a growing pause instead of a hot loop.
      quietCloses = events === 0 && !timedOut ? quietCloses + 1 : 0;
      if (quietCloses > 1) await sleep(Math.min(30_000, 1000 * 2 ** Math.min(quietCloses - 2, 5)), this.stopper.signal);
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

function isTimeout(err: unknown): boolean {
  return (err as { name?: string })?.name === 'TimeoutError';
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string })?.name === 'AbortError';
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
