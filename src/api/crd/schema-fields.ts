import type { KubernetesValidation } from '../cel.js';
import type { SchemaNode } from './structural-schema.js';

/** One field of a CRD schema as the field reference shows it. Cells are Markdown, not yet escaped for a table. */
export interface SchemaField {
  path: string;
  type: string;
  default: string;
  description: string;
}

/** A CEL rule, named by the field it reports on (where it sits, plus its fieldPath). */
export interface SchemaRule {
  path: string;
  message: string;
}

/**
 * Flattens a structural schema (as the CRD carries it) into dotted paths, depth first in schema
 * order, with array items as `[]`. Reading the CRD's schema rather than zod's keeps the reference
 * and what the API server enforces from ever disagreeing.
 */
export function schemaFields(node: SchemaNode, path: string): { fields: SchemaField[]; rules: SchemaRule[] } {
  const fields: SchemaField[] = [];
  const rules: SchemaRule[] = [];
  const visit = (n: SchemaNode, p: string) => {
    rules.push(...rulesOn(n, p));
    const items = n.type === 'array' && isNode(n.items) ? n.items : undefined;
    if (items) rules.push(...rulesOn(items, `${p}[]`));
    const owner = items ?? n;
    const required = new Set((owner.required as string[] | undefined) ?? []);
    for (const [name, child] of Object.entries((owner.properties as Record<string, SchemaNode> | undefined) ?? {})) {
      const childPath = `${items ? `${p}[]` : p}.${name}`;
      fields.push({
        path: childPath,
        type: typeText(child),
        default: child.default !== undefined ? code(scalarText(child.default)) : required.has(name) ? '*required*' : '',
        description: typeof child.description === 'string' ? child.description : '',
      });
      visit(child, childPath);
    }
  };
  visit(node, path);
  return { fields, rules };
}

function rulesOn(node: SchemaNode, path: string): SchemaRule[] {
  const validations = (node['x-kubernetes-validations'] as KubernetesValidation[] | undefined) ?? [];
  return validations.map((v) => ({ path: `${path}${v.fieldPath ?? ''}`, message: v.message }));
}

/** `string, 1–253 chars, pattern …`: the type, then every constraint the API server checks. */
function typeText(node: SchemaNode): string {
  if (node.type === 'array' && isNode(node.items)) {
    const item = Array.isArray(node.items.enum) ? `(${baseType(node.items)})` : baseType(node.items);
    const each = constraints(node.items);
    const list = [`[]${item}`, ...listKind(node), ...bounds(node)].join(', ');
    return each.length > 0 ? `${list}; each ${each.join(', ')}` : list;
  }
  return [baseType(node), ...constraints(node)].join(', ');
}

function baseType(node: SchemaNode): string {
  if (node['x-kubernetes-int-or-string'] === true) return 'integer or string';
  if (Array.isArray(node.enum)) return node.enum.map((v) => code(scalarText(v))).join(' | ');
  // Every integer is int64 (the generator says so explicitly); only other formats tell the reader something.
  const format = typeof node.format === 'string' && node.format !== 'int64' ? ` (${node.format})` : '';
  return `${String(node.type)}${format}`;
}

function constraints(node: SchemaNode): string[] {
  return [...bounds(node), ...(typeof node.pattern === 'string' ? [`pattern ${code(node.pattern)}`] : [])];
}

function bounds(node: SchemaNode): string[] {
  // A length or item count of at least 0 says nothing; a number of at least 0 does.
  if (node.type === 'string') return range(positive(node.minLength), node.maxLength, ' chars');
  if (node.type === 'array') return range(positive(node.minItems), node.maxItems, ' items');
  return range(node.minimum, node.maximum, '');
}

function positive(v: unknown): number | undefined {
  return typeof v === 'number' && v > 0 ? v : undefined;
}

function range(min: unknown, max: unknown, unit: string): string[] {
  const lo = typeof min === 'number' ? min : undefined;
  const hi = typeof max === 'number' ? max : undefined;
  if (lo !== undefined && hi !== undefined) return [`${lo}–${hi}${unit}`];
  if (lo !== undefined) return [`≥ ${lo}${unit}`];
  if (hi !== undefined) return [`≤ ${hi}${unit}`];
  return [];
}

function listKind(node: SchemaNode): string[] {
  if (node['x-kubernetes-list-type'] === 'set') return ['set'];
  const keys = node['x-kubernetes-list-map-keys'];
  if (node['x-kubernetes-list-type'] === 'map' && Array.isArray(keys))
    return [`one per ${keys.map((k) => code(String(k))).join(' + ')}`];
  return [];
}

function scalarText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A code span that survives backticks in its text (CommonMark: a longer fence, padded). */
export function code(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longestRun + 1);
  return longestRun > 0 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

function isNode(v: unknown): v is SchemaNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
