import { z } from 'zod';
import { DNS_LABEL } from '../api/patterns.js';

/** Where a node-pinned Job finds the storage volume the dispatcher mounted for it. */
export const ARCHIVE_MOUNT_PATH = '/archive';
/** The kubelet's checkpoint directory, mounted from the node at the same path. */
export const KUBELET_CHECKPOINT_DIR = '/var/lib/kubelet/checkpoints';
/**
 * Where an S3 Job finds its credentials and CA bundle, as files of a per-Job Secret: never in the
 * Job's env, where `kubectl describe` and /proc/<pid>/environ would show them.
 */
export const S3_SECRET_DIR = '/var/run/secrets/checkpoint-operator/s3';
/** Keys of that Secret (the credential keys are the AWS SDK's own names). */
export const S3_SECRET_KEYS = {
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
  caBundle: 'ca.crt',
} as const;

const objectRef = z.object({ namespace: z.string().regex(DNS_LABEL), name: z.string().min(1), uid: z.string().min(1) });

const jobStorageSchema = z.discriminatedUnion('backend', [
  /** local and pvc are both a directory the Job sees at ARCHIVE_MOUNT_PATH. */
  z.object({ backend: z.literal('local'), nodeName: z.string(), path: z.string() }),
  z.object({ backend: z.literal('pvc'), claimName: z.string() }),
  z.object({
    backend: z.literal('s3'),
    endpoint: z.string().optional(),
    bucket: z.string(),
    prefix: z.string().default(''),
    region: z.string().optional(),
    forcePathStyle: z.boolean().optional(),
    insecure: z.boolean().optional(),
    serverSideEncryption: z.object({ type: z.enum(['AES256', 'aws:kms']), kmsKeyId: z.string().optional() }).optional(),
    /** secret: keys in S3_SECRET_DIR; ambient: the SDK's default chain (workload identity, instance role). */
    credentials: z.enum(['secret', 'ambient']).default('ambient'),
    /** A CA bundle is at S3_SECRET_DIR/ca.crt. */
    caBundle: z.boolean().default(false),
  }),
]);
export type JobStorage = z.infer<typeof jobStorageSchema>;

/**
 * What the dispatcher tells a checkpoint Job, as one JSON env var. Secrets never travel here:
 * credentials reach the Job as Secret-backed env or files.
 */
export const checkpointJobInputSchema = z.object({
  checkpoint: objectRef,
  target: z.object({ namespace: z.string(), podName: z.string(), containerName: z.string() }),
  nodeName: z.string().min(1),
  kubelet: z.object({
    access: z.enum(['direct', 'proxy']),
    port: z.int().min(1).max(65535),
    timeoutSeconds: z.int().min(1).optional(),
    insecureSkipTLSVerify: z.boolean().default(false),
  }),
  storage: jobStorageSchema,
});
export type CheckpointJobInput = z.infer<typeof checkpointJobInputSchema>;

export const CHECKPOINT_JOB_INPUT_ENV = 'CHECKPOINT_JOB_INPUT';
