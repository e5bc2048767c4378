import { z } from 'zod';
import { ABSOLUTE_NORMAL_PATH, DNS_LABEL, IMAGE_REPOSITORY } from '../api/patterns.js';
import { parseGoDuration } from '../api/duration.js';

/** The dispatcher's configuration: environment (SPEC §4) plus command-line flags. */
export interface DispatcherConfig {
  /** Namespaces whose Checkpoints are reconciled; empty means all. */
  watchNamespaces: string[];
  operatorName: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  metricsPort: number;
  /** Where the plain metrics endpoint listens: every address, or 127.0.0.1 to keep it inside the pod. */
  metricsBindAddress: string;
  /**
   * The authenticated and authorised metrics endpoint (HTTPS, TokenReview + SubjectAccessReview);
   * undefined: not served. The shipped manifests serve it on 8443 and keep the plain one in the pod.
   */
  metricsSecurePort: number | undefined;
  /** A mounted kubernetes.io/tls Secret for the secure endpoint; unset: a self-signed certificate. */
  metricsCertDir: string | undefined;
  healthProbePort: number;
  podName: string;
  /** Where Jobs, CronJobs, claims from templates and the leader Lease live. */
  operatorNamespace: string;
  jobNamespace: string;
  jobImage: string | undefined;
  pushgatewayUrl: string | undefined;
  /** A Secret in the Jobs' namespace with S3 credentials for Checkpoints that name none. */
  s3DefaultCredentialsSecret: string;
  /**
   * Restore delivery for Checkpoints whose policy has no spec.restore (or that cite none): the
   * repository checkpoint images are pushed to, and a dockerconfigjson Secret in the Jobs'
   * namespace to push with, and one holding the CA bundle (ca.crt) that signs the registry.
   */
  restoreDefaults: {
    imageRepository: string | undefined;
    pushSecret: string | undefined;
    insecureRegistry: boolean;
    caBundleSecret: string | undefined;
  };
  kubeletAccess: 'direct' | 'proxy';
  kubeletPort: number;
  /** A Secret in the Jobs' namespace whose ca.crt verifies kubelets, beside the cluster CA. */
  kubeletCABundleSecret: string | undefined;
  /** Explicitly chosen: kubelets are not verified at all, and every Checkpoint says so in a Warning Event. */
  kubeletInsecureSkipTLSVerify: boolean;
  /** Checkpoint Jobs running at once on one node; 0: no limit. */
  maxCheckpointJobsPerNode: number;
  /** Finished Jobs kept per action once their results are recorded (the rest are deleted). */
  finishedJobsKept: number;
  /** Node directories the local backend may use; anything else is refused. */
  localStorageRoots: string[];
  kubeApiQps: number;
  kubeApiBurst: number;
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
}

const port = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a port number` })
    .int(`${name} must be a whole number`)
    .min(1, `${name} must be between 1 and 65535`)
    .max(65535, `${name} must be between 1 and 65535`)
    .default(fallback);

/**
 * Longest leader-election duration taken. Past it a dead leader's lease would hold for more than
 * a day, and timers overflow (Node fires a timer over 2^31 ms at once, which turns a retry period
 * into a busy loop against the API server).
 */
const MAX_DURATION = '24h';

const duration = (name: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseGoDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a positive duration such as '15s' (got '${text}')` });
        return z.NEVER;
      }
      if (ms > parseGoDuration(MAX_DURATION)!) {
        ctx.addIssue({ code: 'custom', message: `${name} must be at most ${MAX_DURATION} (got '${text}')` });
        return z.NEVER;
      }
      return ms;
    });

/** A namespace name: a DNS label of at most 63 characters, as the API server allows. */
function namespaceName(name: string) {
  return z
    .string()
    .max(63, `${name} must be a namespace name (at most 63 characters)`)
    .regex(DNS_LABEL, `${name} must be a namespace name`)
    .optional();
}

