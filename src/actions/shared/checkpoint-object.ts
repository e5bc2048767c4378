import type { Checkpoint } from '../../api/checkpoint.js';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../api/constants.js';
import { isNotFound } from '../../kube/errors.js';
import type { EventTarget } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';

/** A Job's own failure, with the one-word reason it records. */
export class JobFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The Checkpoint a Job works for, read live; undefined once it is gone. */
export async function readCheckpoint(
  lean: LeanKubeClient,
  ref: { namespace: string; name: string },
): Promise<Checkpoint | undefined> {
  try {
    return await lean.get<Checkpoint>(
      `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ref.namespace}/${CHECKPOINT_PLURAL}/${ref.name}`,
    );
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function eventTarget(c: Checkpoint): EventTarget {
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    namespace: c.metadata.namespace!,
    name: c.metadata.name,
    uid: c.metadata.uid,
  };
}
