import type { KubernetesValidation } from './cel.js';
import { checkpointCrd, checkpointPolicyCrd } from './crd/custom-resource-definitions.js';
import { code, schemaFields, type SchemaRule } from './crd/schema-fields.js';
import type { SchemaNode } from './crd/structural-schema.js';

/**
 * The field reference of docs/reference.md, in Markdown: per kind, one table for spec and one for status,
 * each followed by its CEL rules. Rendered from the generated CRDs, so `npm run generate` keeps
 * it in step with manifests/crd/ and a test catches a page edited by hand.
 */
export function renderFieldReference(): string {
  return [checkpointCrd(), checkpointPolicyCrd()].flatMap(kindSections).join('\n');
}

function kindSections(crd: SchemaNode): string[] {
  const spec = crd.spec as { names: { kind: string }; versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
  const kind = spec.names.kind;
  const root = spec.versions[0]!.schema.openAPIV3Schema;
  const properties = root.properties as Record<string, SchemaNode>;
  // Rules on the object itself (its name, say) concern what a user writes, so they go with spec.
  const rootRules = ((root['x-kubernetes-validations'] as KubernetesValidation[] | undefined) ?? []).map((v) => ({
    path: kind,
    message: v.message,
  }));
  return [
    section(`${kind} spec`, properties.spec!, 'spec', rootRules),
    section(`${kind} status`, properties.status!, 'status', []),
  ];
}

function section(title: string, node: SchemaNode, path: string, extraRules: SchemaRule[]): string {
  const { fields, rules } = schemaFields(node, path);
  const lines = [`## ${title}`, ''];
  if (typeof node.description === 'string') lines.push(prose(node.description), '');
  lines.push('| field | type | default | description |', '|---|---|---|---|');
  for (const f of fields)
    lines.push(`| ${[code(f.path), f.type, f.default, prose(f.description)].map(cell).join(' | ')} |`);
  const allRules = [...extraRules, ...rules];
  if (allRules.length > 0) {
    lines.push('', 'Rules:', '');
    for (const r of allRules) lines.push(`- ${code(r.path)}: ${prose(r.message)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A table cell: one line, and `|` escaped (GFM splits cells on it, even inside code spans). */
function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

/**
 * Descriptions and messages are plain text (kubectl explain shows them as written): escape what
 * Markdown would read as markup, such as the stars of a cron schedule. An underscore inside a
 * word is never emphasis, so AWS_ACCESS_KEY_ID stays as it is.
 */
function prose(text: string): string {
  return oneLine(text).replace(/[\\`*<[\]]|(?<!\w)_|_(?!\w)/g, (c) => `\\${c}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
