// Unit test of the reflector's supervision against an in-process source; the real API server
// exercises the same code in test/e2e.
import t from 'tap';
import { Reflector, type ListWatchSource } from '../../src/k8s/reflector.ts';
import { podView } from '../../src/k8s/views.ts';
import { PodStore } from '../../src/state/stores.ts';
import { silentLogger } from '../fakes.ts';

const pod = (name: string, rv: string, node?: string, labels: Record<string, string> = {}) => ({
  metadata: { name, namespace: 'db', uid: name, resourceVersion: rv, labels: { 'app.kubernetes.io/component': 'pd', 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/managed-by': 'tidb-steward', ...labels } },
  spec: { nodeName: node },
  status: { phase: 'Running' },
});

type Script = { lists: Array<() => { items: unknown[]; resourceVersion: string } | Error>; watches: Array<(emit: (type: string, obj: unknown) => void, done: (err: unknown) => void) => void> };

function scripted(script: Script): ListWatchSource & { listCalls: number; watchRvs: string[] } {
  const src = {
    listCalls: 0,
    watchRvs: [] as string[],
    async list() {
      const step = script.lists[Math.min(src.listCalls++, script.lists.length - 1)]!();
      if (step instanceof Error) throw step;
      return step;
    },
    async watch(rv: string, onEvent: (type: string, obj: unknown) => void, onDone: (err: unknown) => void) {
      src.watchRvs.push(rv);
      const step = script.watches.shift();
      let aborted = false;
      if (step) setImmediate(() => step(onEvent, (err) => !aborted && onDone(err)));
      return { abort: () => { if (!aborted) { aborted = true; onDone(Object.assign(new Error('aborted'), { name: 'AbortError' })); } } };
    },
  };
  return src;
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

t.test('lists, syncs, applies watch events, resumes after timeouts and relists on 410', async (t) => {
  const store = new PodStore();
  const source = scripted({
    lists: [
      () => ({ items: [pod('basic-pd-0', '10', 'n1'), pod('web', '11', 'n1', { 'app.kubernetes.io/component': 'web' })], resourceVersion: '11' }),
      () => ({ items: [pod('basic-pd-1', '30', 'n2')], resourceVersion: '30' }),
    ],
    watches: [
      (emit, done) => {
        emit('ADDED', pod('basic-pd-1', '12'));
        emit('MODIFIED', pod('basic-pd-1', '13', 'n3'));
        emit('BOOKMARK', { metadata: { resourceVersion: '20' } });
        done(Object.assign(new Error('idle'), { name: 'TimeoutError' }));
      },
      (emit, done) => {
        emit('DELETED', pod('basic-pd-0', '21'));
        emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
        done(null);
      },
    ],
  });
  const restarts: string[] = [];
  const r = new Reflector({ name: 'pods', source, transform: podView, store, logger: silentLogger, relistIntervalMs: 60_000, staleAfterMs: 60_000, onRestart: (why) => restarts.push(why) });
  t.notOk(r.hasSynced());
  r.start();
  await until(() => source.listCalls >= 2);
  await until(() => store.get('db/basic-pd-1')?.nodeName === 'n2');
  await r.stop();
  t.ok(r.hasSynced());
  t.same(source.watchRvs.slice(0, 3), ['11', '20', '30'], 'resumed from the bookmark after a timeout, from the relist after 410');
  t.equal(store.get('db/web'), undefined, 'non-TiDB pods are not kept');
  t.equal(store.get('db/basic-pd-0'), undefined, 'deleted, then absent from the relist');
  t.same(restarts, ['gone']);
});

t.test('a failing list is retried with backoff and readiness waits for it', async (t) => {
  const store = new PodStore();
  const source = scripted({
    lists: [() => new Error('connection refused'), () => new Error('connection refused'), () => ({ items: [pod('basic-pd-0', '5', 'n1')], resourceVersion: '5' })],
    watches: [],
  });
  const restarts: string[] = [];
  const r = new Reflector({ name: 'pods', source, transform: podView, store, logger: silentLogger, relistIntervalMs: 60_000, staleAfterMs: 60_000, backoffInitialMs: 5, onRestart: (why) => restarts.push(why) });
  r.start();
  await until(() => r.hasSynced());
  await r.stop();
  t.equal(source.listCalls >= 3, true);
  t.same(restarts, ['error', 'error']);
  t.equal(store.size, 1);
});

t.test('a watch that stays quiet past the staleness limit forces a relist', async (t) => {
  const store = new PodStore();
  const source = scripted({ lists: [() => ({ items: [], resourceVersion: '1' })], watches: [] });
  const restarts: string[] = [];
  const r = new Reflector({ name: 'pods', source, transform: podView, store, logger: silentLogger, relistIntervalMs: 60_000, staleAfterMs: 40, onRestart: (why) => restarts.push(why) });
  r.start();
  // The scripted watch never ends and never speaks: the watchdog must abort it and relist.
  await until(() => source.listCalls >= 2);
  await r.stop();
  t.equal(restarts[0], 'stale');
});
