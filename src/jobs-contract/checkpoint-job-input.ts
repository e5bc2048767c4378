import * as z from 'zod/mini';
import { en } from 'zod/locales';
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

// zod/mini rather than zod: a Job validates one small object at start-up, and the full build
// (every method on every schema, every locale) took most of a Job's start-up to load. Messages
// stay those of the full build.
z.config(en());

const nonEmpty = () => z.string().check(z.minLength(1));
const objectRef = z.object({ namespace: z.string().check(z.regex(DNS_LABEL)), name: nonEmpty(), uid: nonEmpty() });

const jobStorageSchema = z.discriminatedUnion('backend', [
  /** local and pvc are both a directory the Job sees at ARCHIVE_MOUNT_PATH. */
  z.object({ backend: z.literal('local'), nodeName: z.string(), path: z.string() }),
  z.object({ backend: z.literal('pvc'), claimName: z.string() }),
  z.object({
    backend: z.literal('s3'),
    endpoint: z.optional(z.string()),
    bucket: z.string(),
    prefix: z._default(z.string(), ''),
    region: z.optional(z.string()),
    forcePathStyle: z.optional(z.boolean()),
    insecure: z.optional(z.boolean()),
    serverSideEncryption: z.optional(z.object({ type: z.enum(['AES256', 'aws:kms']), kmsKeyId: z.optional(z.string()) })),
    /** secret: keys in S3_SECRET_DIR; ambient: the SDK's default chain (workload identity, instance role). */
    credentials: z._default(z.enum(['secret', 'ambient']), 'ambient'),
    /** A CA bundle is at S3_SECRET_DIR/ca.crt. */
    caBundle: z._default(z.boolean(), false),
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
  nodeName: nonEmpty(),
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
