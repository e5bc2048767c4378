import * as z from 'zod/mini';
import { jobStorageSchema, objectRefSchema } from '../shared/storage-input.js';

/**
 * What the dispatcher tells a cleanup Job, as one JSON env var: whose archives to delete and where
 * they live. `key` is the archive the Checkpoint recorded (status.archive.key), when it recorded
 * one; the Job also deletes whatever else lies under the Checkpoint's own prefix, since a
 * Checkpoint deleted while its checkpoint Job ran may have an archive stored but never recorded.
 */
export const cleanupJobInputSchema = z.object({
  checkpoint: objectRefSchema,
  storage: jobStorageSchema,
  key: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
  /**
   * Checkpoint images pushed for restores of this Checkpoint (by digest), which hold the same
   * process memory as the archive. `caBundle`: the registry CA in REGISTRY_SECRET_DIR applies.
   */
  images: z.optional(
    z.array(
      z.object({
        reference: z.string().check(z.minLength(1), z.maxLength(4096)),
        insecure: z.boolean(),
        caBundle: z.boolean(),
      }),
    ),
  ),
  /** A .dockerconfigjson in REGISTRY_SECRET_DIR holds the credentials to delete images with. */
  registryCredentials: z.optional(z.boolean()),
});
export type CleanupJobInput = z.infer<typeof cleanupJobInputSchema>;

export const CLEANUP_JOB_INPUT_ENV = 'CLEANUP_JOB_INPUT';
