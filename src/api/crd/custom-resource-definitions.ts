import type { z } from 'zod';
import { checkpointSpecSchema, checkpointStatusSchema, CHECKPOINT_NAME_MAX } from '../checkpoint.js';
import { checkpointPolicySpecSchema, checkpointPolicyStatusSchema } from '../checkpoint-policy.js';
import {
  API_GROUP,
  API_VERSION,
  CHECKPOINT_KIND,
  CHECKPOINT_PLURAL,
  CHECKPOINT_POLICY_KIND,
  CHECKPOINT_POLICY_PLURAL,
} from '../constants.js';
import { type SchemaNode, toStructuralSchema } from './structural-schema.js';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface CrdInput {
  kind: string;
  plural: string;
  shortName: string;
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
  rootValidations?: SchemaNode[];
}

function customResourceDefinition(input: CrdInput): SchemaNode {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${input.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'checkpoint-operator', 'app.kubernetes.io/part-of': 'checkpoint-operator' },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.kind.toLowerCase(),
        shortNames: [input.shortName],
        categories: ['checkpoint'],
      },
      scope: input.scope,
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: input.columns,
          schema: {
            openAPIV3Schema: {
              description: input.description,
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion defines the versioned schema of this representation of an object.',
                },
                kind: {
                  type: 'string',
                  description: 'Kind is a string value representing the REST resource this object represents.',
                },
                metadata: { type: 'object' },
                spec: toStructuralSchema(input.spec),
                status: toStructuralSchema(input.status),
              },
              ...(input.rootValidations ? { 'x-kubernetes-validations': input.rootValidations } : {}),
            },
          },
        },
      ],
    },
  };
}

export function checkpointCrd(): SchemaNode {
  return customResourceDefinition({
    kind: CHECKPOINT_KIND,
    plural: CHECKPOINT_PLURAL,
    shortName: 'ckpt',
    scope: 'Namespaced',
    description:
      'A checkpoint of one container: taken once by a node-pinned Job, stored, restorable by annotating a pod.',
    spec: checkpointSpecSchema,
    status: checkpointStatusSchema,
    rootValidations: [
      {
        rule: `self.metadata.name.size() <= ${CHECKPOINT_NAME_MAX}`,
        message: `metadata.name must be at most ${CHECKPOINT_NAME_MAX} characters: it labels the Jobs the Checkpoint starts`,
        reason: 'FieldValueInvalid',
      },
    ],
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Pod', type: 'string', jsonPath: '.spec.target.podName' },
      { name: 'Container', type: 'string', jsonPath: '.status.containerName' },
      { name: 'Node', type: 'string', jsonPath: '.status.nodeName' },
      { name: 'Size', type: 'integer', jsonPath: '.status.archive.sizeBytes', description: 'Archive size in bytes' },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}

export function checkpointPolicyCrd(): SchemaNode {
  return customResourceDefinition({
    kind: CHECKPOINT_POLICY_KIND,
    plural: CHECKPOINT_POLICY_PLURAL,
    shortName: 'ckptpol',
    scope: 'Cluster',
    description:
      'Cluster-wide defaults for Checkpoints: retention, storage, restore delivery and cross-namespace reach.',
    spec: checkpointPolicySpecSchema,
    status: checkpointPolicyStatusSchema,
    columns: [
      { name: 'Backend', type: 'string', jsonPath: '.spec.storage.backend' },
      { name: 'Max Count', type: 'integer', jsonPath: '.spec.retention.maxCount' },
      { name: 'Max Age', type: 'string', jsonPath: '.spec.retention.maxAge' },
      { name: 'Schedule', type: 'string', jsonPath: '.spec.retention.schedule', priority: 1 },
      { name: 'Last Sweep', type: 'date', jsonPath: '.status.lastSweepTime' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}
