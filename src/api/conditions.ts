import { z } from 'zod';
import { CONDITION_REASON } from './patterns.js';

export const timestampSchema = z.iso.datetime({ offset: true }).describe('RFC 3339 time.');

/** metav1.Condition, so kubectl, kstatus and `kubectl wait --for=condition=` understand it. */
export const conditionSchema = z.object({
  type: z.string().min(1).max(316).describe('Condition type, e.g. Ready or Succeeded.'),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON).describe('One CamelCase word saying why.'),
  message: z.string().max(32768).describe('Human-readable detail.'),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: timestampSchema,
});
export type Condition = z.infer<typeof conditionSchema>;

export const conditionsSchema = z
  .array(conditionSchema)
  .max(16)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('Latest observations of the object, one per type.');
