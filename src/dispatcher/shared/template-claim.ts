import type { LeanKubeClient } from '../../kube/lean-client.js';
import type { z } from 'zod';
import type { pvcTemplateSchema } from '../../api/storage.js';
import { isAlreadyExists, isNotFound } from '../../kube/errors.js';
import { LABELS, MANAGED_BY } from '../../kube/names.js';

type PvcTemplate = z.infer<typeof pvcTemplateSchema>;

/**
 * Creates the claim a policy's pvcTemplate describes, once, in the Jobs' namespace. Claims are
 * never deleted here: they hold archives, and removing a policy must not destroy its data.
 */
export async function ensureTemplateClaim(
  client: LeanKubeClient,
  namespace: string,
  name: string,
  policyName: string,
  template: PvcTemplate,
): Promise<void> {
  try {
    await client.get(`/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}`);
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await client.post(`/api/v1/namespaces/${namespace}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name,
        namespace,
        labels: { [LABELS.managedBy]: MANAGED_BY, 'checkpoint.example.com/policy': policyName },
      },
      spec: {
        accessModes: template.accessModes,
        resources: {
          requests: { storage: String(template.resources.requests.storage) },
          ...(template.resources.limits?.storage !== undefined
            ? { limits: { storage: String(template.resources.limits.storage) } }
            : {}),
        },
        ...(template.storageClassName ? { storageClassName: template.storageClassName } : {}),
        volumeMode: template.volumeMode ?? 'Filesystem',
      },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}
