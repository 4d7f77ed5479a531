// Keeps the caBundle of our ValidatingWebhookConfiguration equal to the CA this process serves with,
// so a generated or rotated certificate never leaves the API server unable to call us.
import type { Logger } from 'pino';
import { apiStatus, type KubeClients } from './client.ts';

export async function injectCaBundle(clients: KubeClients, name: string, caPem: string, logger: Logger): Promise<void> {
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
