import type { ResolvedStorage } from '../../api/resolve-storage.js';
import type { JobStorage } from '../../actions/shared/storage-input.js';

/**
 * Secrets an S3 Job needs, by where they live. The dispatcher copies them into a per-Job Secret
 * in the Jobs' namespace: a Pod can only mount Secrets of its own namespace.
 */
export interface S3SecretPlan {
  credentials?: { namespace: string; name: string };
  caBundle?: { namespace: string; name: string; key: string };
}

/** Where a Job reads or writes the archive, as its input says it. */
export function jobStorage(storage: ResolvedStorage, nodeName: string): JobStorage {
  switch (storage.backend) {
    case 'local':
      return { backend: 'local', nodeName, path: storage.local.path };
    case 'pvc':
      return {
        backend: 'pvc',
        claimName: 'claimName' in storage.pvc ? storage.pvc.claimName : policyClaimName(storage.pvc.policyName),
      };
    case 's3': {
      const { credentialsSecretRef: _c, caBundleSecretRef: _ca, ...s3 } = storage.s3;
      // The executor sets credentials and caBundle once it knows which Secrets it mounted.
      return { backend: 's3', ...s3, prefix: s3.prefix ?? '', credentials: 'ambient', caBundle: false };
    }
  }
}

/** A Checkpoint's references name Secrets in its own namespace; a policy's say where. */
export function s3SecretPlan(
  s3: Extract<ResolvedStorage, { backend: 's3' }>['s3'],
  checkpointNamespace: string,
): S3SecretPlan {
  const plan: S3SecretPlan = {};
  if (s3.credentialsSecretRef) {
    plan.credentials = {
      namespace: s3.credentialsSecretRef.namespace ?? checkpointNamespace,
      name: s3.credentialsSecretRef.name,
    };
  }
  if (s3.caBundleSecretRef) {
    const ref = s3.caBundleSecretRef as { namespace?: string; name: string; key?: string };
    plan.caBundle = { namespace: ref.namespace ?? checkpointNamespace, name: ref.name, key: ref.key ?? 'ca.crt' };
  }
  return plan;
}

/** The claim the operator creates from a policy's pvcTemplate, in the Jobs' namespace. */
export function policyClaimName(policyName: string): string {
  return `checkpoint-archives-${policyName}`.slice(0, 253);
}
