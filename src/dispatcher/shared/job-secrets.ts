import type { V1Job, V1Secret } from '@kubernetes/client-node';
import { S3_SECRET_KEYS } from '../../actions/shared/storage-input.js';
import { isAlreadyExists, isNotFound } from '../../kube/errors.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import type { S3SecretPlan } from './job-storage.js';

export type SecretData = Record<string, string> | undefined;

export type JobSecretContent =
  | { ok: true; data: Record<string, string>; credentials: 'secret' | 'ambient'; caBundle: boolean }
  | { ok: false; reason: 'CredentialsNotFound' | 'CredentialsIncomplete' | 'CABundleNotFound'; message: string };

/**
 * What the per-Job Secret holds, from the source Secrets as read (`undefined` = not found).
 * Credentials come from the reference the Checkpoint or policy names, else from the operator's
 * default Secret, else from the Job's ambient identity (no Secret). Pure.
 */
export function jobSecretContent(
  plan: S3SecretPlan,
  sources: { credentials?: SecretData; caBundle?: SecretData; operatorDefault?: SecretData },
  defaultSecretName: string,
): JobSecretContent {
  const data: Record<string, string> = {};
  let credentials: 'secret' | 'ambient' = 'ambient';
  const creds = plan.credentials ? sources.credentials : sources.operatorDefault;
  if (plan.credentials && !creds) {
    return {
      ok: false,
      reason: 'CredentialsNotFound',
      message: `Secret ${plan.credentials.namespace}/${plan.credentials.name} with the S3 credentials does not exist`,
    };
  }
  if (creds) {
    const where = plan.credentials
      ? `${plan.credentials.namespace}/${plan.credentials.name}`
      : `${defaultSecretName} (the operator's default)`;
    const missing = [S3_SECRET_KEYS.accessKeyId, S3_SECRET_KEYS.secretAccessKey].filter((k) => !creds[k]);
    if (missing.length > 0) {
      return { ok: false, reason: 'CredentialsIncomplete', message: `Secret ${where} lacks ${missing.join(' and ')}` };
    }
    data[S3_SECRET_KEYS.accessKeyId] = creds[S3_SECRET_KEYS.accessKeyId]!;
    data[S3_SECRET_KEYS.secretAccessKey] = creds[S3_SECRET_KEYS.secretAccessKey]!;
    const token = creds[S3_SECRET_KEYS.sessionToken];
    if (token) data[S3_SECRET_KEYS.sessionToken] = token;
    credentials = 'secret';
  }
  if (plan.caBundle) {
    const ca = sources.caBundle?.[plan.caBundle.key];
    if (!ca) {
      return {
        ok: false,
        reason: 'CABundleNotFound',
        message: sources.caBundle
          ? `Secret ${plan.caBundle.namespace}/${plan.caBundle.name} has no key ${plan.caBundle.key}`
          : `Secret ${plan.caBundle.namespace}/${plan.caBundle.name} with the CA bundle does not exist`,
      };
    }
    data[S3_SECRET_KEYS.caBundle] = ca;
  }
  return { ok: true, data, credentials, caBundle: plan.caBundle !== undefined };
}

export async function readSecretData(
  lean: LeanKubeClient,
  ref: { namespace: string; name: string },
): Promise<SecretData> {
  try {
    const secret = await lean.get<V1Secret>(`/api/v1/namespaces/${ref.namespace}/secrets/${ref.name}`);
    return secret.data ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Reads the Secrets a plan names (the operator's default from the Jobs' namespace when the plan
 * names no credentials) and decides what a Job's copy holds.
 */
export async function readS3SecretContent(
  lean: LeanKubeClient,
  jobsNamespace: string,
  plan: S3SecretPlan,
  defaultSecretName: string,
): Promise<JobSecretContent> {
  const [credentials, caBundle, operatorDefault] = await Promise.all([
    plan.credentials ? readSecretData(lean, plan.credentials) : undefined,
    plan.caBundle ? readSecretData(lean, plan.caBundle) : undefined,
    plan.credentials ? undefined : readSecretData(lean, { namespace: jobsNamespace, name: defaultSecretName }),
  ]);
  return jobSecretContent(plan, { credentials, caBundle, operatorDefault }, defaultSecretName);
}

/** Creates an immutable per-Job Secret; one a retried reconcile already created is kept as it is. */
export async function createJobSecret(
  lean: LeanKubeClient,
  args: { namespace: string; name: string; labels: Record<string, string>; data: Record<string, string> },
): Promise<void> {
  try {
    await lean.post(`/api/v1/namespaces/${args.namespace}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: { name: args.name, namespace: args.namespace, labels: args.labels },
      data: args.data,
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** The Job owns its Secret, so the garbage collector removes both together. */
export async function adoptJobSecret(
  lean: LeanKubeClient,
  namespace: string,
  name: string,
  jobUid: string | undefined,
): Promise<void> {
  const uid = jobUid ?? (await lean.get<V1Job>(`/apis/batch/v1/namespaces/${namespace}/jobs/${name}`)).metadata?.uid;
  if (!uid) return;
  await lean
    .mergePatch(`/api/v1/namespaces/${namespace}/secrets/${name}`, {
      metadata: {
        ownerReferences: [
          { apiVersion: 'batch/v1', kind: 'Job', name, uid, controller: true, blockOwnerDeletion: false },
        ],
      },
    })
    .catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
}
