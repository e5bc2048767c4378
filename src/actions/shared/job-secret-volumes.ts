import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import {
  REGISTRY_CA_FILE,
  REGISTRY_CA_SECRET_KEY,
  REGISTRY_SECRET_DIR,
  REGISTRY_SECRET_KEY,
} from './registry-secret.js';
import { secretFileMode } from './action-job.js';
import { S3_SECRET_DIR, S3_SECRET_KEYS } from './storage-input.js';

export interface SecretVolumes {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
}

/**
 * How a Job mounts its per-Job Secret, the same for every action: the S3 keys (credentials and
 * CA bundle) at S3_SECRET_DIR and the registry's (push credentials and CA bundle) at
 * REGISTRY_SECRET_DIR, each read-only and with only the keys the Secret holds, so a missing key
 * never leaves a pod waiting for its volume. Nothing when the Secret holds nothing.
 */
export function jobSecretVolumes(secretName: string, secretKeys: string[], runAsRoot: boolean): SecretVolumes {
  const out: SecretVolumes = { volumes: [], mounts: [] };
  const s3Items = secretKeys
    .filter((k) => (Object.values(S3_SECRET_KEYS) as string[]).includes(k))
    .map((key) => ({ key, path: key }));
  if (s3Items.length > 0) {
    out.volumes.push({
      name: 's3-secret',
      secret: { secretName, defaultMode: secretFileMode(runAsRoot), items: s3Items },
    });
    out.mounts.push({ name: 's3-secret', mountPath: S3_SECRET_DIR, readOnly: true });
  }
  const registryItems = [
    ...(secretKeys.includes(REGISTRY_SECRET_KEY) ? [{ key: REGISTRY_SECRET_KEY, path: REGISTRY_SECRET_KEY }] : []),
    // The per-Job Secret may carry an S3 ca.crt too: the registry's has a key of its own.
    ...(secretKeys.includes(REGISTRY_CA_SECRET_KEY) ? [{ key: REGISTRY_CA_SECRET_KEY, path: REGISTRY_CA_FILE }] : []),
  ];
  if (registryItems.length > 0) {
    out.volumes.push({
      name: 'registry-secret',
      secret: { secretName, defaultMode: secretFileMode(runAsRoot), items: registryItems },
    });
    out.mounts.push({ name: 'registry-secret', mountPath: REGISTRY_SECRET_DIR, readOnly: true });
  }
  return out;
}
