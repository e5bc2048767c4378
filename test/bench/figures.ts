export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baselineName: string;
  /** maxRatio: value/baseline must stay at or below; minRatio: at or above. */
  target: { maxRatio?: number; minRatio?: number } | undefined;
}

export function ratio(f: Figure): number {
  return f.value / f.baseline;
}

export function met(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  const r = ratio(f);
  if (f.target.maxRatio !== undefined && r > f.target.maxRatio) return false;
  if (f.target.minRatio !== undefined && r < f.target.minRatio) return false;
  return true;
}
