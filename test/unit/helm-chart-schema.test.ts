import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/dispatcher/config.js';

/**
 * The chart's values.schema.json repeats, as JSON Schema patterns, what the operator checks in
 * src/dispatcher/config.ts. A value must mean the same to both: refused at `helm install` exactly
 * when the operator would refuse it at start-up (a crash loop after a successful install), and
 * never refused when the operator would take it. Each case runs the same strings through the
 * schema and through the operator's own configuration parser.
 */
const schema = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../charts/checkpoint-operator/values.schema.json'), 'utf8'),
) as SchemaNode;

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  maxLength?: number;
  type?: string;
}

/** The schema of a value: `restore.pushSecret`, `watchNamespaces[]` for a list's items. */
function schemaAt(path: string): SchemaNode {
  let node = schema;
  for (const part of path.split('.')) {
    const list = part.endsWith('[]');
    node = node.properties?.[list ? part.slice(0, -2) : part] ?? fail(`the schema has no ${path}`);
    if (list) node = node.items ?? fail(`${path} is not a list in the schema`);
  }
  return node;
}

function fail(message: string): never {
  throw new Error(message);
}

/** What the schema's string keywords the chart uses say of a value (const, enum, pattern, maxLength, anyOf). */
function schemaAccepts(node: SchemaNode, value: string): boolean {
  if (node.anyOf && !node.anyOf.some((branch) => schemaAccepts(branch, value))) return false;
  if ('const' in node && node.const !== value) return false;
  if (node.enum && !node.enum.includes(value)) return false;
  if (node.pattern !== undefined && !new RegExp(node.pattern, 'u').test(value)) return false;
  if (node.maxLength !== undefined && [...value].length > node.maxLength) return false;
  return true;
}

/** The other variables the chart always sets beside one (the certificate is for the secure port, say). */
const ALONGSIDE: Record<string, Record<string, string>> = { METRICS_CERT_DIR: { METRICS_SECURE_PORT: '8443' } };

function operatorAccepts(variable: string, value: string): boolean {
  const env = { ...ALONGSIDE[variable], [variable]: value };
  return parseConfig({ env, argv: [], hostname: 'pod', serviceAccountNamespace: 'ns' }).ok;
}

const SECRET_NAMES = ['', 'creds', 'a.b-c', 'Creds', '-creds', 'creds-', 'a_b', 'x'.repeat(253), 'x'.repeat(254)];
const NAMESPACES = ['team-a', 'a', 'Team', 'a.b', 'a_b', '-a', 'x'.repeat(63), 'x'.repeat(64)];
const DIRECTORIES = ['/var/lib/archives', '/a/.hidden', 'relative', '/a/../b', '/a/./b', '/a//b', '/a/'];

const CASES: [value: string, variable: string, samples: string[]][] = [
  ['operatorName', 'OPERATOR_NAME', ['checkpoint-operator', 'op', 'Op', '-op', 'op.x', 'op_x']],
  ['watchNamespaces[]', 'WATCH_NAMESPACE', NAMESPACES],
  ['jobNamespace', 'JOB_NAMESPACE', ['', ...NAMESPACES]],
  ['jobImage', 'JOB_IMAGE', ['', 'registry.example.com/op@sha256:' + 'a'.repeat(64), 'op:1', 'has space']],
  ['leaderElection.leaseDuration', 'LEADER_ELECTION_LEASE_DURATION', ['', '30s', '1h', '1.5h', '1h30m', '30', 's']],
  ['leaderElection.renewDeadline', 'LEADER_ELECTION_RENEW_DEADLINE', ['', '10s', '12.5s', '12', '11s5']],
  ['leaderElection.retryPeriod', 'LEADER_ELECTION_RETRY_PERIOD', ['', '1s', '500ms', '1.5s', '2', 'ms']],
  ['storage.s3DefaultCredentialsSecret', 'S3_DEFAULT_CREDENTIALS_SECRET', SECRET_NAMES],
  ['storage.localRoots[]', 'LOCAL_STORAGE_ROOTS', DIRECTORIES],
  [
    'restore.imageRepository',
    'RESTORE_IMAGE_REPOSITORY',
    ['', 'registry.example.com/checkpoints', 'reg:5000/a/b', 'reg.io/UPPER', 'no-slash', 'reg.io/a//b', 'reg.io/a__b'],
  ],
  ['restore.pushSecret', 'RESTORE_PUSH_SECRET', SECRET_NAMES],
  ['restore.caBundleSecret', 'RESTORE_CA_BUNDLE_SECRET', SECRET_NAMES],
  ['kubelet.caBundleSecret', 'KUBELET_CA_BUNDLE_SECRET', SECRET_NAMES],
  ['metrics.certDir', 'METRICS_CERT_DIR', DIRECTORIES],
  [
    'pushgatewayUrl',
    'PUSHGATEWAY_URL',
    ['', 'http://pushgateway:9091', 'https://pg.example.com/x', 'ftp://pg', 'pg:9091', 'http://'],
  ],
];

describe('values.schema.json and the operator agree on every value they both check', () => {
  it.each(CASES)('%s (%s)', (value, variable, samples) => {
    const node = schemaAt(value);
    const disagreements = samples
      .map((sample) => ({ sample, chart: schemaAccepts(node, sample), operator: operatorAccepts(variable, sample) }))
      .filter((r) => r.chart !== r.operator);
    expect(disagreements).toEqual([]);
    // The samples straddle the rule: each case has values both take and values both refuse.
    expect(samples.some((s) => operatorAccepts(variable, s))).toBe(true);
    expect(samples.some((s) => !operatorAccepts(variable, s))).toBe(true);
  });
});
