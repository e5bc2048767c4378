import { z } from 'zod';

/** A JSON Schema node as the API server's structural-schema rules accept it. */
export type SchemaNode = { [key: string]: unknown };

const SAFE_INTEGER_BOUND = Number.MAX_SAFE_INTEGER;

/**
 * Turns a zod schema into an OpenAPI v3 schema a CRD can carry. zod's own JSON-Schema export does
 * the walk; what follows removes what structural schemas forbid or what only adds noise:
 * zod's safe-integer bounds, the huge regex zod emits beside `format: date-time`,
 * `additionalProperties: false`, and the two-branch union of int-or-string quantities.
 */
export function toStructuralSchema(schema: z.ZodType): SchemaNode {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as SchemaNode;
  delete json.$schema;
  return clean(json);
}

function clean(node: SchemaNode): SchemaNode {
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isRecord(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clean(v as SchemaNode)]));
    } else if (key === 'items' && isRecord(value)) {
      out.items = clean(value);
    } else if (key === 'additionalProperties') {
      if (isRecord(value)) out.additionalProperties = clean(value);
      // `false` is the default for structural schemas (unknown fields are pruned) and is not allowed.
    } else if (key === 'anyOf' && Array.isArray(value)) {
      if (node['x-kubernetes-int-or-string'] === true) Object.assign(out, intOrString(value as SchemaNode[]));
      else out.anyOf = value.map((v) => clean(v as SchemaNode));
    } else if (
      (key === 'minimum' && value === -SAFE_INTEGER_BOUND) ||
      (key === 'maximum' && value === SAFE_INTEGER_BOUND)
    ) {
      // zod's implicit safe-integer range; int64 is what the API server means by integer.
    } else if (key === 'pattern' && node.format === 'date-time') {
      // The API server validates format: date-time itself.
    } else {
      out[key] = value;
    }
  }
  if (out.type === 'integer' && out.format === undefined) out.format = 'int64';
  return out;
}

/** The shape Kubernetes uses for resource.Quantity: anyOf integer|string, pattern beside it. */
function intOrString(branches: SchemaNode[]): SchemaNode {
  const stringBranch = branches.find((b) => b.type === 'string');
  return {
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    ...(stringBranch?.pattern ? { pattern: stringBranch.pattern } : {}),
  };
}

function isRecord(v: unknown): v is SchemaNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
