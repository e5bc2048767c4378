import { webcrypto } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface ServingCertificate {
  cert: string;
  key: string;
}

/**
 * A certificate of our own for the metrics port when none is mounted, as controller-runtime makes
 * one when its CertDir is empty: the connection is encrypted, and scrapers that do not pin a CA
 * (Kubebuilder's ServiceMonitor sets insecureSkipVerify for this case) still authenticate with
 * their token. A certificate from cert-manager in METRICS_CERT_DIR is what to pin.
 */
export async function selfSignedCertificate(
  dnsNames: string[],
  now = new Date(),
  validDays = 365,
): Promise<ServingCertificate> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=${dnsNames[0] ?? 'checkpoint-operator'}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + validDays * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

/** tls.crt and tls.key of a mounted kubernetes.io/tls Secret, with when they last changed. */
export async function readCertificateDir(dir: string): Promise<ServingCertificate & { changedAt: number }> {
  const [cert, key, certStat, keyStat] = await Promise.all([
    readFile(join(dir, 'tls.crt'), 'utf8'),
    readFile(join(dir, 'tls.key'), 'utf8'),
    stat(join(dir, 'tls.crt')),
    stat(join(dir, 'tls.key')),
  ]);
  return { cert, key, changedAt: Math.max(certStat.mtimeMs, keyStat.mtimeMs) };
}
