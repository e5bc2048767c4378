import { clusterContext, clusterServerHost } from './cluster-context.js';
import { adminS3, createBucket } from './s3.js';
import { TcpGate } from './tcp-gate.js';

/** The spare port of the cluster host the stalled storage listens on (one at a time: e2e files run in turn). */
export const STALLED_STORAGE_PORT_INDEX = 5;
const BUCKET = 'stalled';

export interface StalledStorage {
  /** spec.storage for a Checkpoint, as an object and as YAML (indented for `spec:`). */
  storage: { backend: 's3'; s3: { endpoint: string; bucket: string; forcePathStyle: boolean } };
  yaml: string;
  /** Connections held now: a Job holds one once its archive is taken and its upload began. */
  heldConnections(): number;
  /** Lets held and later connections through: uploads go on to the cluster's MinIO. */
  release(): void;
  close(): Promise<void>;
}

/**
 * S3 storage that accepts connections and answers nothing until released (a gate in front of
 * the cluster's MinIO): a checkpoint Job that stores there has its real archive from the kubelet
 * and then waits on the upload, so its Checkpoint stays Running for as long as a test needs.
 * The Job uses the operator's default S3 credentials.
 */
export async function stalledStorage(): Promise<StalledStorage> {
  const { s3, sparePodPorts } = clusterContext();
  const admin = adminS3(s3);
  await createBucket(admin, BUCKET).catch(() => undefined);
  admin.destroy();
  const target = new URL(s3.endpoint);
  const port = sparePodPorts[STALLED_STORAGE_PORT_INDEX]!;
  const gate = await TcpGate.start({ host: target.hostname, port: Number(target.port) }, port, clusterServerHost());
  const endpoint = `http://${clusterServerHost().ip}:${port}`;
  return {
    storage: { backend: 's3', s3: { endpoint, bucket: BUCKET, forcePathStyle: true } },
    yaml: `  storage:\n    backend: s3\n    s3:\n      endpoint: ${endpoint}\n      bucket: ${BUCKET}\n      forcePathStyle: true\n`,
    heldConnections: () => gate.heldConnections,
    release: () => gate.release(),
    close: () => gate.close(),
  };
}
