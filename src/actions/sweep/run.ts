import type { Checkpoint } from '../../api/checkpoint.js';
import type { CheckpointPolicy, Retention } from '../../api/checkpoint-policy.js';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  CHECKPOINT_KIND,
  CHECKPOINT_PLURAL,
  CHECKPOINT_POLICY_KIND,
} from '../../api/constants.js';
import type { Clock } from '../../clock/clock.js';
import { S3_SECRET_DIR } from '../shared/storage-input.js';
import type { SweepJobInput } from './job-input.js';
import { apiMessage, isConflict, isNotFound } from '../../kube/errors.js';
import type { EventRecorder, EventTarget } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { listAllCheckpoints } from './list-checkpoints.js';
import type { Logger } from '../../observability/logger.js';
import { withSpan } from '../../observability/tracing.js';
import { findOrphans } from '../../retention/find-orphans.js';
import {
  checkpointTime,
  type ExpiredCheckpoint,
  InvalidRetentionError,
  selectExpired,
  targetContainerKey,
} from '../../retention/select-expired.js';
import { type ArchiveBackend, BackendError, type ListedArchive } from '../../storage/backend.js';
import { backendFor } from '../shared/backend-for.js';
import { forEachBounded } from './for-each-bounded.js';
import { readPolicy, writeSweepOutcome } from './sweep-status.js';

export interface SweepActionDeps {
  input: SweepJobInput;
  lean: LeanKubeClient;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  /** The storage to list for orphans; built from input.storage when not given. */
  backend?: ArchiveBackend;
  /** Where the per-Job S3 Secret is mounted (tests point it elsewhere). */
  s3SecretDir?: string;
}

export type SweepResult =
  | {
      outcome: 'swept';
      /** Terminal Checkpoints of the policy still there, restore-protected ones included. */
      kept: number;
      deleted: number;
      /** Archives no Checkpoint owns; undefined when the policy's storage is not listed (local). */
      orphans: number | undefined;
      deletedOrphans: number;
    }
  | { outcome: 'skipped'; why: string };

/** Deletes in flight at once: quick for ten thousand objects, gentle on the API server. */
const DELETE_CONCURRENCY = 16;
/**
 * Deletions between two flushes of the Event recorder, which drops Events beyond 1000 pending:
 * waiting for it keeps one Expired Event per deleted Checkpoint.
 */
const EVENT_BATCH = 500;
/** Orphan keys named in the policy's Event; the rest are counted. */
const KEYS_IN_EVENT = 5;

/**
 * One run of a policy's retention sweep: delete the policy's Checkpoints that maxCount and
 * maxAge expire (their finalizers then remove the archives), find archives in the policy's
 * storage that no Checkpoint owns (reported, or deleted when retention.deleteOrphans says so),
 * and record the result in the policy's status. A failure is recorded too, then thrown: the Job
 * fails and the CronJob's next run starts over, which is safe since every step is re-decided
 * from what is there.
 */
export async function runSweep(deps: SweepActionDeps): Promise<SweepResult> {
  const { input, log } = deps;
  const policy = await readPolicy(deps.lean, input.policy.name);
  if (!policy || policy.metadata.uid !== input.policy.uid)
    return { outcome: 'skipped', why: `CheckpointPolicy ${input.policy.name} no longer exists` };
  const policyRef = { name: policy.metadata.name, uid: input.policy.uid, generation: policy.metadata.generation };
  const retention: Partial<Retention> = policy.spec.retention ?? {};

  let result: Extract<SweepResult, { outcome: 'swept' }>;
  try {
    const backend = input.storage
      ? (deps.backend ?? (await backendFor(input.storage, deps.s3SecretDir ?? S3_SECRET_DIR)))
      : undefined;
    // Storage is listed before the Checkpoints, never after: an archive listed here was written
    // for a Checkpoint that existed by then, so the Checkpoint list below (which also holds the
    // ones being deleted, until their finalizer ends) names its owner. Listed the other way
    // round, a Checkpoint created in between could have its fresh archive taken for an orphan.
    const listed = backend
      ? await withSpan('list archives', { uri: backend.uri('') }, () => listArchives(backend))
      : undefined;
    const all = await withSpan('list checkpoints', {}, () => listAllCheckpoints(deps.lean));
    const ownerUids = new Set(all.flatMap((c) => (c.metadata.uid ? [c.metadata.uid] : [])));
    const mine = all.filter((c) => c.spec?.policyRef === policy.metadata.name);

    const now = deps.clock.now();
    const selection = selectExpired(mine, retention, now);
    const deletion = await withSpan('delete expired checkpoints', { count: selection.expired.length }, () =>
      deleteExpired(deps, policy, selection.expired, now),
    );

    const orphans = listed ? findOrphans(listed, ownerUids) : [];
    const deletedOrphans =
      backend && retention.deleteOrphans === true && orphans.length > 0
        ? await withSpan('delete orphan archives', { count: orphans.length }, () => deleteOrphans(backend, orphans))
        : 0;
    if (backend && orphans.length > 0) reportOrphans(deps, policy, backend, orphans, deletedOrphans);

    result = {
      outcome: 'swept',
      kept: selection.kept.length + selection.protectedByRestore.length + deletion.changed,
      deleted: deletion.deleted,
      orphans: listed ? orphans.length : undefined,
      deletedOrphans,
    };
    log.info(
      {
        ...result,
        expired: selection.expired.length,
        protectedByRestore: selection.protectedByRestore.length,
        changedSinceListed: deletion.changed,
        alreadyGone: deletion.gone,
      },
      'retention sweep done',
    );
  } catch (err) {
    const { reason, message } = classify(err);
    log.error({ reason }, `retention sweep failed: ${message}`);
    await writeSweepOutcome(deps.lean, {
      policy: policyRef,
      now: new Date(deps.clock.now()),
      fields: {},
      condition: { status: 'False', reason, message: message.slice(0, 1024) },
    }).catch((writeErr: unknown) =>
      log.warn({ err: String(writeErr) }, 'could not record the failed sweep in the policy status'),
    );
    throw err;
  }

  const finishedAt = new Date(deps.clock.now());
  const summary = `kept ${result.kept} and deleted ${result.deleted} Checkpoints${result.orphans === undefined ? '' : `; ${result.orphans} orphan archives, ${result.deletedOrphans} deleted`}`;
  await withSpan('write sweep status', {}, () =>
    writeSweepOutcome(deps.lean, {
      policy: policyRef,
      now: finishedAt,
      fields: {
        lastSweepTime: finishedAt.toISOString(),
        checkpointsKept: result.kept,
        checkpointsDeleted: result.deleted,
        // Removed when the storage is not listed: a figure from some earlier storage would mislead.
        orphanArchives: result.orphans ?? null,
      },
      condition: { status: 'True', reason: 'Swept', message: summary },
    }),
  );
  return result;
}

