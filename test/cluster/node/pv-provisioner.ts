import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, ListWatch, StorageV1Api, type V1PersistentVolumeClaim, type V1PersistentVolume, Watch } from '@kubernetes/client-node';

export const STORAGE_CLASS = 'checkpoint-sim-hostpath';
const PROVISIONER = 'checkpoint-sim.test/hostpath';

/**
 * A dynamic provisioner, since the local cluster has no storage driver: every claim of our
 * (default) StorageClass gets a hostPath PersistentVolume in a directory shared by all simulated
 * nodes, and the real PV controller binds them. Released volumes are deleted with their data.
 */
export class HostPathProvisioner {
  private readonly core: CoreV1Api;
  private readonly claims: ListWatch<V1PersistentVolumeClaim>;
  private readonly volumes: ListWatch<V1PersistentVolume>;

  constructor(private readonly kc: KubeConfig, private readonly root: string) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.claims = new ListWatch('/api/v1/persistentvolumeclaims', new Watch(kc), () => this.core.listPersistentVolumeClaimForAllNamespaces(), false);
    this.volumes = new ListWatch('/api/v1/persistentvolumes', new Watch(kc), () => this.core.listPersistentVolume(), false);
    this.claims.on('add', (c) => void this.provision(c));
    this.claims.on('update', (c) => void this.provision(c));
    this.volumes.on('update', (v) => void this.reclaim(v));
  }

  async start(): Promise<void> {
    await this.kc.makeApiClient(StorageV1Api).createStorageClass({
      body: {
        metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: PROVISIONER, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate',
      },
    }).catch(() => undefined);
    await Promise.all([this.claims.start(), this.volumes.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.claims.stop(), this.volumes.stop()]);
  }

  private async provision(claim: V1PersistentVolumeClaim): Promise<void> {
    const cls = claim.spec?.storageClassName;
    if ((cls && cls !== STORAGE_CLASS) || claim.spec?.volumeName || claim.status?.phase === 'Bound') return;
    const uid = claim.metadata!.uid!;
    const path = join(this.root, uid);
    await mkdir(path, { recursive: true, mode: 0o700 });
    await this.core.createPersistentVolume({
      body: {
        metadata: { name: `pv-${uid}`, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
        spec: {
          capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
          accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: STORAGE_CLASS,
          volumeMode: 'Filesystem',
          hostPath: { path, type: 'Directory' },
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata!.namespace!, name: claim.metadata!.name!, uid },
        },
      },
    }).catch(() => undefined);
  }

  private async reclaim(volume: V1PersistentVolume): Promise<void> {
    if (volume.status?.phase !== 'Released' || volume.metadata?.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) return;
    if (volume.spec?.hostPath?.path?.startsWith(this.root)) await rm(volume.spec.hostPath.path, { recursive: true, force: true });
    await this.core.deletePersistentVolume({ name: volume.metadata!.name! }).catch(() => undefined);
  }
}
