// Keeps the caBundle of our ValidatingWebhookConfiguration trusting the CA this process serves with,
// so a generated or rotated certificate never leaves the API server unable to call us. Replicas may
// serve with different CAs (each its own generated one; or one Secret seen rotated at different
// moments): the bundle is the union of the CAs in use, so that replicas converge instead of taking
// turns overwriting each other.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { watchCaFile } from '../tls/certs.ts';
import { apiStatus, type KubeClients } from './client.ts';

/** CA fingerprint (SHA-256) → when a replica serving with it last asserted it (ISO time). */
export const ANNOTATION_CA_ASSERTED = 'tidb-steward.dev/ca-asserted';

export interface BundleTiming {
  /** A replica refreshes the time of its CA in the annotation when it is older than this. */
  refreshMs: number;
  /** A CA we added that nobody asserted for this long belongs to no running replica: it is dropped. */
  staleMs: number;
}

export const BUNDLE_TIMING: BundleTiming = { refreshMs: 10 * 60_000, staleMs: 60 * 60_000 };

export interface BundleState {
  /** The caBundle (base64 PEM) of each webhook. */
  bundles: ReadonlyArray<string | undefined>;
  asserted: Readonly<Record<string, string>>;
}

export interface MergedBundle {
  bundle: string;
  asserted: Record<string, string>;
  /** Whether anything must be written. */
  changed: boolean;
  added: number;
  /** Why certificates were left out: unreadable, expired, or nobody asserted them any longer. */
  dropped: string[];
}

function certificatesOf(pem: string): Array<X509Certificate | string> {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      return (err as Error).message;
    }
  });
}

/**
 * The bundle this replica leaves, from the one there now and its own CA (PEM, one or more
 * certificates): the CAs of every webhook's bundle, de-duplicated in order, less unreadable and expired
 * ones and those we added that nobody asserted for `staleMs`; plus its own when missing. Another
 * replica's valid CA is never removed while that replica asserts it, so replicas converge.
 */
export function mergeCaBundle(current: BundleState, ownPem: string, now: number, timing: BundleTiming = BUNDLE_TIMING): MergedBundle {
  const own = certificatesOf(ownPem).filter((c): c is X509Certificate => typeof c !== 'string');
  const ownPrints = new Set(own.map((c) => c.fingerprint256));
  const kept = new Map<string, X509Certificate>();
  const dropped = new Set<string>();
  const seen = new Set<string>();
  for (const b64 of current.bundles) {
    for (const c of certificatesOf(Buffer.from(b64 ?? '', 'base64').toString('utf8'))) {
      if (typeof c === 'string') {
        dropped.add(`an unreadable certificate (${c})`);
        continue;
      }
      const print = c.fingerprint256;
      if (seen.has(print)) continue;
      seen.add(print);
      const who = `${c.subject.replaceAll('\n', ', ')} (${print})`;
      if (c.validToDate.getTime() <= now) dropped.add(`${who}: expired ${c.validTo}`);
      else if (!ownPrints.has(print) && now - Date.parse(current.asserted[print] ?? '') > timing.staleMs) dropped.add(`${who}: no replica asserted it since ${current.asserted[print]}`);
      else kept.set(print, c);
    }
  }
  let added = 0;
  for (const c of own) {
    if (kept.has(c.fingerprint256)) continue;
    kept.set(c.fingerprint256, c);
    added++;
  }
  const asserted: Record<string, string> = {};
  for (const print of kept.keys()) {
    const last = Date.parse(current.asserted[print] ?? '');
    if (ownPrints.has(print) && !(now - last < timing.refreshMs)) asserted[print] = new Date(now).toISOString();
    else if (current.asserted[print]) asserted[print] = current.asserted[print]!;
  }
  const bundle = Buffer.from([...kept.values()].map((c) => c.toString()).join('')).toString('base64');
  const same = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  const changed = current.bundles.some((b) => b !== bundle) || !same(current.asserted, asserted);
  return { bundle, asserted, changed, added, dropped: [...dropped] };
}

function assertedOf(annotations: Record<string, string> | undefined): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(annotations?.[ANNOTATION_CA_ASSERTED] ?? '{}');
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

export async function injectCaBundle(
  clients: Pick<KubeClients, 'admission'>,
  name: string,
  caPem: string,
  logger: Logger,
  opts: { now?: () => number; timing?: BundleTiming } = {},
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const vwc = await clients.admission.readValidatingWebhookConfiguration({ name });
    const webhooks = vwc.webhooks ?? [];
    const merged = mergeCaBundle(
      { bundles: webhooks.map((w) => w.clientConfig.caBundle), asserted: assertedOf(vwc.metadata?.annotations) },
      caPem,
      (opts.now ?? Date.now)(),
      opts.timing,
    );
    if (!merged.changed) return;
    for (const w of webhooks) w.clientConfig.caBundle = merged.bundle;
    vwc.metadata = { ...vwc.metadata, annotations: { ...vwc.metadata?.annotations, [ANNOTATION_CA_ASSERTED]: JSON.stringify(merged.asserted) } };
    try {
      await clients.admission.replaceValidatingWebhookConfiguration({ name, body: vwc });
      if (merged.added || merged.dropped.length) {
        logger.info({ webhookConfiguration: name, webhooks: webhooks.length, cas: Object.keys(merged.asserted).length, added: merged.added, dropped: merged.dropped }, 'caBundle updated');
      }
      return;
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
    }
  }
  throw new Error(`could not update the caBundle of ValidatingWebhookConfiguration ${name}: it kept changing`);
}

/**
 * Adds our CA to the caBundle now, again whenever the CA file changes (a rotation: file events and a
 * poll), and re-asserts it every `reassertMs` (in case someone overwrote it; and so that it is not taken
 * for a CA nobody uses). Returns a stop function.
 */
export function followCaBundle(
  clients: Pick<KubeClients, 'admission'>,
  name: string,
  initialCa: string,
  logger: Logger,
  opts: { caFile?: string | undefined; pollMs?: number; reassertMs?: number; now?: () => number; timing?: BundleTiming } = {},
): () => void {
  let ca = initialCa;
  const inject = () =>
    injectCaBundle(clients, name, ca, logger, { ...(opts.now ? { now: opts.now } : {}), ...(opts.timing ? { timing: opts.timing } : {}) }).catch((err: Error) =>
      logger.error({ err: err.message, webhookConfiguration: name }, 'could not set the webhook caBundle; the API server may not trust this server; will retry'),
    );
  void inject();
  const timer = setInterval(() => void inject(), opts.reassertMs ?? 60_000);
  timer.unref();
  const stopWatching = opts.caFile
    ? watchCaFile(opts.caFile, ca, {
        ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
        onChange(pem) {
          ca = pem;
          logger.info({ caFile: opts.caFile, webhookConfiguration: name }, 'serving CA changed: updating the webhook caBundle');
          void inject();
        },
        onError: (err) => logger.error({ err: err.message, caFile: opts.caFile }, 'new serving CA not usable; the caBundle keeps the previous one'),
      })
    : () => undefined;
  return () => {
    clearInterval(timer);
    stopWatching();
  };
}
