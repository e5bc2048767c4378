import { z } from 'zod';
import { withCelRules } from './cel.js';
import { ABSOLUTE_NORMAL_PATH, DNS_SUBDOMAIN, KEY_PREFIX, QUANTITY, S3_BUCKET, S3_ENDPOINT } from './patterns.js';

/*
 * Storage settings shared by Checkpoint.spec.storage and CheckpointPolicy.spec.storage.
 *
 * No field here has a schema default: a Checkpoint's storage overrides its policy's field by
 * field, and a defaulted field would always be "set" and silently override the policy.
 */

export const STORAGE_BACKENDS = ['pvc', 's3', 'local'] as const;
export const storageBackendSchema = z.enum(STORAGE_BACKENDS).describe('Where archives are stored: pvc, s3 or local.');
export type StorageBackend = z.infer<typeof storageBackendSchema>;

const resourceName = (what: string) => z.string().min(1).max(253).regex(DNS_SUBDOMAIN).describe(`Name of ${what}.`);

/**
 * A Secret reference. On a (namespaced) Checkpoint the Secret is always read from the Checkpoint's
 * own namespace, so `namespace` is forbidden there; a (cluster-scoped) policy must say where.
 */
export function secretReferenceSchema(scope: 'namespaced' | 'cluster', keyDefault?: string) {
  const base = z.object({
    name: resourceName('the Secret'),
    namespace: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .optional()
      .describe('Namespace of the Secret (CheckpointPolicy only; a Checkpoint reads Secrets from its own namespace).'),
    ...(keyDefault
      ? {
          key: z
            .string()
            .min(1)
            .max(253)
            .regex(/^[-._a-zA-Z0-9]+$/)
            .optional()
            .describe(`Key in the Secret (default ${keyDefault}).`),
        }
      : {}),
  });
  return scope === 'cluster'
    ? withCelRules(base, [
        {
          rule: 'has(self.namespace)',
          message: 'namespace is required: a CheckpointPolicy is cluster-scoped',
          fieldPath: '.namespace',
          reason: 'FieldValueRequired',
          check: (v) => v.namespace !== undefined,
        },
      ])
    : withCelRules(base, [
        {
          rule: '!has(self.namespace)',
          message: 'namespace must not be set: a Checkpoint reads Secrets from its own namespace',
          fieldPath: '.namespace',
          reason: 'FieldValueForbidden',
          check: (v) => v.namespace === undefined,
        },
      ]);
}

export const pvcStorageSchema = z
  .object({
    claimName: resourceName('an existing PersistentVolumeClaim').optional(),
  })
  .describe('PersistentVolumeClaim storage: an existing claim, or the one the policy creates from pvcTemplate.');

export const localStorageSchema = z
  .object({
    path: z
      .string()
      .min(2)
      .max(4096)
      .regex(ABSOLUTE_NORMAL_PATH)
      .describe(
        "Directory on the node. Absolute and normalised: no '.', '..' or empty segments, no trailing slash, no control characters.",
      ),
  })
  .describe('A directory on the node that ran the checkpoint.');

const sseSchema = withCelRules(
  z.object({
    type: z.enum(['AES256', 'aws:kms']).describe('Server-side encryption algorithm.'),
    kmsKeyId: z.string().min(1).max(2048).optional().describe('KMS key id or ARN (type aws:kms only).'),
  }),
  [
    {
      rule: "self.type == 'aws:kms' || !has(self.kmsKeyId)",
      message: 'kmsKeyId is only valid with type aws:kms',
      fieldPath: '.kmsKeyId',
      reason: 'FieldValueForbidden',
      check: (v) => v.type === 'aws:kms' || v.kmsKeyId === undefined,
    },
  ],
).describe('Server-side encryption of stored archives.');

export function s3StorageSchema(scope: 'namespaced' | 'cluster') {
  return z
    .object({
      endpoint: z
        .string()
        .min(1)
        .max(512)
        .regex(S3_ENDPOINT)
        .optional()
        .describe(
          'S3 endpoint host, with or without scheme (https when absent), optional port. Unset: AWS for the region.',
        ),
      bucket: z.string().min(3).max(63).regex(S3_BUCKET).optional().describe('Bucket name.'),
      prefix: z
        .string()
        .max(512)
        .regex(KEY_PREFIX)
        .optional()
        .describe(
          "Key prefix, used exactly as written (e.g. 'my-app/'). Relative; no '.', '..' or empty segments, no control characters.",
        ),
      region: z
        .string()
        .min(1)
        .max(64)
        .regex(/^[a-z0-9-]+$/)
        .optional()
        .describe('Region (default us-east-1).'),
      credentialsSecretRef: secretReferenceSchema(scope)
        .optional()
        .describe('Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN).'),
      forcePathStyle: z
        .boolean()
        .optional()
        .describe(
          'Address buckets as endpoint/bucket rather than bucket.endpoint (MinIO and most non-AWS servers need this).',
        ),
      insecure: z
        .boolean()
        .optional()
        .describe('Skip TLS certificate verification. Archives hold process memory: prefer caBundleSecretRef.'),
      caBundleSecretRef: secretReferenceSchema(scope, 'ca.crt')
        .optional()
        .describe('Secret holding a PEM CA bundle that signs the endpoint certificate.'),
      serverSideEncryption: sseSchema.optional(),
    })
    .describe('S3-compatible object storage.');
}

