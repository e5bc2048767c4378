import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Pod, type V1Volume } from '@kubernetes/client-node';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/**
 * Materialises a pod's volumes on the node the way the kubelet does, and returns where each one
 * lives on this machine. hostPath is resolved inside the node's own root directory, so every
 * simulated node has a disk of its own; claims resolve to their bound PersistentVolume's path,
 * which is shared by all nodes (like network storage).
 */
export class VolumeManager {
  private readonly core: CoreV1Api;

  constructor(private readonly kc: KubeConfig, private readonly nodeRoot: string, private readonly admin: CoreV1Api) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async prepare(pod: V1Pod): Promise<Map<string, string>> {
    const podDir = join(this.nodeRoot, 'var/lib/kubelet/pods', pod.metadata!.uid!);
    const paths = new Map<string, string>();
    for (const volume of pod.spec?.volumes ?? []) {
      paths.set(volume.name, await this.materialise(pod, volume, join(podDir, 'volumes', volume.name)));
    }
    return paths;
  }

  private async materialise(pod: V1Pod, v: V1Volume, dir: string): Promise<string> {
    const ns = pod.metadata!.namespace!;
    if (v.hostPath) {
      const path = join(this.nodeRoot, v.hostPath.path);
      const type = v.hostPath.type ?? '';
      if (type === 'FileOrCreate') {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, '', { flag: 'a' });
      } else if (type !== 'File' && type !== 'Socket' && type !== 'CharDevice' && type !== 'BlockDevice') {
        await mkdir(path, { recursive: true, mode: 0o755 });
      }
      return path;
    }
    if (v.emptyDir) {
      await mkdir(dir, { recursive: true, mode: 0o777 });
      return dir;
    }
    if (v.persistentVolumeClaim) {
      return this.claimPath(ns, v.persistentVolumeClaim.claimName);
    }
    await mkdir(dir, { recursive: true, mode: 0o755 });
    if (v.secret) {
      const secret = await this.core.readNamespacedSecret({ name: v.secret.secretName!, namespace: ns });
      await writeKeys(dir, decode(secret.data), v.secret.items, v.secret.defaultMode ?? 0o644);
    } else if (v.configMap) {
      const cm = await this.core.readNamespacedConfigMap({ name: v.configMap.name!, namespace: ns });
      await writeKeys(dir, cm.data ?? {}, v.configMap.items, v.configMap.defaultMode ?? 0o644);
    } else if (v.downwardAPI) {
      for (const item of v.downwardAPI.items ?? []) {
        if (item.fieldRef) await writeOne(dir, item.path, fieldValue(pod, item.fieldRef.fieldPath), item.mode ?? v.downwardAPI.defaultMode ?? 0o644);
      }
    } else if (v.projected) {
      const mode = v.projected.defaultMode ?? 0o644;
      for (const source of v.projected.sources ?? []) {
        if (source.serviceAccountToken) {
          const tr = await this.core.createNamespacedServiceAccountToken({
            name: pod.spec!.serviceAccountName ?? 'default', namespace: ns,
            body: {
              spec: {
                audiences: source.serviceAccountToken.audience ? [source.serviceAccountToken.audience] : [],
                expirationSeconds: source.serviceAccountToken.expirationSeconds ?? 3607,
                boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
              },
            },
          });
          await writeOne(dir, source.serviceAccountToken.path, tr.status?.token ?? '', 0o600);
        } else if (source.configMap) {
          const cm = await this.core.readNamespacedConfigMap({ name: source.configMap.name!, namespace: ns });
          await writeKeys(dir, cm.data ?? {}, source.configMap.items, mode);
        } else if (source.secret) {
          const secret = await this.core.readNamespacedSecret({ name: source.secret.name!, namespace: ns });
          await writeKeys(dir, decode(secret.data), source.secret.items, mode);
        } else if (source.downwardAPI) {
          for (const item of source.downwardAPI.items ?? []) {
            if (item.fieldRef) await writeOne(dir, item.path, fieldValue(pod, item.fieldRef.fieldPath), item.mode ?? mode);
          }
        }
      }
    }
    return dir;
  }

  /** Waits for the claim to be bound (the PV controller binds it), then returns the volume's path. */
  private async claimPath(namespace: string, claimName: string): Promise<string> {
    for (let i = 0; i < 300; i++) {
      const pvc = await this.admin.readNamespacedPersistentVolumeClaim({ name: claimName, namespace }).catch(() => undefined);
      if (pvc?.status?.phase === 'Bound' && pvc.spec?.volumeName) {
        const pv = await this.admin.readPersistentVolume({ name: pvc.spec.volumeName });
        const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
        if (path) return path;
        throw new Error(`PersistentVolume ${pv.metadata?.name} has no hostPath or local path`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`claim ${namespace}/${claimName} was not bound within 60s`);
  }
}

function decode(data: Record<string, string> | undefined): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

async function writeKeys(dir: string, data: Record<string, string | Buffer>, items: { key: string; path: string; mode?: number }[] | undefined, mode: number): Promise<void> {
  const list: { key: string; path: string; mode?: number }[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of list) {
    const value = data[item.key];
    if (value !== undefined) await writeOne(dir, item.path, value, item.mode ?? mode);
  }
}

async function writeOne(dir: string, path: string, value: string | Buffer, mode: number): Promise<void> {
  const file = join(dir, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, value);
  await chmod(file, mode);
}

/** The downward API, for the fields pods of this project (and most pods) use. */
export function fieldValue(pod: V1Pod, fieldPath: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (pod.metadata?.[m[1] as 'labels' | 'annotations'] ?? {})[m[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP': return pod.status?.hostIP ?? '';
    case 'status.podIP': return pod.status?.podIP ?? '';
    default: return '';
  }
}
