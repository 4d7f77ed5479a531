// Serving certificates: generated with selfsigned when none are mounted, or read from files (a
// Secret, e.g. from cert-manager) and re-read when they change so rotation needs no restart.
import { X509Certificate, createPrivateKey, createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { generate } from 'selfsigned';

export interface ServingPair {
  cert: string;
  key: string;
}

export interface GeneratedCertificates extends ServingPair {
  caCert: string;
  caKey: string;
}

export interface CertificateRequest {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  days?: number;
  now?: Date;
}

/**
 * CAs get distinct subjects: during a rotation a bundle holds the old and the new CA, and a verifier
 * picks the issuer by subject name, so two CAs of one name would make half the certificates fail.
 */
function caSuffix(): string {
  return `${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
}

export async function generateCertificates(req: CertificateRequest): Promise<GeneratedCertificates> {
  const notBeforeDate = new Date((req.now ?? new Date()).getTime() - 60 * 60 * 1000); // tolerate clock skew
  const notAfterDate = new Date(notBeforeDate.getTime() + (req.days ?? 365) * 24 * 60 * 60 * 1000);
  const ca = await generate([{ name: 'commonName', value: `tidb-steward-ca-${caSuffix()}` }], {
    algorithm: 'sha256',
    keyType: 'ec',
    curve: 'P-256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 10 * (req.days ?? 365) * 24 * 60 * 60 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: req.dnsNames[0] ?? 'tidb-steward' }], {
    algorithm: 'sha256',
    keyType: 'ec',
    curve: 'P-256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...req.dnsNames.map((value) => ({ type: 2 as const, value })),
          ...req.ipAddresses.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { caCert: ca.cert, caKey: ca.private, cert: leaf.cert, key: leaf.private };
}

export interface ClientCertificates {
  caCert: string;
  caKey: string;
  /** Per common name: a client certificate (extKeyUsage clientAuth) signed by the CA. */
  clients: Record<string, ServingPair>;
}

/** A CA for callers (mTLS) and one client certificate per name, e.g. tidb-scheduler and kube-apiserver. */
export async function generateClientCertificates(names: readonly string[], opts: { days?: number; now?: Date; ca?: { cert: string; key: string } } = {}): Promise<ClientCertificates> {
  const notBeforeDate = new Date((opts.now ?? new Date()).getTime() - 60 * 60 * 1000);
  const days = opts.days ?? 365;
  const ca: { cert: string; key: string } =
    opts.ca ??
    (await generate([{ name: 'commonName', value: `tidb-steward-client-ca-${caSuffix()}` }], {
      algorithm: 'sha256',
      keyType: 'ec',
      curve: 'P-256',
      notBeforeDate,
      notAfterDate: new Date(notBeforeDate.getTime() + 10 * days * 24 * 60 * 60 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    }).then((c) => ({ cert: c.cert, key: c.private })));
  const clients: Record<string, ServingPair> = {};
  for (const name of names) {
    const leaf = await generate([{ name: 'commonName', value: name }], {
      algorithm: 'sha256',
      keyType: 'ec',
      curve: 'P-256',
      notBeforeDate,
      notAfterDate: new Date(notBeforeDate.getTime() + days * 24 * 60 * 60 * 1000),
      ca: { key: ca.key, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2 as const, value: name }] },
      ],
    });
    clients[name] = { cert: leaf.cert, key: leaf.private };
  }
  return { caCert: ca.cert, caKey: ca.key, clients };
}

/** Throws a readable error unless the PEM pair parses and the key belongs to the certificate. */
export function validatePair(pair: ServingPair, now: Date): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
  } catch (err) {
    throw new Error(`the certificate is not valid PEM: ${(err as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(pair.key);
  } catch (err) {
    throw new Error(`the private key is not valid PEM: ${(err as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate');
  if (new Date(cert.validTo).getTime() < now.getTime()) throw new Error(`the certificate expired at ${cert.validTo}`);
  return cert;
}

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export async function readPair(files: CertificateFiles): Promise<ServingPair> {
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  return { cert, key };
}

export interface WatchOptions {
  /** Mounted Secrets change by a symlink swap that fs.watch can miss, so poll as well. */
  pollMs?: number;
  onChange(pair: ServingPair): void;
  onError(err: Error): void;
}

/** Watches the certificate files and reports each new valid pair once. Returns a stop function. */
export function watchPair(files: CertificateFiles, initial: ServingPair, opts: WatchOptions): () => void {
  const fingerprint = (p: ServingPair) => createHash('sha256').update(p.cert).update(p.key).digest('hex');
  let current = fingerprint(initial);
  let lastMtimes = '';
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const [a, b] = await Promise.all([stat(files.certFile), stat(files.keyFile)]);
      const mtimes = `${a.mtimeMs}:${b.mtimeMs}:${a.ino}:${b.ino}`;
      if (mtimes === lastMtimes) return;
      const pair = await readPair(files);
      const next = fingerprint(pair);
      if (next === current) {
        lastMtimes = mtimes;
        return;
      }
      // The pair is written as two files: a half-written rotation is retried on the next check.
      validatePair(pair, new Date());
      lastMtimes = mtimes;
      current = next;
      opts.onChange(pair);
    } catch (err) {
      opts.onError(err as Error);
    } finally {
      checking = false;
    }
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(files.certFile), dirname(files.keyFile)])) {
    try {
      const w = watch(dir, () => void check());
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // Polling alone still picks up the change.
    }
  }
  const timer = setInterval(() => void check(), opts.pollMs ?? 10_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const w of watchers) w.close();
  };
}

/** Serves each valid new pair from the files on the live server; new connections get it at once. */
export function reloadOnChange(
  server: { setSecureContext(options: { key: string; cert: string; ca?: string }): void },
  files: CertificateFiles,
  initial: ServingPair,
  hooks: { onReload(pair: ServingPair): void; onError(err: Error): void; pollMs?: number; clientCa?: () => string | undefined },
): () => void {
  return watchPair(files, initial, {
    ...(hooks.pollMs !== undefined ? { pollMs: hooks.pollMs } : {}),
    onChange(pair) {
      const ca = hooks.clientCa?.();
      server.setSecureContext({ key: pair.key, cert: pair.cert, ...(ca ? { ca } : {}) });
      hooks.onReload(pair);
    },
    onError: hooks.onError,
  });
}

/** Throws unless the text holds at least one PEM certificate (a CA bundle may hold several). */
export function validateCaBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Watches one PEM file (a CA) and reports each new valid content once; same polling and fs events as
 * watchPair. Returns a stop function.
 */
export function watchCaFile(file: string, initial: string, opts: { pollMs?: number; onChange(pem: string): void; onError(err: Error): void }): () => void {
  let current = initial;
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const pem = await readFile(file, 'utf8');
      if (pem === current) return;
      validateCaBundle(pem);
      current = pem;
      opts.onChange(pem);
    } catch (err) {
      opts.onError(err as Error);
    } finally {
      checking = false;
    }
  };
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(file), () => void check());
    watcher.on('error', () => undefined);
  } catch {
    // Polling alone still picks up the change.
  }
  const timer = setInterval(() => void check(), opts.pollMs ?? 10_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    watcher?.close();
  };
}
