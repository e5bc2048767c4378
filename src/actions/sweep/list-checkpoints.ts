import type { Checkpoint } from '../../api/checkpoint.js';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../api/constants.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';

/** Large enough for few round trips, small enough that no one response is huge. */
const PAGE_SIZE = 500;

interface CheckpointList {
  items?: Checkpoint[];
  metadata?: { continue?: string };
}

/**
 * Every Checkpoint in the cluster, read page by page. The pages of one paginated list are served
 * from one snapshot of etcd, so the result is the cluster as it was at one moment, never a mix.
 */
export async function listAllCheckpoints(lean: LeanKubeClient): Promise<Checkpoint[]> {
  const all: Checkpoint[] = [];
  let token: string | undefined;
  do {
    const page = await lean.get<CheckpointList>(
      `/apis/${API_GROUP}/${API_VERSION}/${CHECKPOINT_PLURAL}?limit=${PAGE_SIZE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
    );
    all.push(...(page.items ?? []));
    token = page.metadata?.continue || undefined;
  } while (token);
  return all;
}
