/**
 * Whether a Node error code (and message) means a TLS peer that could not be verified or spoken
 * to: an unknown or self-signed issuer, a name the certificate does not carry, an expired
 * certificate, a failed handshake. A connection that could not be made at all is not one.
 * Shared by every client that reports TLS failures by reason (S3, registries, kubelets).
 */
export function isTlsError(code: string | undefined, message = ''): boolean {
  if (!code) return false;
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) ||
    (code === 'EPROTO' && /SSL|TLS/i.test(message))
  );
}
