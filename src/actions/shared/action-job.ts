import type { V1Affinity, V1EnvVar, V1Job, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { JobAction } from '../../kube/names.js';

export interface JobSettings {
  namespace: string;
  image: string;
  serviceAccountName: string;
  logLevel: string;
  pushgatewayUrl?: string | undefined;
  /** W3C trace context of the reconcile that creates the Job. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** Extra env passed through to Jobs (OTEL_* and the like). */
  passThroughEnv?: Record<string, string>;
}

/**
 * A small young generation: streamed chunks are freed by frequent scavenges instead of piling up
 * until a major GC, which keeps a Job's RSS flat during a large upload.
 */
export const JOB_NODE_OPTIONS = '--max-semi-space-size=1';

/** The user and group a non-root Job runs as. */
const JOB_USER = 65532;

/**
 * The mode of a Secret volume's files: owner-only for a root Job. A non-root Job cannot open a
 * 0400 file, because Secret files belong to root whatever the pod's user; it gets group read,
 * the group being the Job's own (fsGroup below).
 */
export function secretFileMode(runAsRoot: boolean): number {
  return runAsRoot ? 0o400 : 0o440;
}

/**
 * Pins a pod to one node the way the DaemonSet controller does: a required node affinity on the
 * node's name, not spec.nodeName. The scheduler then places the pod, so a WaitForFirstConsumer
 * claim it mounts is bound on that node and the pod's requests are counted against it; a pod
 * with nodeName set bypasses the scheduler and such a claim never binds.
 */
export function nodeAffinityFor(nodeName: string): V1Affinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
      },
    },
  };
}

/** The node a pod template is pinned to: by the affinity above, or by nodeName (Jobs made before it). */
export function pinnedNode(spec: V1PodSpec | undefined): string | undefined {
  for (const term of spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ??
    []) {
    const field = term.matchFields?.find(
      (f) => f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1,
    );
    if (field) return field.values![0];
  }
  return spec?.nodeName;
}

/**
 * The shape every action Job shares: one container running `/jobs/<action>`, never restarted in
 * place (a failed pod is replaced by the Job controller up to backoffLimit times, once by
 * default), bounded in time and memory, as locked down as the action allows. The caller brings
 * the input env, volumes and placement.
 */
export function buildActionJob(args: {
  action: JobAction;
  name: string;
  labels: Record<string, string>;
  settings: JobSettings;
  inputEnv: V1EnvVar;
  nodeName: string | undefined;
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  activeDeadlineSeconds: number;
  /** Root for Jobs that read files the kubelet wrote as root with mode 0600. */
  runAsRoot: boolean;
  ttlSecondsAfterFinished?: number;
  /** Pod retries by the Job controller (its backoff doubles from 10 s, capped at 6 min); default 1. */
  backoffLimit?: number;
}): V1Job {
  const { settings } = args;
  const env: V1EnvVar[] = [
    args.inputEnv,
    { name: 'NODE_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'LOG_LEVEL', value: settings.logLevel },
    { name: 'NODE_OPTIONS', value: JOB_NODE_OPTIONS },
    ...(settings.pushgatewayUrl ? [{ name: 'PUSHGATEWAY_URL', value: settings.pushgatewayUrl }] : []),
    ...(settings.traceparent ? [{ name: 'TRACEPARENT', value: settings.traceparent }] : []),
    ...(settings.tracestate ? [{ name: 'TRACESTATE', value: settings.tracestate }] : []),
    ...Object.entries(settings.passThroughEnv ?? {}).map(([k, v]) => ({ name: k, value: v })),
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: args.name, namespace: settings.namespace, labels: args.labels },
    spec: {
      backoffLimit: args.backoffLimit ?? 1,
      activeDeadlineSeconds: args.activeDeadlineSeconds,
      ...(args.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: args.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: { labels: args.labels },
        spec: {
          ...(args.nodeName ? { affinity: nodeAffinityFor(args.nodeName) } : {}),
          restartPolicy: 'Never',
          serviceAccountName: settings.serviceAccountName,
          automountServiceAccountToken: true,
          securityContext: args.runAsRoot
            ? { runAsUser: 0, runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } }
            : // fsGroup: Secret volume files are owned by root, so the group is how a non-root Job reads them.
              {
                runAsUser: JOB_USER,
                runAsGroup: JOB_USER,
                fsGroup: JOB_USER,
                runAsNonRoot: true,
                seccompProfile: { type: 'RuntimeDefault' },
              },
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: args.action,
              image: settings.image,
              command: [`/jobs/${args.action}`],
              env,
              volumeMounts: args.mounts,
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '192Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          volumes: args.volumes,
        },
      },
    },
  };
}
