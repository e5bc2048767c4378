import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { withCelRules } from './cel.js';
import { conditionsSchema, timestampSchema } from './conditions.js';
import { API_GROUP_VERSION, CHECKPOINT_POLICY_KIND, RESTORE_STRATEGIES } from './constants.js';

export { RESTORE_STRATEGIES };
import { parseGoDuration } from './duration.js';
import { CRON_SCHEDULE, DNS_LABEL, GO_DURATION, IMAGE_REPOSITORY } from './patterns.js';
import { objectMetaSchema } from './checkpoint.js';
import { policyStorageSchema, secretReferenceSchema } from './storage.js';

export const DEFAULT_SWEEP_SCHEDULE = '*/15 * * * *';

/** True when cron-parser, which the operator schedules with, reads the expression. */
export function isValidCronSchedule(schedule: string): boolean {
  if (!CRON_SCHEDULE.test(schedule)) return false;
  try {
    CronExpressionParser.parse(schedule);
    return true;
  } catch {
    return false;
  }
}

const maxAgeSchema = withCelRules(z.string().min(2).max(64).regex(GO_DURATION), [
  {
    // `&&` in CEL absorbs the error duration() raises on text the pattern already rejects.
    rule: `self.matches(r'${GO_DURATION.source}') && duration(self) > duration('0s')`,
    message: "maxAge must be a positive duration such as '72h' or '30m'",
    check: (v) => (parseGoDuration(v) ?? 0) > 0,
  },
]).describe("Delete checkpoints older than this Go-style duration ('72h', '30m').");

export const retentionSchema = withCelRules(
  z.object({
    maxCount: z
      .int()
      .min(1)
      .max(10000)
      .optional()
      .describe('Keep at most this many succeeded checkpoints per target container.'),
    maxAge: maxAgeSchema.optional(),
    // The CRD checks the shape; the full parse (ranges, names) is cron-parser's, in the operator.
    schedule: z
      .string()
      .min(1)
      .max(128)
      .regex(CRON_SCHEDULE)
      .refine(isValidCronSchedule, 'schedule is not a valid cron expression')
      .default(DEFAULT_SWEEP_SCHEDULE)
      .describe(`Cron schedule of the retention sweep CronJob (default '${DEFAULT_SWEEP_SCHEDULE}').`),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_+/-]+$/)
      .optional()
      .describe("IANA time zone of the schedule (default: the controller-manager's)."),
    suspend: z.boolean().default(false).describe('Pause retention sweeps.'),
    reclaimPolicy: z
      .enum(['Delete', 'Retain'])
      .default('Delete')
      .describe('Delete: removing a Checkpoint deletes its archive. Retain: the archive stays in storage.'),
    deleteOrphans: z
      .boolean()
      .default(false)
      .describe('Delete archives in storage that no Checkpoint owns (otherwise they are only reported).'),
  }),
  [
    {
      // Retained archives have no Checkpoint any more: deleting orphans would delete them too.
      rule: "!(has(self.reclaimPolicy) && self.reclaimPolicy == 'Retain' && has(self.deleteOrphans) && self.deleteOrphans)",
      message: 'deleteOrphans would delete the archives reclaimPolicy: Retain keeps; choose one',
      fieldPath: '.deleteOrphans',
      reason: 'FieldValueForbidden',
      check: (v) => !(v.reclaimPolicy === 'Retain' && v.deleteOrphans),
    },
  ],
).describe('How long checkpoints are kept.');
export type Retention = z.infer<typeof retentionSchema>;

export const restoreSettingsSchema = withCelRules(
  z.object({
    strategy: z
      .enum(RESTORE_STRATEGIES)
      .default('CheckpointImage')
      .describe(
        'CheckpointImage: package the archive as an OCI checkpoint image and point the container at it by digest.',
      ),
    imageRepository: z
      .string()
      .min(1)
      .max(512)
      .regex(IMAGE_REPOSITORY)
      .describe('Repository that receives checkpoint images, e.g. registry.example.com/checkpoints.'),
    pushSecretRef: secretReferenceSchema('cluster')
      .optional()
      .describe('kubernetes.io/dockerconfigjson Secret used to push checkpoint images.'),
    pullSecretName: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("Image pull Secret, in the restored pod's namespace, that nodes use to pull checkpoint images."),
    insecureRegistry: z.boolean().default(false).describe('Talk plain HTTP to the registry (test registries only).'),
    caBundleSecretRef: secretReferenceSchema('cluster', 'ca.crt')
      .optional()
      .describe(
        "Secret holding a PEM CA bundle that signs the registry's certificate (and its token service's); with it the registry is spoken to over HTTPS, even on loopback. Nodes need the same CA to pull.",
      ),
  }),
  [
    {
      // Checkpoint images hold process memory: a CA bundle asks for verified TLS, plain HTTP contradicts it.
      rule: '!(has(self.caBundleSecretRef) && has(self.insecureRegistry) && self.insecureRegistry)',
      message: 'insecureRegistry (plain HTTP) contradicts caBundleSecretRef (verified TLS); choose one',
      fieldPath: '.insecureRegistry',
      reason: 'FieldValueForbidden',
      check: (v) => !(v.caBundleSecretRef !== undefined && v.insecureRegistry === true),
    },
  ],
).describe('How restores are delivered.');

export const checkpointPolicySpecSchema = z
  .object({
    retention: retentionSchema.optional(),
    storage: policyStorageSchema.optional(),
    restore: restoreSettingsSchema.optional(),
    targetNamespaces: z
      .array(z.string().min(1).max(63).regex(DNS_LABEL))
      .max(256)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Namespaces whose pods Checkpoints citing this policy may target from another namespace.'),
  })
  .describe('Retention, storage and restore defaults for the Checkpoints that cite this policy.');
export type CheckpointPolicySpec = z.infer<typeof checkpointPolicySpecSchema>;

export const checkpointPolicyStatusSchema = z
  .object({
    conditions: conditionsSchema.optional(),
    observedGeneration: z.int().min(0).optional(),
    cronJobName: z.string().max(63).optional(),
    lastSweepTime: timestampSchema.optional(),
    nextSweepTime: timestampSchema.optional(),
    checkpointsKept: z.int().min(0).optional(),
    checkpointsDeleted: z.int().min(0).optional().describe('Checkpoints deleted by the last sweep.'),
    orphanArchives: z.int().min(0).optional().describe('Archives found in storage that no Checkpoint owns.'),
  })
  .describe('Observed state of the policy and its retention sweeps.');
export type CheckpointPolicyStatus = z.infer<typeof checkpointPolicyStatusSchema>;

export const checkpointPolicySchema = z.object({
  apiVersion: z.literal(API_GROUP_VERSION),
  kind: z.literal(CHECKPOINT_POLICY_KIND),
  metadata: objectMetaSchema,
  spec: checkpointPolicySpecSchema,
  status: checkpointPolicyStatusSchema.optional(),
});
export type CheckpointPolicy = z.infer<typeof checkpointPolicySchema>;
