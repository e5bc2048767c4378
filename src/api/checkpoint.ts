import { z } from 'zod';
import { withCelRules } from './cel.js';
import { conditionsSchema, timestampSchema } from './conditions.js';
import { API_GROUP_VERSION, CHECKPOINT_KIND, RESTORE_STRATEGIES } from './constants.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from './patterns.js';
import { checkpointStorageSchema, storageBackendSchema } from './storage.js';

export const checkpointTargetSchema = z
  .object({
    podName: z.string().min(1).max(253).regex(DNS_SUBDOMAIN).describe('Name of the pod to checkpoint.'),
    namespace: z
      .string()
      .min(1)
      .max(63)
      .regex(DNS_LABEL)
      .optional()
      .describe(
        "Namespace of the pod. Default: the Checkpoint's namespace. Another namespace needs a policy that lists it in targetNamespaces.",
      ),
    containerName: z
      .string()
      .min(1)
      .max(63)
      .regex(DNS_LABEL)
      .optional()
      .describe("Container to checkpoint. Default: the pod's first container."),
  })
  .describe('The container to checkpoint.');
export type CheckpointTarget = z.infer<typeof checkpointTargetSchema>;

type SpecFields = {
  policyRef?: string;
  storage?: { backend?: string; s3?: { bucket?: string }; local?: unknown; pvc?: { claimName?: string } };
};

/*
 * Without a policy, the Checkpoint's own storage must be complete. With one, completeness can only
 * be judged after merging, which the operator does and reports as a Failed status.
 */
const selfContainedStorageRules = [
  {
    rule: 'has(self.policyRef) || (has(self.storage) && has(self.storage.backend))',
    message: 'storage.backend is required when no policyRef supplies storage',
    fieldPath: '.storage',
    reason: 'FieldValueRequired' as const,
    check: (v: SpecFields) => v.policyRef !== undefined || v.storage?.backend !== undefined,
  },
  {
    rule: "has(self.policyRef) || !has(self.storage) || !has(self.storage.backend) || self.storage.backend != 's3' || (has(self.storage.s3) && has(self.storage.s3.bucket))",
    message: 'storage.s3.bucket is required for backend s3 when no policyRef supplies it',
    fieldPath: '.storage',
    reason: 'FieldValueRequired' as const,
    check: (v: SpecFields) =>
      v.policyRef !== undefined || v.storage?.backend !== 's3' || v.storage.s3?.bucket !== undefined,
  },
  {
    rule: "has(self.policyRef) || !has(self.storage) || !has(self.storage.backend) || self.storage.backend != 'local' || has(self.storage.local)",
    message: 'storage.local.path is required for backend local when no policyRef supplies it',
    fieldPath: '.storage',
    reason: 'FieldValueRequired' as const,
    check: (v: SpecFields) =>
      v.policyRef !== undefined || v.storage?.backend !== 'local' || v.storage.local !== undefined,
  },
  {
    rule: "has(self.policyRef) || !has(self.storage) || !has(self.storage.backend) || self.storage.backend != 'pvc' || (has(self.storage.pvc) && has(self.storage.pvc.claimName))",
    message: 'storage.pvc.claimName is required for backend pvc when no policyRef supplies a claim or pvcTemplate',
    fieldPath: '.storage',
    reason: 'FieldValueRequired' as const,
    check: (v: SpecFields) =>
      v.policyRef !== undefined || v.storage?.backend !== 'pvc' || v.storage.pvc?.claimName !== undefined,
  },
];

export const checkpointSpecSchema = withCelRules(
  z.object({
    target: checkpointTargetSchema,
    policyRef: z.string().min(1).max(253).regex(DNS_SUBDOMAIN).optional().describe('Name of a CheckpointPolicy.'),
    storage: checkpointStorageSchema.optional(),
    timeoutSeconds: z
      .int()
      .min(1)
      .max(3600)
      .optional()
      .describe(
        "Kubelet checkpoint timeout in seconds (the kubelet's ?timeout=). The kubelet waits for the runtime at least its runtimeRequestTimeout (2 minutes by default), so only a longer value changes anything. Default: the kubelet's own.",
      ),
  }),
  [
    ...selfContainedStorageRules,
    {
      rule: 'self == oldSelf',
      message: 'spec is immutable: a Checkpoint records one action; create a new Checkpoint instead',
      reason: 'FieldValueInvalid',
    },
  ],
).describe('What to checkpoint and where to store it.');
export type CheckpointSpec = z.infer<typeof checkpointSpecSchema>;

