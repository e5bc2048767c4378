import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { DNS_LABEL } from '../../api/patterns.js';

/* The parts of a Job's input every action shares: where its archive is, and how it reaches S3. */

/** Where a node-pinned Job finds the storage volume the dispatcher mounted for it. */
export const ARCHIVE_MOUNT_PATH = '/archive';
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
/** A Kubernetes object a Job acts for, by name and uid (a recreated object is another one). */
export const objectRefSchema = z.object({
  namespace: z.string().check(z.regex(DNS_LABEL)),
  name: nonEmpty(),
  uid: nonEmpty(),
});

export const jobStorageSchema = z.discriminatedUnion('backend', [
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
    serverSideEncryption: z.optional(
      z.object({ type: z.enum(['AES256', 'aws:kms']), kmsKeyId: z.optional(z.string()) }),
    ),
    /** secret: keys in S3_SECRET_DIR; ambient: the SDK's default chain (workload identity, instance role). */
    credentials: z._default(z.enum(['secret', 'ambient']), 'ambient'),
    /** A CA bundle is at S3_SECRET_DIR/ca.crt. */
    caBundle: z._default(z.boolean(), false),
  }),
]);
export type JobStorage = z.infer<typeof jobStorageSchema>;