const quantitySchema = z
  .union([z.int().min(0), z.string().max(64).regex(QUANTITY)])
  .meta({ 'x-kubernetes-int-or-string': true });

export const pvcTemplateSchema = z
  .object({
    accessModes: z
      .array(z.enum(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']))
      .min(1)
      .max(4)
      .describe('Access modes of the claim.'),
    resources: z.object({
      requests: z.object({ storage: quantitySchema.describe('Requested size, e.g. 10Gi.') }),
      limits: z.object({ storage: quantitySchema.optional() }).optional(),
    }),
    storageClassName: z.string().min(1).max(253).regex(DNS_SUBDOMAIN).optional().describe('StorageClass of the claim.'),
    volumeMode: z.enum(['Filesystem']).optional().describe('Only Filesystem: archives are files.'),
  })
  .describe('Specification of the PersistentVolumeClaim created for the pvc backend when no claimName is given.');

type StorageFields = { backend?: StorageBackend; s3?: unknown; local?: unknown; pvc?: unknown };

/** Only the section named by backend may be present: anything else is a contradiction. */
const sectionMatchesBackend = {
  rule: "!has(self.backend) || ((self.backend == 's3' || !has(self.s3)) && (self.backend == 'local' || !has(self.local)) && (self.backend == 'pvc' || !has(self.pvc)))",
  message: 'only the section of the chosen backend may be set (backend pvc: pvc, s3: s3, local: local)',
  reason: 'FieldValueInvalid' as const,
  check: (v: StorageFields) =>
    v.backend === undefined ||
    ((v.backend === 's3' || v.s3 === undefined) &&
      (v.backend === 'local' || v.local === undefined) &&
      (v.backend === 'pvc' || v.pvc === undefined)),
};

export const checkpointStorageSchema = withCelRules(
  z.object({
    backend: storageBackendSchema.optional(),
    pvc: pvcStorageSchema.optional(),
    s3: s3StorageSchema('namespaced').optional(),
    local: localStorageSchema.optional(),
  }),
  [sectionMatchesBackend],
).describe("Storage for the archive. Fields set here override the policy's, field by field.");
export type CheckpointStorage = z.infer<typeof checkpointStorageSchema>;

export const policyStorageSchema = withCelRules(
  z.object({
    backend: storageBackendSchema,
    pvc: pvcStorageSchema.optional(),
    pvcTemplate: pvcTemplateSchema.optional(),
    s3: s3StorageSchema('cluster').optional(),
    local: localStorageSchema.optional(),
  }),
  [
    sectionMatchesBackend,
    {
      rule: "self.backend != 's3' || (has(self.s3) && has(self.s3.bucket))",
      message: 's3.bucket is required when backend is s3',
      fieldPath: '.s3',
      reason: 'FieldValueRequired',
      check: (v) => v.backend !== 's3' || v.s3?.bucket !== undefined,
    },
    {
      rule: "self.backend != 'local' || has(self.local)",
      message: 'local.path is required when backend is local',
      fieldPath: '.backend',
      reason: 'FieldValueRequired',
      check: (v) => v.backend !== 'local' || v.local !== undefined,
    },
    {
      rule: "self.backend != 'pvc' || (has(self.pvc) && has(self.pvc.claimName)) || has(self.pvcTemplate)",
      message: 'backend pvc needs pvc.claimName or pvcTemplate',
      fieldPath: '.backend',
      reason: 'FieldValueRequired',
      check: (v) => v.backend !== 'pvc' || v.pvc?.claimName !== undefined || v.pvcTemplate !== undefined,
    },
    {
      // Either an existing claim or one to create: with both, the template would be silently ignored.
      rule: '!(has(self.pvc) && has(self.pvc.claimName) && has(self.pvcTemplate))',
      message: 'pvc.claimName and pvcTemplate exclude each other: name an existing claim or describe the one to create',
      fieldPath: '.pvcTemplate',
      reason: 'FieldValueForbidden',
      check: (v) => !(v.pvc?.claimName !== undefined && v.pvcTemplate !== undefined),
    },
    {
      rule: "self.backend == 'pvc' || !has(self.pvcTemplate)",
      message: 'pvcTemplate is only valid with backend pvc',
      fieldPath: '.pvcTemplate',
      reason: 'FieldValueForbidden',
      check: (v) => v.backend === 'pvc' || v.pvcTemplate === undefined,
    },
  ],
).describe('Default storage for Checkpoints that cite this policy.');
export type PolicyStorage = z.infer<typeof policyStorageSchema>;