const envSchema = z.object({
  WATCH_NAMESPACE: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const names = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const bad = names.filter((n) => n.length > 63 || !DNS_LABEL.test(n));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `WATCH_NAMESPACE holds invalid namespace names: ${bad.join(', ')}` });
        return z.NEVER;
      }
      // Only separators (',,'): a list meant to confine the operator must not widen it to every namespace.
      if (names.length === 0 && text.trim() !== '') {
        ctx.addIssue({
          code: 'custom',
          message: `WATCH_NAMESPACE lists no namespace (got '${text}'); leave it empty to watch all namespaces`,
        });
        return z.NEVER;
      }
      return [...new Set(names)];
    }),
  // It names the leader Lease (`<name>-leader`), so it must be valid in an object name.
  OPERATOR_NAME: z
    .string()
    .max(63)
    .regex(DNS_LABEL, 'OPERATOR_NAME must be a lower-case DNS label such as checkpoint-operator')
    .default('checkpoint-operator'),
  LOG_LEVEL: z
    .enum(['debug', 'info', 'warn', 'error'], { error: 'LOG_LEVEL must be one of debug, info, warn, error' })
    .default('info'),
  METRICS_PORT: port('METRICS_PORT', 8080),
  METRICS_BIND_ADDRESS: z
    .enum(['0.0.0.0', '127.0.0.1', '::', '::1'], {
      error: 'METRICS_BIND_ADDRESS must be 0.0.0.0 (every address) or 127.0.0.1 (inside the pod only), or :: / ::1',
    })
    .default('0.0.0.0'),
  METRICS_SECURE_PORT: z.coerce
    .number({ error: 'METRICS_SECURE_PORT must be a port number' })
    .int('METRICS_SECURE_PORT must be a whole number')
    .min(0, 'METRICS_SECURE_PORT must be between 0 (off) and 65535')
    .max(65535, 'METRICS_SECURE_PORT must be between 0 (off) and 65535')
    .default(0),
  METRICS_CERT_DIR: z
    .string()
    .regex(ABSOLUTE_NORMAL_PATH, 'METRICS_CERT_DIR must be an absolute, normalised directory')
    .optional(),
  HEALTH_PROBE_PORT: port('HEALTH_PROBE_PORT', 8081),
  POD_NAME: z.string().min(1).optional(),
  POD_NAMESPACE: namespaceName('POD_NAMESPACE'),
  JOB_NAMESPACE: namespaceName('JOB_NAMESPACE'),
  JOB_IMAGE: z.string().regex(/^\S+$/, 'JOB_IMAGE must be an image reference without spaces').optional(),
  PUSHGATEWAY_URL: z.url({ protocol: /^https?$/, error: 'PUSHGATEWAY_URL must be an http(s) URL' }).optional(),
  S3_DEFAULT_CREDENTIALS_SECRET: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'S3_DEFAULT_CREDENTIALS_SECRET must be a Secret name')
    .default('checkpoint-operator-s3-credentials'),
  RESTORE_IMAGE_REPOSITORY: z
    .string()
    .max(512)
    .regex(
      IMAGE_REPOSITORY,
      'RESTORE_IMAGE_REPOSITORY must be an image repository such as registry.example.com/checkpoints',
    )
    .optional(),
  RESTORE_PUSH_SECRET: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'RESTORE_PUSH_SECRET must be a Secret name')
    .optional(),
  RESTORE_INSECURE_REGISTRY: z
    .enum(['true', 'false'], { error: 'RESTORE_INSECURE_REGISTRY must be true or false' })
    .default('false'),
  RESTORE_CA_BUNDLE_SECRET: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'RESTORE_CA_BUNDLE_SECRET must be a Secret name')
    .optional(),
  KUBELET_ACCESS: z.enum(['direct', 'proxy'], { error: 'KUBELET_ACCESS must be direct or proxy' }).default('direct'),
  KUBELET_PORT: port('KUBELET_PORT', 10250),
  KUBELET_CA_BUNDLE_SECRET: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'KUBELET_CA_BUNDLE_SECRET must be a Secret name')
    .optional(),
  KUBELET_INSECURE_SKIP_TLS_VERIFY: z
    .enum(['true', 'false'], { error: 'KUBELET_INSECURE_SKIP_TLS_VERIFY must be true or false' })
    .default('false'),
  LOCAL_STORAGE_ROOTS: z
    .string()
    .default('/var/lib/checkpoint-operator')
    .transform((text, ctx) => {
      const roots = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const bad = roots.filter((r) => !ABSOLUTE_NORMAL_PATH.test(r));
      if (roots.length === 0 || bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `LOCAL_STORAGE_ROOTS must list absolute, normalised directories (got: ${bad.join(', ') || 'nothing'})`,
        });
        return z.NEVER;
      }
      return roots;
    }),
  MAX_CHECKPOINT_JOBS_PER_NODE: z.coerce
    .number()
    .int('MAX_CHECKPOINT_JOBS_PER_NODE must be a whole number')
    .min(0, 'MAX_CHECKPOINT_JOBS_PER_NODE must be 0 (no limit) or more')
    .max(1000)
    .default(4),
  FINISHED_JOBS_KEPT: z.coerce
    .number()
    .int('FINISHED_JOBS_KEPT must be a whole number')
    .min(0, 'FINISHED_JOBS_KEPT must be 0 or more')
    .max(10_000)
    .default(10),
  KUBE_API_QPS: z.coerce.number().positive('KUBE_API_QPS must be positive').max(10_000).default(50),
  KUBE_API_BURST: z.coerce
    .number()
    .int()
    .positive('KUBE_API_BURST must be a positive whole number')
    .max(10_000)
    .default(100),
  LEADER_ELECTION_LEASE_DURATION: duration('LEADER_ELECTION_LEASE_DURATION', '15s'),
  LEADER_ELECTION_RENEW_DEADLINE: duration('LEADER_ELECTION_RENEW_DEADLINE', '10s'),
  LEADER_ELECTION_RETRY_PERIOD: duration('LEADER_ELECTION_RETRY_PERIOD', '2s'),
});

