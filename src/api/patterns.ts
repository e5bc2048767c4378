/**
 * Regular expressions shared by the zod schemas (checked in the operator) and the generated CRDs
 * (checked by the API server). They must stay within what both JavaScript and Go's RE2 accept:
 * no look-around, no back-references.
 */

/** RFC 1123 label: namespaces, container names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: pod, Secret, PVC and policy names. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * One path segment that is neither `.` nor `..`, and holds no `/` and no control character: a
 * NUL cannot be in a file name at all (the Job's volume could never be set up), and newlines or
 * escapes in a path would end up in archive URIs, logs and Events.
 */
const SEGMENT = String.raw`(?:[^/.\x00-\x1f\x7f][^/\x00-\x1f\x7f]*|\.[^/.\x00-\x1f\x7f][^/\x00-\x1f\x7f]*|\.\.[^/\x00-\x1f\x7f]+)`;
/** An absolute, normalised path: no empty, `.` or `..` segment, no trailing slash, not `/` itself. */
export const ABSOLUTE_NORMAL_PATH = new RegExp(`^(?:/${SEGMENT})+$`);
/** An object-key prefix: relative, no empty, `.` or `..` segment; may end with `/`. Empty is allowed. */
export const KEY_PREFIX = new RegExp(`^(?:${SEGMENT}/)*(?:${SEGMENT})?$`);

/** Go's time.ParseDuration syntax, without sign: `72h`, `1h30m`, `90s`, `1.5h`. */
export const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/** S3 endpoint as users write it: a host (or IPv6 literal) with optional scheme and port. */
export const S3_ENDPOINT =
  /^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?\/?$/;
/** S3 bucket naming rules (lower case, digits, dots, hyphens; 3 to 63 characters). */
export const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Kubernetes resource quantity (`10Gi`, `500M`, `1e9`). */
export const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/**
 * A plausible cron schedule: five fields, or one of the `@` macros the CronJob controller knows.
 * The full parse happens in the operator with cron-parser; this only keeps nonsense out early.
 */
export const CRON_SCHEDULE =
  /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9*?/,LW#A-Za-z-]+( [0-9*?/,LW#A-Za-z-]+){4})$/;

/** OCI image repository without tag or digest: `registry.example.com:5000/team/checkpoints`. */
export const IMAGE_REPOSITORY =
  /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/;

/** Condition reason, as metav1.Condition defines it. */
export const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
