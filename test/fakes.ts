// In-process stand-ins for unit tests of the services. The real API server proves the same paths in
// test/e2e.
import { pino } from 'pino';
import type { BinderPort } from '../src/k8s/binder.ts';
import type { Component, PodView } from '../src/domain/model.ts';
import type { PodStore } from '../src/state/stores.ts';

export const silentLogger = pino({ level: 'silent' });

/** A binder over a PodStore standing for the API server: bind sets nodeName there. */
export function fakeBinder(api: PodStore, opts: { delayMs?: number; failBind?: boolean } = {}): BinderPort & { binds: Array<[string, string]> } {
  const wait = () => new Promise((r) => setTimeout(r, opts.delayMs ?? 0));
  const binds: Array<[string, string]> = [];
  return {
    binds,
    async getPod(namespace, name) {
      await wait();
      const p = api.get(`${namespace}/${name}`);
      return p ? { uid: p.uid, view: p } : null;
    },
    async listMembers(namespace: string, cluster: string, component: Component): Promise<PodView[]> {
      await wait();
      return [...api.members(namespace, cluster, component).values()].map((p) => ({ ...p }));
    },
    async bind(namespace, name, uid, nodeName) {
      await wait();
      if (opts.failBind) throw new Error('conflict');
      const p = api.get(`${namespace}/${name}`);
      if (!p || p.uid !== uid) throw new Error('precondition failed');
      api.upsert(`${namespace}/${name}`, { ...p, nodeName });
      binds.push([name, nodeName]);
    },
  };
}
