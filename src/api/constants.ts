/** Names fixed by the product's public contract. */
export const API_GROUP = 'checkpoint.example.com';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

export const CHECKPOINT_KIND = 'Checkpoint';
export const CHECKPOINT_PLURAL = 'checkpoints';
export const CHECKPOINT_POLICY_KIND = 'CheckpointPolicy';
export const CHECKPOINT_POLICY_PLURAL = 'checkpointpolicies';

/** Set by a user on a pod to restore it from the named Checkpoint in the pod's namespace. */
export const RESTORE_FROM_ANNOTATION = `${API_GROUP}/restore-from`;
/** Written by the operator on the pod: Pending | Running | Succeeded | Failed. */
export const RESTORE_STATUS_ANNOTATION = `${API_GROUP}/restore-status`;
/** Written by the operator on the pod once a restore has been applied. */
export const RESTORED_FROM_ANNOTATION = `${API_GROUP}/restored-from`;
/** Written by the operator on the pod: the restore-from value its restore-status describes (each value is acted on once). */
export const RESTORE_HANDLED_ANNOTATION = `${API_GROUP}/restore-handled`;
/** Written by the operator on the pod: the one-word reason and message of the last restore result. */
export const RESTORE_MESSAGE_ANNOTATION = `${API_GROUP}/restore-message`;
/** How restores reach the runtime (see src/dispatcher/restores/strategy.ts). */
export const RESTORE_STRATEGIES = ['CheckpointImage'] as const;

/**
 * On every Checkpoint the operator has acted on: deleting the Checkpoint first removes its archive
 * (a cleanup Job), unless its policy retains archives.
 */
export const ARCHIVE_FINALIZER = `${API_GROUP}/archive-cleanup`;
