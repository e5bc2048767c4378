import type { V1Job, V1JobCondition, V1Volume } from '@kubernetes/client-node';
import { nodeAffinityFor, pinnedNode } from '../actions/shared/action-job.js';
import { withoutManagedFields } from '../kube/cache-transform.js';

/**
 * What the dispatcher's Job cache keeps of a Job. A Job carries its whole pod template (the
 * action's input in an env var, volumes, security context): kept whole, ten thousand finished
 * Jobs cost hundreds of MiB. The dispatcher reads only:
 * - metadata: name, namespace, labels (owner, action), resourceVersion (the cache's change test);
 *   the rest of metadata is small and kept, managedFields aside;
 * - the node the pod template is pinned to, its node affinity (pinnedNode in actions/shared/action-job.ts: a
 *   Running Checkpoint's node, checkpoints/reconciler.ts), kept as that one term;
 * - spec.template.spec.volumes[].secret.secretName (does the Job mount its own per-Job Secret,
 *   dispatcher.ts dropFinishedJobSecret);
 * - status.conditions (jobFacts in checkpoints/decide.ts, used by the checkpoint, cleanup and
 *   restore decisions, and the finished test of dropFinishedJobSecret). The counters and times
 *   of status are kept too: a few numbers, useful to anyone reading the cache while debugging.
 * test/unit/job-projection.test.ts holds the readers to this list: add a field here when code
 * starts reading one from the cache.
 */
export function projectJob(job: V1Job): V1Job {
  const { metadata } = withoutManagedFields(job);
  const podSpec = job.spec?.template?.spec;
  const secretVolumes = podSpec?.volumes
    ?.filter((v) => v.secret?.secretName !== undefined)
    .map((v): V1Volume => ({ name: v.name, secret: { secretName: v.secret!.secretName } }));
  const status = job.status;
  const node = pinnedNode(podSpec);
  return {
    ...(job.apiVersion ? { apiVersion: job.apiVersion } : {}),
    ...(job.kind ? { kind: job.kind } : {}),
    ...(metadata ? { metadata } : {}),
    ...(job.spec
      ? {
          spec: {
            template: {
              spec: {
                containers: [],
                ...(node !== undefined ? { affinity: nodeAffinityFor(node) } : {}),
                ...(secretVolumes && secretVolumes.length > 0 ? { volumes: secretVolumes } : {}),
              },
            },
          },
        }
      : {}),
    ...(status
      ? {
          status: pick(status, ['active', 'succeeded', 'failed', 'startTime', 'completionTime'], {
            ...(status.conditions ? { conditions: status.conditions.map(projectCondition) } : {}),
          }),
        }
      : {}),
  };
}

function projectCondition(c: V1JobCondition): V1JobCondition {
  return pick(c, ['type', 'status', 'reason', 'message', 'lastTransitionTime'], {} as V1JobCondition);
}

/** Copies the listed fields that are set onto `into`. */
function pick<T extends object, K extends keyof T>(from: T, keys: K[], into: Partial<T>): T {
  const out = into as T;
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}
