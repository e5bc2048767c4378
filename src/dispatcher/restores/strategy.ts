import type { RESTORE_STRATEGIES } from '../../api/constants.js';

export type RestoreStrategyName = (typeof RESTORE_STRATEGIES)[number];

/** A container as a strategy sees it: its spec image and what the kubelet reports. */
export interface ContainerView {
  image: string;
  imageID: string | undefined;
  containerID: string | undefined;
  running: boolean;
}

/**
 * How a prepared archive reaches the runtime. The restore Job prepares an artefact (today an OCI
 * checkpoint image); the strategy says how the pod is changed to use it and how to tell that the
 * kubelet has done so. Runtimes are moving (CRI-O restores from images, containerd drops
 * restore-via-create in 2.4, KEP-5823 brings pod-level restore), so the rest of the restore
 * flow never depends on the image mechanism.
 */
export interface RestoreStrategy {
  name: RestoreStrategyName;
  /** The container's spec change that asks the kubelet for the restore; undefined once applied. */
  podChange(container: ContainerView, artefact: string): { image: string } | undefined;
  /**
   * True once the kubelet runs the container from the artefact. replacedContainerID is the
   * container that ran when the pod was changed (undefined when none ran).
   */
  restored(container: ContainerView, artefact: string, replacedContainerID: string | undefined): boolean;
}

/**
 * Point the container at the checkpoint image by digest; the kubelet recreates it from the image.
 * containerd reports a container restored from a checkpoint image under the image it was first
 * created from (the checkpoint image names it), so the image ID cannot tell a restored container
 * from the old one: a running container with a new ID can. The kubelet creates every container
 * after the change from the changed spec, and a checkpoint image cannot start any other way than
 * by restoring it, so a new running container is the restored one.
 */
export const checkpointImageStrategy: RestoreStrategy = {
  name: 'CheckpointImage',
  podChange: (container, image) => (container.image === image ? undefined : { image }),
  restored: (container, image, replaced) => {
    if (!container.running || container.image !== image) return false;
    if (container.imageID?.endsWith(image.slice(image.indexOf('@') + 1))) return true;
    return container.containerID !== undefined && container.containerID !== '' && container.containerID !== replaced;
  },
};

export const RESTORE_STRATEGY: Record<RestoreStrategyName, RestoreStrategy> = {
  CheckpointImage: checkpointImageStrategy,
};
