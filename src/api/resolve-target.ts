import type { CheckpointTarget } from './checkpoint.js';

export interface ResolvedTarget {
  namespace: string;
  podName: string;
  /** Undefined until the pod is known: the default is the pod's first container. */
  containerName: string | undefined;
}

/** Applies the defaults that need only the Checkpoint: the target namespace is its own. */
export function resolveTarget(checkpointNamespace: string, target: CheckpointTarget): ResolvedTarget {
  return {
    namespace: target.namespace ?? checkpointNamespace,
    podName: target.podName,
    containerName: target.containerName,
  };
}

export type ContainerChoice =
  { ok: true; containerName: string } | { ok: false; reason: 'ContainerNotFound'; message: string };

/** Picks the container to checkpoint from the pod's containers (init containers never count). */
export function chooseContainer(
  requested: string | undefined,
  podContainers: readonly { name: string }[],
  podName: string,
): ContainerChoice {
  if (requested === undefined) {
    const first = podContainers[0];
    if (!first) return { ok: false, reason: 'ContainerNotFound', message: `pod ${podName} has no containers` };
    return { ok: true, containerName: first.name };
  }
  if (podContainers.some((c) => c.name === requested)) return { ok: true, containerName: requested };
  const names = podContainers.map((c) => c.name).join(', ');
  return {
    ok: false,
    reason: 'ContainerNotFound',
    message: `pod ${podName} has no container ${requested} (it has: ${names})`,
  };
}
