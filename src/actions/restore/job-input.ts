import { z } from 'zod';
import { DNS_LABEL } from '../../api/patterns.js';
import { jobStorageSchema } from '../shared/storage-input.js';

const objectRef = z.object({ namespace: z.string().regex(DNS_LABEL), name: z.string().min(1), uid: z.string().min(1) });

/**
 * What the dispatcher tells a restore Job, as one JSON env var: which archive (with the size and
 * sha256 its Checkpoint recorded, which the Job verifies before anything is published), where it
 * lives, and where to push the checkpoint image. Secrets never travel here.
 */
export const restoreJobInputSchema = z.object({
  jobName: z.string().min(1).max(63),
  request: z.string().min(1).max(253),
  checkpoint: objectRef,
  pod: objectRef,
  containerName: z.string().min(1),
  archive: z.object({
    key: z.string().min(1),
    uri: z.string().min(1),
    sizeBytes: z.int().min(0),
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    createdAt: z.string().min(1),
  }),
  storage: jobStorageSchema,
  registry: z.object({
    repository: z.string().min(1),
    tag: z.string().min(1).max(128),
    insecure: z.boolean().default(false),
    /** secret: a .dockerconfigjson in REGISTRY_SECRET_DIR; anonymous: none. */
    credentials: z.enum(['secret', 'anonymous']).default('anonymous'),
    /** True: REGISTRY_CA_FILE in REGISTRY_SECRET_DIR signs the registry, spoken to over HTTPS. */
    caBundle: z.boolean().default(false),
  }),
});
export type RestoreJobInput = z.infer<typeof restoreJobInputSchema>;

export const RESTORE_JOB_INPUT_ENV = 'RESTORE_JOB_INPUT';
