import type { CheckpointPolicySpec } from '../../api/checkpoint-policy.js';
import { REGISTRY_SECRET_KEY } from '../../actions/shared/registry-secret.js';
import { parseRepository } from '../../oci/image-reference.js';

export interface RestoreDefaults {
  imageRepository: string | undefined;
  /** A dockerconfigjson Secret in the Jobs' namespace. */
  pushSecret: string | undefined;
  insecureRegistry: boolean;
  /** A Secret in the Jobs' namespace whose ca.crt signs the registry's certificate. */
  caBundleSecret: string | undefined;
}

/** A Secret key a Job needs for the registry: push credentials, or the registry's CA bundle. */
export interface RegistrySecretRef {
  namespace: string;
  name: string;
  key: string;
}

/** Where checkpoint images go and what reaches that registry. */
export interface RegistryPlan {
  repository: string | undefined;
  insecure: boolean;
  credentials: RegistrySecretRef | undefined;
  caBundle: RegistrySecretRef | undefined;
}

/**
 * The registry a Checkpoint's images go to: its policy's spec.restore, taken whole, or the
 * operator's defaults for Checkpoints whose policy has none. Pure.
 */
export function registryPlan(
  settings: CheckpointPolicySpec['restore'],
  defaults: RestoreDefaults,
  jobNamespace: string,
): RegistryPlan {
  if (!settings) {
    return {
      repository: defaults.imageRepository,
      insecure: defaults.insecureRegistry,
      credentials: defaults.pushSecret
        ? { namespace: jobNamespace, name: defaults.pushSecret, key: REGISTRY_SECRET_KEY }
        : undefined,
      caBundle: defaults.caBundleSecret
        ? { namespace: jobNamespace, name: defaults.caBundleSecret, key: 'ca.crt' }
        : undefined,
    };
  }
  const ca = settings.caBundleSecretRef as { namespace?: string; name: string; key?: string } | undefined;
  return {
    repository: settings.imageRepository,
    insecure: settings.insecureRegistry ?? false,
    credentials: settings.pushSecretRef
      ? {
          namespace: settings.pushSecretRef.namespace ?? jobNamespace,
          name: settings.pushSecretRef.name,
          key: REGISTRY_SECRET_KEY,
        }
      : undefined,
    caBundle: ca ? { namespace: ca.namespace ?? jobNamespace, name: ca.name, key: ca.key ?? 'ca.crt' } : undefined,
  };
}

/** True when an image lives on the registry the plan's settings (plain HTTP, CA bundle) are for. */
export function planCoversHost(plan: RegistryPlan, host: string): boolean {
  if (!plan.repository) return false;
  try {
    return parseRepository(plan.repository).host === host;
  } catch {
    return false;
  }
}
