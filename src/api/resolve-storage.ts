import type { CheckpointStorage, PolicyStorage, StorageBackend } from './storage.js';
import type { z } from 'zod';
import type { pvcTemplateSchema, s3StorageSchema } from './storage.js';

type S3Settings = z.infer<ReturnType<typeof s3StorageSchema>>;
type PvcTemplate = z.infer<typeof pvcTemplateSchema>;

/** Storage after the Checkpoint's fields have been laid over the policy's. */
export type ResolvedStorage =
  | { backend: 'local'; local: { path: string } }
  | { backend: 'pvc'; pvc: { claimName: string } | { template: PvcTemplate; policyName: string } }
  | { backend: 's3'; s3: S3Settings & { bucket: string } };

export type StorageResolution =
  | { ok: true; storage: ResolvedStorage }
  | { ok: false; reason: 'StorageNotConfigured' | 'StorageIncomplete'; message: string };

/**
 * Lays the Checkpoint's storage over its policy's, field by field: the backend is the Checkpoint's
 * if it names one, and within that backend each field the Checkpoint sets wins. Pure, so every
 * combination is tested without a cluster.
 */
export function resolveStorage(
  checkpoint: CheckpointStorage | undefined,
  policy: { name: string; storage: PolicyStorage | undefined } | undefined,
): StorageResolution {
  const fromPolicy = policy?.storage;
  const backend: StorageBackend | undefined = checkpoint?.backend ?? fromPolicy?.backend;
  if (backend === undefined) {
    return {
      ok: false,
      reason: 'StorageNotConfigured',
      message: policy
        ? `neither the Checkpoint nor CheckpointPolicy ${policy.name} configures storage: set spec.storage.backend`
        : 'no storage configured: set spec.storage or spec.policyRef',
    };
  }
  // A policy's section only applies to the backend the policy itself chose or the Checkpoint picked.
  switch (backend) {
    case 'local': {
      const path = checkpoint?.local?.path ?? fromPolicy?.local?.path;
      if (path === undefined) return incomplete('backend local needs local.path');
      return { ok: true, storage: { backend, local: { path } } };
    }
    case 's3': {
      const s3 = { ...fromPolicy?.s3, ...definedFields(checkpoint?.s3 ?? {}) } as S3Settings;
      if (s3.bucket === undefined) return incomplete('backend s3 needs s3.bucket');
      return { ok: true, storage: { backend, s3: { ...s3, bucket: s3.bucket } } };
    }
    case 'pvc': {
      const claimName = checkpoint?.pvc?.claimName ?? fromPolicy?.pvc?.claimName;
      if (claimName !== undefined) return { ok: true, storage: { backend, pvc: { claimName } } };
      if (fromPolicy?.pvcTemplate && policy) {
        return { ok: true, storage: { backend, pvc: { template: fromPolicy.pvcTemplate, policyName: policy.name } } };
      }
      return incomplete('backend pvc needs pvc.claimName, or a policy with pvcTemplate');
    }
  }
}

function incomplete(message: string): StorageResolution {
  return { ok: false, reason: 'StorageIncomplete', message };
}

/** Drops keys whose value is undefined so they do not erase the policy's value in a spread. */
function definedFields<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
