import { REGISTRY_CA_SECRET_KEY, REGISTRY_SECRET_KEY } from '../../actions/shared/registry-secret.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { readSecretData } from './job-secrets.js';
import type { RegistrySecretRef } from './registry-plan.js';

export interface RegistrySecretData {
  /** Keys for the per-Job Secret: the push credentials and the registry's CA bundle, as found. */
  data: Record<string, string>;
  /** What could not be read, with the reason a status would carry. */
  missing: { reason: 'RegistryCredentialsNotFound' | 'CABundleNotFound'; message: string }[];
}

/** Reads the registry Secrets a plan names into the keys a restore or cleanup Job reads them from. */
export async function readRegistrySecretData(
  lean: LeanKubeClient,
  refs: { credentials?: RegistrySecretRef | undefined; caBundle?: RegistrySecretRef | undefined },
): Promise<RegistrySecretData> {
  const wanted = [
    {
      ref: refs.credentials,
      into: REGISTRY_SECRET_KEY,
      reason: 'RegistryCredentialsNotFound' as const,
      what: 'the registry credentials',
      hint: ' (it must be of type kubernetes.io/dockerconfigjson)',
    },
    {
      ref: refs.caBundle,
      into: REGISTRY_CA_SECRET_KEY,
      reason: 'CABundleNotFound' as const,
      what: "the registry's CA bundle",
      hint: '',
    },
  ];
  const result: RegistrySecretData = { data: {}, missing: [] };
  for (const { ref, into, reason, what, hint } of wanted) {
    if (!ref) continue;
    const secret = await readSecretData(lean, ref);
    const value = secret?.[ref.key];
    if (value) {
      result.data[into] = value;
      continue;
    }
    result.missing.push({
      reason,
      message: secret
        ? `Secret ${ref.namespace}/${ref.name} has no key ${ref.key} with ${what}${hint}`
        : `Secret ${ref.namespace}/${ref.name} with ${what} does not exist`,
    });
  }
  return result;
}
