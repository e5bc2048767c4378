import { z } from 'zod';

/**
 * A validation the API server enforces through a CEL rule (`x-kubernetes-validations`) and the
 * operator enforces through zod, so objects written before a CRD upgrade, or read from a cache,
 * get the same verdict as new ones. `check` mirrors `rule`; transition rules (those that read
 * `oldSelf`) have no `check` because zod never sees the previous object.
 */
export interface CelRule<T> {
  rule: string;
  message: string;
  /** JSONPath relative to the object the rule sits on, so the error names the offending field. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
  check?: (value: T) => boolean;
}

export interface KubernetesValidation {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: string;
}

/** Attaches CEL rules to a schema (for the CRD) and their mirrors as zod refinements. */
export function withCelRules<S extends z.ZodType>(schema: S, rules: CelRule<z.output<S>>[]): S {
  const checked = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (r.check && !r.check(value)) {
        ctx.addIssue({ code: 'custom', message: r.message, path: fieldPathToZodPath(r.fieldPath) });
      }
    }
  });
  const validations: KubernetesValidation[] = rules.map(({ rule, message, fieldPath, reason }) => ({
    rule,
    message,
    ...(fieldPath ? { fieldPath } : {}),
    ...(reason ? { reason } : {}),
  }));
  const existing = (schema.meta()?.['x-kubernetes-validations'] as KubernetesValidation[] | undefined) ?? [];
  return checked.meta({ ...schema.meta(), 'x-kubernetes-validations': [...existing, ...validations] }) as S;
}

function fieldPathToZodPath(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').filter((s) => s.length > 0) : [];
}
