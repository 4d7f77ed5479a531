// Keeps the caBundle of our ValidatingWebhookConfiguration equal to the CA this process serves with,
// so a generated or rotated certificate never leaves the API server unable to call us.
import type { Logger } from 'pino';
import { watchCaFile } from '../tls/certs.ts';
import { apiStatus, type KubeClients } from './client.ts';

export async function injectCaBundle(clients: Pick<KubeClients, 'admission'>, name: string, caPem: string, logger: Logger): Promise<void> {
  const caBundle = Buffer.from(caPem).toString('base64');
  for (let attempt = 0; attempt < 5; attempt++) {
    const vwc = await clients.admission.readValidatingWebhookConfiguration({ name });
    const webhooks = vwc.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return;
    for (const w of webhooks) w.clientConfig.caBundle = caBundle;
    try {
      await clients.admission.replaceValidatingWebhookConfiguration({ name, body: vwc });
      logger.info({ webhookConfiguration: name, webhooks: webhooks.length }, 'caBundle updated');
      return;
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
    }
  }
  throw new Error(`could not update the caBundle of ValidatingWebhookConfiguration ${name}: it kept changing`);
}

/**
 * Sets the caBundle now, again whenever the CA file changes (a rotation: file events and a poll), and
 * re-asserts it every `reassertMs` in case someone overwrote it. Returns a stop function.
 */
export function followCaBundle(
  clients: Pick<KubeClients, 'admission'>,
  name: string,
  initialCa: string,
  logger: Logger,
  opts: { caFile?: string | undefined; pollMs?: number; reassertMs?: number } = {},
): () => void {
  let ca = initialCa;
  const inject = () =>
    injectCaBundle(clients, name, ca, logger).catch((err: Error) =>
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
