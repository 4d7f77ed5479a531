// The DisruptionLedger (tidb-steward.dev/v1alpha1), one per TiDB cluster in the cluster's namespace:
// the members whose removal tidb-steward allowed and that are not back yet, the leader evictions it
// started, and when it first saw evictions started by others. Every replica reads it before a drain
// decision and writes it with the resourceVersion it read, so two replicas that decided on the same
// state cannot both act: the second write fails with 409 and that replica decides again.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { z } from 'zod';
import type { EvictionRecord, LeavingEntry } from '../domain/drain.ts';
import { LABEL_INSTANCE, LABEL_MANAGED_BY } from '../domain/model.ts';
import { apiStatus, type KubeClients } from './client.ts';
import { deadline } from './deadline.ts';
import type { ClusterEvictions, EvictionRecordPort } from './evictions.ts';

export const LEDGER = { group: 'tidb-steward.dev', version: 'v1alpha1', plural: 'disruptionledgers', kind: 'DisruptionLedger' } as const;

export interface Ledger {
  leaving: LeavingEntry[];
  evictions: EvictionRecord[];
  /** Evict-leader entries added by someone else: when tidb-steward first saw each (for the timeout). */
  seenEvictions: Array<{ storeId: string; since: number }>;
}

export interface VersionedLedger {
  ledger: Ledger;
  /** null: no ledger object exists yet (the first write creates it). */
  resourceVersion: string | null;
}

export const emptyLedger = (): Ledger => ({ leaving: [], evictions: [], seenEvictions: [] });

export interface LedgerPort extends EvictionRecordPort {
  read(namespace: string, cluster: string): Promise<VersionedLedger>;
  /** Writes the ledger only if it is still at `resourceVersion`; false when another writer came first. */
  write(namespace: string, cluster: string, ledger: Ledger, resourceVersion: string | null): Promise<boolean>;
  listLedgers(): Promise<Array<{ namespace: string; cluster: string } & VersionedLedger>>;
}

const time = z.string().transform((s, ctx) => {
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `not a time: ${s}` });
    return z.NEVER;
  }
  return ms;
});
const Spec = z.looseObject({
  leaving: z
    .array(
      z.object({
        component: z.enum(['pd', 'tikv']),
        member: z.string(),
        pod: z.string(),
        podUid: z.string(),
        since: time,
        act: z.enum(['eviction', 'delete', 'drain', 'scale-in', 'suspend', 'restart', 'failover']).optional(),
      }),
    )
    .nullish()
    .transform((x) => x ?? []),
  evictions: z
    .array(z.object({ storeId: z.string(), podUid: z.string(), pod: z.string().optional(), beganAt: time, cause: z.enum(['removal', 'cordon', 'suspend']), askedAt: time.optional() }))
    .nullish()
    .transform((x) => x ?? []),
  seenEvictions: z
    .array(z.object({ storeId: z.string(), since: time }))
    .nullish()
    .transform((x) => x ?? []),
});

/** The ledger in an object's spec; an entry that cannot be read makes the whole ledger an error. */
export function decodeLedger(spec: unknown): Ledger {
  const parsed = Spec.safeParse(spec ?? {});
  if (!parsed.success) throw new Error(`the DisruptionLedger cannot be read: ${parsed.error.issues[0]?.message ?? 'invalid'}; fix or delete it`);
  return {
    leaving: parsed.data.leaving.map(({ act, ...e }) => (act ? { ...e, act } : e)),
    evictions: parsed.data.evictions.map(({ pod: _pod, askedAt, ...r }) => (askedAt !== undefined ? { ...r, askedAt } : r)),
    seenEvictions: parsed.data.seenEvictions,
  };
}

export function encodeLedger(cluster: string, ledger: Ledger) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    cluster,
    leaving: ledger.leaving.map((e) => ({ ...e, since: iso(e.since) })),
    evictions: ledger.evictions.map((r) => ({ ...r, beganAt: iso(r.beganAt), ...(r.askedAt !== undefined ? { askedAt: iso(r.askedAt) } : {}) })),
    seenEvictions: ledger.seenEvictions.map((s) => ({ ...s, since: iso(s.since) })),
  };
}

/** Read, change, write with the version read; again on a conflict. `change` returns null for no write. */
export async function updateLedger(port: Pick<LedgerPort, 'read' | 'write'>, namespace: string, cluster: string, change: (l: Ledger) => Ledger | null, attempts = 5): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    const { ledger, resourceVersion } = await port.read(namespace, cluster);
    const next = change(ledger);
    if (!next) return;
    if (await port.write(namespace, cluster, next, resourceVersion)) return;
  }
  throw new Error(`the DisruptionLedger of ${namespace}/${cluster} kept changing under ${attempts} attempts to write it`);
}

