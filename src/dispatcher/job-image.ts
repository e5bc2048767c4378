import type { CoreV1Api } from '@kubernetes/client-node';

/**
 * Jobs run the operator's own image unless JOB_IMAGE says otherwise: reading it from our pod keeps
 * the dispatcher and its Jobs on one version without a second setting to keep in step.
 */
export async function resolveJobImage(core: CoreV1Api, configured: string | undefined, podName: string, namespace: string): Promise<string> {
  if (configured) return configured;
  const pod = await core.readNamespacedPod({ name: podName, namespace }).catch((err: unknown) => {
    throw new Error(`JOB_IMAGE is not set and pod ${namespace}/${podName} could not be read to find the operator's image: ${String(err)}`);
  });
  const image = pod.spec?.containers.find((c) => c.name === 'manager')?.image ?? pod.spec?.containers[0]?.image;
  if (!image) throw new Error(`JOB_IMAGE is not set and pod ${namespace}/${podName} names no image`);
  return image;
}
