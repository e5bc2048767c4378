import type { CheckpointPolicy } from '../../api/checkpoint-policy.js';
import { setCondition } from '../../api/condition-set.js';
import { ConflictError, isNotFound } from '../../kube/errors.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { patchPolicyStatus, policyPath, type PolicyStatusPatch } from '../../status/policy-status-writer.js';

export const SWEEP_CONDITION = 'SweepSucceeded';

/** The policy a sweep works for, read live; undefined once it is gone. */
export async function readPolicy(lean: LeanKubeClient, name: string): Promise<CheckpointPolicy | undefined> {
  try {
    return await lean.get<CheckpointPolicy>(policyPath(name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface SweepOutcome {
  /** The policy as the sweep read it: its uid and the generation the sweep acted on. */
  policy: { name: string; uid: string; generation?: number | undefined };
  condition: { status: 'True' | 'False'; reason: string; message: string };
  fields: Omit<PolicyStatusPatch, 'conditions'>;
  now: Date;
}

/** Attempts before a write that keeps losing races gives up (and fails the Job). */
const MAX_ATTEMPTS = 10;

/**
 * Writes a sweep's result into its policy's status: the SweepSucceeded condition beside the
 * dispatcher's conditions, pinned to the resourceVersion read and retried on conflict, so
 * neither writer drops the other's condition. A policy that is gone (or re-created) meanwhile
 * is left alone: the result is not about it.
 */
export async function writeSweepOutcome(lean: LeanKubeClient, outcome: SweepOutcome): Promise<void> {
  const { policy, condition } = outcome;
  for (let attempt = 1; ; attempt++) {
    const current = await readPolicy(lean, policy.name);
    if (!current || current.metadata.uid !== policy.uid) return;
    const conditions = setCondition(
      current.status?.conditions,
      { type: SWEEP_CONDITION, ...condition, observedGeneration: policy.generation },
      outcome.now,
    );
    try {
      await patchPolicyStatus(lean, policy.name, { ...outcome.fields, conditions }, current.metadata.resourceVersion);
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