/** The eviction-record view of a ledger port, as the drain's cleanup uses it. */
export function evictionRecordsOver(port: Pick<LedgerPort, 'read' | 'write' | 'listLedgers'>): EvictionRecordPort {
  return {
    async forCluster(namespace, cluster) {
      return (await port.read(namespace, cluster)).ledger.evictions;
    },
    async put(namespace, cluster, record) {
      await updateLedger(port, namespace, cluster, (l) => ({ ...l, evictions: [...l.evictions.filter((r) => r.storeId !== record.storeId), record] }));
    },
    async remove(namespace, cluster, storeId) {
      await updateLedger(port, namespace, cluster, (l) =>
        l.evictions.some((r) => r.storeId === storeId) || l.seenEvictions.some((s) => s.storeId === storeId)
          ? { ...l, evictions: l.evictions.filter((r) => r.storeId !== storeId), seenEvictions: l.seenEvictions.filter((s) => s.storeId !== storeId) }
          : null,
      );
    },
    async list(): Promise<ClusterEvictions[]> {
      return (await port.listLedgers()).map((l) => ({ namespace: l.namespace, cluster: l.cluster, records: l.ledger.evictions }));
    },
  };
}

/**
 * The ledger in the API server. Every call has `timeoutMs`: it is on the admission path. `onSeen` is
 * told of every ledger read or written (the metrics keep the last one per cluster).
 */
export function kubeLedger(clients: KubeClients, timeoutMs: number, onSeen?: (namespace: string, cluster: string, ledger: Ledger) => void): LedgerPort {
  const api = clients.kc.makeApiClient(CustomObjectsApi);
  const base = { group: LEDGER.group, version: LEDGER.version, plural: LEDGER.plural };
  const port: Pick<LedgerPort, 'read' | 'write' | 'listLedgers'> = {
    async read(namespace, cluster) {
      try {
        const obj = await api.getNamespacedCustomObject({ ...base, namespace, name: cluster }, deadline(timeoutMs));
        return { ledger: decodeLedger(obj?.spec), resourceVersion: String(obj?.metadata?.resourceVersion ?? '') };
      } catch (err) {
        if (apiStatus(err) === 404) return { ledger: emptyLedger(), resourceVersion: null };
        throw err;
      }
    },
    async write(namespace, cluster, ledger, resourceVersion) {
      const body = {
        apiVersion: `${LEDGER.group}/${LEDGER.version}`,
        kind: LEDGER.kind,
        metadata: {
          name: cluster,
          namespace,
          labels: { [LABEL_MANAGED_BY]: 'tidb-steward', [LABEL_INSTANCE]: cluster },
          ...(resourceVersion ? { resourceVersion } : {}),
        },
        spec: encodeLedger(cluster, ledger),
      };
      try {
        if (resourceVersion === null) await api.createNamespacedCustomObject({ ...base, namespace, body }, deadline(timeoutMs));
        else await api.replaceNamespacedCustomObject({ ...base, namespace, name: cluster, body }, deadline(timeoutMs));
        return true;
      } catch (err) {
        // 409: created or changed by another replica since we read it.
        if (apiStatus(err) === 409) return false;
        throw err;
      }
    },
    async listLedgers() {
      const list = await api.listCustomObjectForAllNamespaces({ group: LEDGER.group, version: LEDGER.version, resourcePlural: LEDGER.plural }, deadline(timeoutMs * 4));
      const out: Array<{ namespace: string; cluster: string } & VersionedLedger> = [];
      for (const obj of (list?.items ?? []) as Array<{ metadata?: { namespace?: string; name?: string; resourceVersion?: string }; spec?: unknown }>) {
        try {
          out.push({ namespace: obj.metadata?.namespace ?? '', cluster: obj.metadata?.name ?? '', ledger: decodeLedger(obj.spec), resourceVersion: obj.metadata?.resourceVersion ?? null });
        } catch {
          // An unreadable ledger is reported where it is used (read), not acted on here.
        }
      }
      return out;
    },
  };
  const seen = onSeen ? observed(port, onSeen) : port;
  return { ...seen, ...evictionRecordsOver(seen) };
}

/** The port, telling `onSeen` what each read, successful write and listing showed. */
export function observed(port: Pick<LedgerPort, 'read' | 'write' | 'listLedgers'>, onSeen: (namespace: string, cluster: string, ledger: Ledger) => void): Pick<LedgerPort, 'read' | 'write' | 'listLedgers'> {
  return {
    async read(namespace, cluster) {
      const r = await port.read(namespace, cluster);
      onSeen(namespace, cluster, r.ledger);
      return r;
    },
    async write(namespace, cluster, ledger, resourceVersion) {
      const ok = await port.write(namespace, cluster, ledger, resourceVersion);
      if (ok) onSeen(namespace, cluster, ledger);
      return ok;
    },
    async listLedgers() {
      const all = await port.listLedgers();
      for (const l of all) onSeen(l.namespace, l.cluster, l.ledger);
      return all;
    },
  };
}
