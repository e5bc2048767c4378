import type { CoreV1Api } from '@kubernetes/client-node';
import { statusCode } from '../kube/errors.js';
import { isTransient } from '../kube/transient.js';

/** How long start-up keeps asking for its own pod before it gives up with the error. */
export const JOB_IMAGE_LOOKUP_PATIENCE_MS = 60_000;

export interface JobImageLookupOptions {
  patienceMs?: number;
  now?: () => number;
  /** A timer that keeps the process alive: nothing else does yet this early in start-up. */
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (err: unknown, retryInMs: number) => void;
}

/**
 * An API server that has just restarted answers before its authorizer has loaded the RBAC rules,
 * and denies (401/403) until it has; while it restarts it refuses connections or answers 5xx.
 * A replica started in that window must wait rather than crash-loop. A missing pod (404) or any
 * other answer is final: repeating will not change it.
 */
export function isWorthAskingAgainAtStartUp(err: unknown): boolean {
  const code = statusCode(err);
  return isTransient(err) || code === 401 || code === 403;
}

/**
 * Jobs run the operator's own image unless JOB_IMAGE says otherwise: reading it from our pod keeps
 * the dispatcher and its Jobs on one version without a second setting to keep in step.
 */
export async function resolveJobImage(
  core: CoreV1Api,
  configured: string | undefined,
  podName: string,
  namespace: string,
  options: JobImageLookupOptions = {},
): Promise<string> {
  if (configured) return configured;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const giveUpAt = now() + (options.patienceMs ?? JOB_IMAGE_LOOKUP_PATIENCE_MS);
  let delayMs = 500;
  for (;;) {
    try {
      const pod = await core.readNamespacedPod({ name: podName, namespace });
      const image = pod.spec?.containers.find((c) => c.name === 'manager')?.image ?? pod.spec?.containers[0]?.image;
      if (!image) throw new Error(`JOB_IMAGE is not set and pod ${namespace}/${podName} names no image`);
      return image;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('JOB_IMAGE is not set')) throw err;
      if (!isWorthAskingAgainAtStartUp(err) || now() + delayMs > giveUpAt) {
        throw new Error(
          `JOB_IMAGE is not set and pod ${namespace}/${podName} could not be read to find the operator's image: ${String(err)}`,
          { cause: err },
        );
      }
      options.onRetry?.(err, delayMs);
      await sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }
}
