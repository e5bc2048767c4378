import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REGISTRY_CA_FILE, REGISTRY_SECRET_KEY } from './registry-secret.js';
import { JobFailure } from './checkpoint-object.js';

/**
 * The registry files of a per-Job Secret that the Job's input says are there: the push
 * credentials (a .dockerconfigjson) and the CA bundle, which must hold a PEM certificate.
 */
export async function readRegistrySecretFiles(
  dir: string,
  wanted: { credentials: boolean; caBundle: boolean },
): Promise<{ dockerConfig?: Buffer; ca?: Buffer }> {
  const [dockerConfig, ca] = await Promise.all([
    wanted.credentials ? readFile(join(dir, REGISTRY_SECRET_KEY)) : undefined,
    wanted.caBundle ? readFile(join(dir, REGISTRY_CA_FILE)) : undefined,
  ]);
  if (ca && !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new JobFailure(
      'CABundleInvalid',
      "the registry's CA bundle holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    );
  }
  return { ...(dockerConfig ? { dockerConfig } : {}), ...(ca ? { ca } : {}) };
}
