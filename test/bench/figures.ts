export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baselineName: string;
  /** maxRatio: value/baseline must stay at or below; minRatio: at or above; maxValue: value itself at or below. */
  target: { maxRatio?: number; minRatio?: number; maxValue?: number } | undefined;
}

export function ratio(f: Figure): number {
  return f.value / f.baseline;
}

export function met(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  const r = ratio(f);
  if (f.target.maxRatio !== undefined && r > f.target.maxRatio) return false;
  if (f.target.minRatio !== undefined && r < f.target.minRatio) return false;
  if (f.target.maxValue !== undefined && f.value > f.target.maxValue) return false;
  return true;
}

export function describeTarget(f: Figure): string {
  const t = f.target;
  if (!t) return '—';
  return [
    t.maxRatio !== undefined ? `ratio ≤ ${t.maxRatio}` : '',
    t.minRatio !== undefined ? `ratio ≥ ${t.minRatio}` : '',
    t.maxValue !== undefined ? `< ${t.maxValue} ${f.unit}` : '',
  ]
    .filter(Boolean)
    .join(', ');
}