/** Deleting: the Checkpoint is being deleted and its archive is being removed (or cannot be yet: see reason). */
export const CHECKPOINT_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Deleting'] as const;
export const checkpointPhaseSchema = z.enum(CHECKPOINT_PHASES);
export type CheckpointPhase = z.infer<typeof checkpointPhaseSchema>;

export const archiveSchema = z
  .object({
    backend: storageBackendSchema,
    uri: z.string().max(4096).describe('Where the archive is: s3://bucket/key, pvc://claim/path or local://node/path.'),
    key: z
      .string()
      .max(1024)
      .optional()
      .describe('The archive key within its backend (after an S3 prefix, under a local path or claim).'),
    sizeBytes: z.int().min(0).describe('Size of the archive in bytes.'),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/)
      .describe('SHA-256 of the archive, hex.'),
    createdAt: timestampSchema,
    nodeName: z.string().max(253).optional().describe('Node holding the archive (backend local).'),
    image: z.string().max(4096).optional().describe("The checkpointed container's image, read from the archive."),
    runtime: z
      .string()
      .max(253)
      .optional()
      .describe('Container runtime that wrote the archive, read from the archive.'),
    containerId: z.string().max(253).optional(),
    checkpointedAt: timestampSchema.optional().describe('When the runtime took the checkpoint, read from the archive.'),
  })
  .describe('The stored archive. Present only once its bytes and checksum are in storage.');
export type Archive = z.infer<typeof archiveSchema>;

export const RESTORE_RESULTS = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
export const restoreRecordSchema = z.object({
  podName: z.string().max(253),
  namespace: z.string().max(63),
  podUid: z.string().max(64).optional(),
  containerName: z.string().max(63).optional(),
  result: z.enum(RESTORE_RESULTS),
  jobName: z.string().max(63).optional().describe('The restore Job of this attempt.'),
  request: z.string().max(253).optional().describe('The restore-from value this attempt answers.'),
  strategy: z.enum(RESTORE_STRATEGIES).optional().describe('How the restore reaches the runtime.'),
  image: z.string().max(4096).optional().describe('Checkpoint image the container was pointed at, by digest.'),
  replacedContainerID: z
    .string()
    .max(256)
    .optional()
    .describe(
      'The container the kubelet ran when the pod was pointed at the checkpoint image; a running container with another ID is the restored one.',
    ),
  originalImage: z
    .string()
    .max(4096)
    .optional()
    .describe('The image the container ran before the restore; put back if the node cannot run the checkpoint image.'),
  rollbackReason: z
    .string()
    .max(1024)
    .optional()
    .describe('Set once the node could not run the checkpoint image and the original image is being put back.'),
  rollbackMessage: z.string().max(32768).optional(),
  rollbackTime: timestampSchema.optional(),
  rollbackFromContainerID: z
    .string()
    .max(256)
    .optional()
    .describe('The container that failed from the checkpoint image, if one was made.'),
  startTime: timestampSchema.optional(),
  completionTime: timestampSchema.optional(),
  reason: z.string().max(1024).optional(),
  message: z.string().max(32768).optional(),
});
export type RestoreRecord = z.infer<typeof restoreRecordSchema>;

export const checkpointStatusSchema = z
  .object({
    phase: checkpointPhaseSchema.optional(),
    reason: z.string().max(1024).optional().describe('One word saying why the phase is what it is.'),
    message: z.string().max(32768).optional(),
    conditions: conditionsSchema.optional(),
    observedGeneration: z.int().min(0).optional(),
    containerName: z.string().max(63).optional().describe('The container checkpointed (spec or defaulted).'),
    nodeName: z.string().max(253).optional(),
    jobName: z.string().max(63).optional(),
    startTime: timestampSchema.optional(),
    completionTime: timestampSchema.optional(),
    archive: archiveSchema.optional(),
    restores: z.array(restoreRecordSchema).max(20).optional().describe('Most recent restore attempts, newest last.'),
  })
  .describe('Observed state, written by the operator and its Jobs.');
export type CheckpointStatus = z.infer<typeof checkpointStatusSchema>;

/**
 * Typed as Date to match client-node's ObjectMeta; custom objects arrive with RFC 3339 strings,
 * which are accepted as they are.
 */
const metaTime = z.custom<Date>((v) => typeof v === 'string' || v instanceof Date);

export const objectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: metaTime.optional(),
  deletionTimestamp: metaTime.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});

/** Checkpoint names become label values on the Jobs they start, hence 63 characters. */
export const CHECKPOINT_NAME_MAX = 63;

export const checkpointSchema = z.object({
  apiVersion: z.literal(API_GROUP_VERSION),
  kind: z.literal(CHECKPOINT_KIND),
  metadata: objectMetaSchema,
  spec: checkpointSpecSchema,
  status: checkpointStatusSchema.optional(),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;