/** Every environment variable the dispatcher reads (besides the standard OTEL_* ones), for installers to expose. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type ConfigResult = { ok: true; config: DispatcherConfig } | { ok: false; message: string };

export interface ConfigSources {
  env: Record<string, string | undefined>;
  argv: string[];
  hostname: string;
  /** The namespace of the ServiceAccount mounted in the pod, when there is one. */
  serviceAccountNamespace: string | undefined;
}

const KNOWN_FLAGS = new Set(['--leader-elect', '--leader-elect=true', '--leader-elect=false']);

/**
 * Reads configuration without side effects. An invalid setting yields one message naming every
 * problem, so the operator can stop at start-up with it instead of failing later.
 */
export function parseConfig(sources: ConfigSources): ConfigResult {
  const problems: string[] = [];
  const unknownFlags = sources.argv.filter((a) => !KNOWN_FLAGS.has(a));
  if (unknownFlags.length > 0)
    problems.push(`unknown arguments: ${unknownFlags.join(' ')} (supported: --leader-elect[=true|false])`);

  // Empty strings mean "unset", as they do in a Deployment's env with value: "".
  const env = Object.fromEntries(Object.entries(sources.env).filter(([, v]) => v !== undefined && v !== ''));
  if (sources.env.WATCH_NAMESPACE !== undefined) env.WATCH_NAMESPACE = sources.env.WATCH_NAMESPACE;
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) problems.push(...parsed.error.issues.map(namingTheVariable));
  if (problems.length > 0 || !parsed.success)
    return { ok: false, message: `invalid configuration: ${problems.join('; ')}` };

  const e = parsed.data;
  if (!(e.LEADER_ELECTION_RENEW_DEADLINE < e.LEADER_ELECTION_LEASE_DURATION)) {
    return {
      ok: false,
      message:
        'invalid configuration: LEADER_ELECTION_RENEW_DEADLINE must be shorter than LEADER_ELECTION_LEASE_DURATION',
    };
  }
  if (!(e.LEADER_ELECTION_RETRY_PERIOD < e.LEADER_ELECTION_RENEW_DEADLINE)) {
    return {
      ok: false,
      message:
        'invalid configuration: LEADER_ELECTION_RETRY_PERIOD must be shorter than LEADER_ELECTION_RENEW_DEADLINE',
    };
  }
  if (e.RESTORE_INSECURE_REGISTRY === 'true' && e.RESTORE_CA_BUNDLE_SECRET) {
    return {
      ok: false,
      message:
        'invalid configuration: RESTORE_INSECURE_REGISTRY=true (plain HTTP) contradicts RESTORE_CA_BUNDLE_SECRET (verified TLS); set one',
    };
  }
  if (e.METRICS_SECURE_PORT !== 0 && [e.METRICS_PORT, e.HEALTH_PROBE_PORT].includes(e.METRICS_SECURE_PORT)) {
    return {
      ok: false,
      message: `invalid configuration: METRICS_SECURE_PORT (${e.METRICS_SECURE_PORT}) must differ from METRICS_PORT and HEALTH_PROBE_PORT`,
    };
  }
  if (e.METRICS_CERT_DIR && e.METRICS_SECURE_PORT === 0) {
    return {
      ok: false,
      message:
        'invalid configuration: METRICS_CERT_DIR is set but METRICS_SECURE_PORT is not; the certificate is for the secure metrics endpoint',
    };
  }
  if (e.KUBELET_INSECURE_SKIP_TLS_VERIFY === 'true' && e.KUBELET_CA_BUNDLE_SECRET) {
    return {
      ok: false,
      message:
        'invalid configuration: KUBELET_INSECURE_SKIP_TLS_VERIFY=true (no verification) contradicts KUBELET_CA_BUNDLE_SECRET (verification against it); set one',
    };
  }
  if (e.KUBELET_ACCESS === 'proxy' && (e.KUBELET_INSECURE_SKIP_TLS_VERIFY === 'true' || e.KUBELET_CA_BUNDLE_SECRET)) {
    return {
      ok: false,
      message:
        'invalid configuration: with KUBELET_ACCESS=proxy the API server reaches kubelets and verifies them itself; KUBELET_CA_BUNDLE_SECRET and KUBELET_INSECURE_SKIP_TLS_VERIFY apply only to KUBELET_ACCESS=direct',
    };
  }
  const operatorNamespace = e.POD_NAMESPACE ?? sources.serviceAccountNamespace ?? 'checkpoint-operator-system';
  const leaderElect = sources.argv.includes('--leader-elect') || sources.argv.includes('--leader-elect=true');
  return {
    ok: true,
    config: {
      watchNamespaces: e.WATCH_NAMESPACE,
      operatorName: e.OPERATOR_NAME,
      logLevel: e.LOG_LEVEL,
      metricsPort: e.METRICS_PORT,
      metricsBindAddress: e.METRICS_BIND_ADDRESS,
      metricsSecurePort: e.METRICS_SECURE_PORT === 0 ? undefined : e.METRICS_SECURE_PORT,
      metricsCertDir: e.METRICS_CERT_DIR,
      healthProbePort: e.HEALTH_PROBE_PORT,
      podName: e.POD_NAME ?? sources.hostname,
      operatorNamespace,
      jobNamespace: e.JOB_NAMESPACE ?? operatorNamespace,
      jobImage: e.JOB_IMAGE,
      pushgatewayUrl: e.PUSHGATEWAY_URL,
      s3DefaultCredentialsSecret: e.S3_DEFAULT_CREDENTIALS_SECRET,
      restoreDefaults: {
        imageRepository: e.RESTORE_IMAGE_REPOSITORY,
        pushSecret: e.RESTORE_PUSH_SECRET,
        insecureRegistry: e.RESTORE_INSECURE_REGISTRY === 'true',
        caBundleSecret: e.RESTORE_CA_BUNDLE_SECRET,
      },
      kubeletAccess: e.KUBELET_ACCESS,
      kubeletPort: e.KUBELET_PORT,
      kubeletCABundleSecret: e.KUBELET_CA_BUNDLE_SECRET,
      kubeletInsecureSkipTLSVerify: e.KUBELET_INSECURE_SKIP_TLS_VERIFY === 'true',
      localStorageRoots: e.LOCAL_STORAGE_ROOTS,
      finishedJobsKept: e.FINISHED_JOBS_KEPT,
      maxCheckpointJobsPerNode: e.MAX_CHECKPOINT_JOBS_PER_NODE,
      kubeApiQps: e.KUBE_API_QPS,
      kubeApiBurst: e.KUBE_API_BURST,
      leaderElection: {
        enabled: leaderElect,
        leaseName: `${e.OPERATOR_NAME}-leader`,
        leaseDurationMs: e.LEADER_ELECTION_LEASE_DURATION,
        renewDeadlineMs: e.LEADER_ELECTION_RENEW_DEADLINE,
        retryPeriodMs: e.LEADER_ELECTION_RETRY_PERIOD,
      },
    },
  };
}

/** An issue's message, led by the variable it is about unless it names it already (zod's generic ones do not). */
function namingTheVariable(issue: z.core.$ZodIssue): string {
  const variable = String(issue.path[0] ?? '');
  return variable && !issue.message.includes(variable) ? `${variable}: ${issue.message}` : issue.message;
}

/** The sentence the operator logs at start-up about its reach. */
export function describeWatchScope(config: DispatcherConfig): string {
  return config.watchNamespaces.length === 0
    ? 'watching Checkpoints in all namespaces'
    : `watching Checkpoints in namespace${config.watchNamespaces.length > 1 ? 's' : ''} ${config.watchNamespaces.join(', ')}`;
}
