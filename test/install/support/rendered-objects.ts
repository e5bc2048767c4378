import { parseAllDocuments } from 'yaml';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
} & Record<string, unknown>;

/**
 * The labels only Helm adds (chart, release, manager, app version): manifests/ has no release to
 * name. Everything else, app.kubernetes.io/name and part-of included, the two installs share.
 */
export const HELM_ONLY_LABELS = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
];

/** Rendered YAML as objects keyed `Kind namespace/name`, so two renderings compare object by object. */
export function objectsByIdentity(yamlText: string): Record<string, KubeObject> {
  const out: Record<string, KubeObject> = {};
  for (const doc of parseAllDocuments(yamlText)) {
    const obj = doc.toJSON() as KubeObject | null;
    if (!obj) continue;
    const key = `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    if (key in out) throw new Error(`${key} is rendered twice`);
    out[key] = obj;
  }
  return out;
}

/** The object without Helm's own labels (and no empty labels map left behind). */
export function withoutHelmLabels(obj: KubeObject): KubeObject {
  const labels = Object.fromEntries(
    Object.entries(obj.metadata.labels ?? {}).filter(([k]) => !HELM_ONLY_LABELS.includes(k)),
  );
  const { labels: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata: Object.keys(labels).length > 0 ? { ...metadata, labels } : metadata };
}
