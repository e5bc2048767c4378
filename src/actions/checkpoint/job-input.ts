import * as z from 'zod/mini';
import { jobStorageSchema, objectRefSchema } from '../shared/storage-input.js';

/** The kubelet's checkpoint directory, mounted from the node at the same path. */
export const KUBELET_CHECKPOINT_DIR = '/var/lib/kubelet/checkpoints';

/**
 * What the dispatcher tells a checkpoint Job, as one JSON env var. Secrets never travel here:
 * credentials reach the Job as Secret-backed env or files.
 */
export const checkpointJobInputSchema = z.object({
  checkpoint: objectRefSchema,
  target: z.object({ namespace: z.string(), podName: z.string(), containerName: z.string() }),
  nodeName: z.string().check(z.minLength(1)),
  kubelet: z.object({
    access: z.enum(['direct', 'proxy']),
    port: z.int().check(z.minimum(1), z.maximum(65535)),
    timeoutSeconds: z.optional(z.int().check(z.minimum(1))),
    insecureSkipTLSVerify: z._default(z.boolean(), false),
    /** A Secret in the Jobs' namespace whose ca.crt verifies kubelet serving certificates (with the cluster CA). */
    caBundleSecret: z.optional(z.string().check(z.minLength(1))),
  }),
  storage: jobStorageSchema,
});
export type CheckpointJobInput = z.infer<typeof checkpointJobInputSchema>;

export const CHECKPOINT_JOB_INPUT_ENV = 'CHECKPOINT_JOB_INPUT';

/** Where the kubelet CA bundle Secret (kubelet.caBundleSecret) is mounted in a checkpoint Job. */
export const KUBELET_CA_DIR = '/etc/checkpoint-operator/kubelet-ca';