async function listArchives(backend: ArchiveBackend): Promise<ListedArchive[]> {
  const listed: ListedArchive[] = [];
  // '' is the backend's whole area: an S3 backend applies its configured prefix itself.
  for await (const archive of backend.list('')) listed.push(archive);
  return listed;
}

/**
 * Deletes each expired Checkpoint only if it is still the object decided on: the uid
 * precondition spares one re-created under the same name, and the resourceVersion precondition
 * one that changed since it was listed (a restore may have started reading it); the next sweep
 * decides again about those.
 */
async function deleteExpired(
  deps: SweepActionDeps,
  policy: CheckpointPolicy,
  expired: ExpiredCheckpoint[],
  now: number,
): Promise<{ deleted: number; gone: number; changed: number }> {
  const counts = { deleted: 0, gone: 0, changed: 0 };
  for (let start = 0; start < expired.length; start += EVENT_BATCH) {
    await forEachBounded(
      expired.slice(start, start + EVENT_BATCH),
      DELETE_CONCURRENCY,
      async ({ checkpoint, reason }) => {
        const { namespace, name, uid, resourceVersion } = checkpoint.metadata;
        try {
          await deps.lean.delete(
            `/apis/${API_GROUP}/${API_VERSION}/namespaces/${namespace}/${CHECKPOINT_PLURAL}/${name}`,
            {
              kind: 'DeleteOptions',
              apiVersion: 'v1',
              preconditions: { uid, resourceVersion },
            },
          );
        } catch (err) {
          if (isNotFound(err)) counts.gone++;
          else if (isConflict(err)) counts.changed++;
          else throw err;
          return;
        }
        counts.deleted++;
        deps.events.record(
          checkpointTarget(checkpoint),
          'Normal',
          'Expired',
          expiryMessage(policy, checkpoint, reason, now),
        );
      },
    );
    await deps.events.flush();
  }
  return counts;
}

function expiryMessage(
  policy: CheckpointPolicy,
  checkpoint: Checkpoint,
  reason: ExpiredCheckpoint['reason'],
  now: number,
): string {
  const retention: Partial<Retention> = policy.spec.retention ?? {};
  const why =
    reason === 'MaxCount'
      ? `beyond maxCount ${retention.maxCount} succeeded checkpoints of container ${targetContainerKey(checkpoint)}`
      : `older than maxAge ${retention.maxAge} (made ${new Date(checkpointTime(checkpoint, now)).toISOString()})`;
  return `deleted by the retention sweep of CheckpointPolicy ${policy.metadata.name}: ${why}`;
}

async function deleteOrphans(backend: ArchiveBackend, orphans: ListedArchive[]): Promise<number> {
  let deleted = 0;
  await forEachBounded(orphans, DELETE_CONCURRENCY, async (archive) => {
    await backend.delete(archive.key);
    deleted++;
  });
  return deleted;
}

function reportOrphans(
  deps: SweepActionDeps,
  policy: CheckpointPolicy,
  backend: ArchiveBackend,
  orphans: ListedArchive[],
  deleted: number,
): void {
  const named = orphans
    .slice(0, KEYS_IN_EVENT)
    .map((o) => o.key)
    .join(', ');
  const more = orphans.length > KEYS_IN_EVENT ? ` and ${orphans.length - KEYS_IN_EVENT} more` : '';
  const what =
    deleted > 0
      ? 'deleted them (retention.deleteOrphans)'
      : 'left them in place (set retention.deleteOrphans to delete them)';
  const message = `${orphans.length} archives in ${backend.uri('')} belong to no Checkpoint: ${named}${more}; ${what}`;
  deps.log.warn({ orphans: orphans.length, deleted }, message);
  deps.events.record(policyTarget(policy), 'Warning', 'OrphanArchives', message);
}

function checkpointTarget(c: Checkpoint): EventTarget {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: CHECKPOINT_KIND,
    namespace: c.metadata.namespace!,
    name: c.metadata.name,
    uid: c.metadata.uid,
  };
}

/** A policy is cluster-scoped: no namespace (its Events go to "default"). */
function policyTarget(p: CheckpointPolicy): EventTarget {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: CHECKPOINT_POLICY_KIND,
    namespace: '',
    name: p.metadata.name,
    uid: p.metadata.uid,
  };
}

function classify(err: unknown): { reason: string; message: string } {
  if (err instanceof BackendError || err instanceof InvalidRetentionError)
    return { reason: err.reason, message: err.message };
  return { reason: 'SweepFailed', message: apiMessage(err) };
}
