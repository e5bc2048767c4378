import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { REGISTRY_CA_FILE, REGISTRY_CA_SECRET_KEY, REGISTRY_SECRET_DIR, REGISTRY_SECRET_KEY } from './registry-secret.js';
import { secretFileMode } from './action-job.js';

/**
 * The registry's part of a per-Job Secret (push credentials, CA bundle), mounted read-only where
 * restore and cleanup Jobs read it, with only the keys the Secret holds; none when it holds none.
 */
export function registrySecretVolume(secretName: string, secretKeys: string[], runAsRoot: boolean): { volume: V1Volume; mount: V1VolumeMount } | undefined {
  const items = [
    ...(secretKeys.includes(REGISTRY_SECRET_KEY) ? [{ key: REGISTRY_SECRET_KEY, path: REGISTRY_SECRET_KEY }] : []),
    // The per-Job Secret may carry an S3 ca.crt too: the registry's has a key of its own.
    ...(secretKeys.includes(REGISTRY_CA_SECRET_KEY) ? [{ key: REGISTRY_CA_SECRET_KEY, path: REGISTRY_CA_FILE }] : []),
  ];
  if (items.length === 0) return undefined;
  return {
    volume: { name: 'registry-secret', secret: { secretName, defaultMode: secretFileMode(runAsRoot), items } },
    mount: { name: 'registry-secret', mountPath: REGISTRY_SECRET_DIR, readOnly: true },
  };
}
