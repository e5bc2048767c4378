import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { type ControlPlane, startControlPlane } from './control-plane.js';
import { CLUSTER_IMAGES, pushClusterImages } from './images/cluster-images.js';
import { type S3Server, startMinio } from './minio.js';
import { type ClusterNetwork, createClusterNetwork } from './network/cluster-network.js';
import { type RealNodes, startRealNodes } from './node/real-nodes.js';
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.js';
import { type PushgatewayServer, startPushgateway } from './pushgateway.js';
import { type RegistryServer, startRegistry } from './registry.js';
import { installLocalPathStorage } from './storage/local-path-storage.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');

export interface LocalCluster {
  /** The namespaces, bridge and addresses the cluster lives on; network.host is where its servers listen. */
  network: ClusterNetwork;
  controlPlane: ControlPlane;
  /** Real nodes: kubelet, containerd, runc and CRIU (see node/real-nodes.ts for what each is). */
  nodes: RealNodes | undefined;
  /** The real S3 server (MinIO), reachable at the same endpoint from this machine and from pods. */
  s3: S3Server | undefined;
  /** The real Pushgateway the operator's Jobs push to (PUSHGATEWAY_URL). */
  pushgateway: PushgatewayServer | undefined;
  /**
   * The real OCI registry (anonymous, plain HTTP): nodes pull every image from it (see
   * images/cluster-images.ts), and restores push checkpoint images to it.
   */
  registry: RegistryServer | undefined;
  /** A real OTLP/HTTP trace receiver (Jaeger, in memory), at the same endpoint from this machine and from pods; query it with otlp.trace(). */
  otlp: OtlpReceiver | undefined;
  /** Ports of the cluster host (network.host) with nothing listening yet, for servers a test starts itself there. */
  sparePodPorts: number[];
  kubeconfigPath: string;
  /**
   * The operator build the cluster's image holds (manager.js, jobs/*.js), built into the
   * cluster's own directory: rebuilding dist/, or another cluster starting, never changes what
   * a running cluster executes.
   */
  imageDir: string;
  /** The operator image's manifest digest in the cluster's registry. */
  operatorImageDigest: string | undefined;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  dir?: string;
  /** Real nodes (default 2; 0 for a control plane alone). */
  nodes?: number;
  /** Install the CRDs from manifests/crd (default true; false leaves the cluster without any of the operator). */
  crds?: boolean;
  /** Install manifests/default and wait for the operator Deployment (needs nodes). */
  operator?: boolean;
  /** Start MinIO and give the operator its credentials as its default S3 Secret (default true with nodes). */
  s3?: boolean;
  /** How many spare ports of the cluster host to reserve (default 0). */
  sparePodPorts?: number;
  log?: (line: string) => void;
}

/** The operator's default S3 credentials Secret (S3_DEFAULT_CREDENTIALS_SECRET's default). */
export const DEFAULT_S3_SECRET = 'checkpoint-operator-s3-credentials';
export const OPERATOR_NAMESPACE = 'checkpoint-operator-system';

/**
 * The local cluster used by tests, benchmarks and `npm run local`, every part real: etcd and the
 * control plane, nodes running kubelet, containerd, runc and CRIU, kube-proxy, a dynamic
 * provisioner as the default StorageClass, MinIO, a registry, a Pushgateway and a trace receiver,
 * and the operator installed from manifests/default as users install it, from its image.
 */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const log = opts.log ?? (() => undefined);
  const network = await createClusterNetwork();
  const host = network.host;
  const controlPlane = await startControlPlane({ ...(opts.dir ? { dir: opts.dir } : {}), host }).catch(
    async (err: unknown) => {
      await network.destroy();
      throw err;
    },
  );
  let nodes: RealNodes | undefined;
  let s3: S3Server | undefined;
  let pushgateway: PushgatewayServer | undefined;
  let registry: RegistryServer | undefined;
  let otlp: OtlpReceiver | undefined;
  let operatorImageDigest: string | undefined;
  const sparePodPorts: number[] = [];
  const imageDir = join(controlPlane.dir, 'image');
  const stop = async () => {
    await nodes?.stop();
    await s3?.stop();
    await pushgateway?.stop();
    await registry?.stop();
    await otlp?.stop();
    await controlPlane.stop();
    await network.destroy();
  };
  try {
    log(`control plane up at ${controlPlane.server}`);
    if (opts.crds ?? true) {
      await controlPlane.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/crd')]);
      await controlPlane.kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd',
        '-l',
        'app.kubernetes.io/part-of=checkpoint-operator',
      ]);
      log('CRDs installed');
    }
    if ((opts.nodes ?? 2) > 0) {
      for (let i = 0; i < (opts.sparePodPorts ?? 0); i++) sparePodPorts.push(await host.freePort());
      registry = await startRegistry({ dir: controlPlane.dir, host });
      log(`OCI registry (distribution) at ${registry.host}`);
      await run(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js'), '--out-dir', imageDir], {
        cwd: root,
      });
      operatorImageDigest = (
        await pushClusterImages({
          registryHost: registry.host,
          binaries: controlPlane.binaries,
          distDir: imageDir,
          workDir: join(controlPlane.dir, 'image-build'),
        })
      ).operatorDigest;
      log(`images pushed: ${Object.values(CLUSTER_IMAGES).join(', ')} (operator ${operatorImageDigest})`);
      nodes = await startRealNodes(controlPlane, network, { count: opts.nodes ?? 2, registryHost: registry.host, log });
      await installLocalPathStorage(controlPlane);
      log('StorageClass local-path (rancher local-path-provisioner, WaitForFirstConsumer) is the default');
      if (opts.s3 ?? true) {
        s3 = await startMinio({ dir: controlPlane.dir, host });
        log(`S3 (MinIO) at ${s3.endpoint}`);
      }
      pushgateway = await startPushgateway(controlPlane.dir, host);
      log(`Pushgateway at ${pushgateway.url}`);
      otlp = await startOtlpReceiver({ dir: controlPlane.dir, host });
      log(`OTLP trace receiver (Jaeger) at ${otlp.endpoint}, query API at ${otlp.queryUrl}`);
    }
    if (opts.operator) {
      if (s3) {
        await controlPlane.kubectl(['create', 'namespace', OPERATOR_NAMESPACE], { allowFailure: true });
        await controlPlane.kubectl([
          'create',
          'secret',
          'generic',
          DEFAULT_S3_SECRET,
          '-n',
          OPERATOR_NAMESPACE,
          `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
          `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
        ]);
      }
      // The local servers' addresses go into the Deployment before it is created: changing them
      // afterwards would roll the pods.
      const local: Record<string, string> = {
        ...(pushgateway ? { PUSHGATEWAY_URL: pushgateway.url } : {}),
        // The registry speaks plain HTTP at an address that is not loopback, as test registries do.
        ...(registry
          ? { RESTORE_IMAGE_REPOSITORY: `${registry.host}/checkpoints`, RESTORE_INSECURE_REGISTRY: 'true' }
          : {}),
        ...(otlp ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint } : {}),
      };
      const rendered = parseAllDocuments(
        (await controlPlane.kubectl(['kustomize', join(root, 'manifests/default')])).stdout,
      );
      for (const doc of rendered) {
        if (doc.getIn(['kind']) !== 'Deployment') continue;
        const env = doc.getIn(['spec', 'template', 'spec', 'containers', 0, 'env']) as { items: unknown[] } | undefined;
        const entries = (env?.items ?? [])
          .map((e) => (e as { toJSON(): { name: string } }).toJSON())
          .filter((e) => !(e.name in local));
        doc.setIn(
          ['spec', 'template', 'spec', 'containers', 0, 'env'],
          [...entries, ...Object.entries(local).map(([name, value]) => ({ name, value }))],
        );
      }
      await controlPlane.kubectl(['apply', '--server-side', '-f', '-'], {
        input: rendered.map((d) => d.toString()).join('---\n'),
      });
      await controlPlane.kubectl([
        'rollout',
        'status',
        '-n',
        OPERATOR_NAMESPACE,
        'deployment/checkpoint-operator',
        '--timeout=180s',
      ]);
      log(`operator running from ${CLUSTER_IMAGES.operator}: deployment/checkpoint-operator in ${OPERATOR_NAMESPACE}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    network,
    controlPlane,
    nodes,
    s3,
    pushgateway,
    registry,
    otlp,
    sparePodPorts,
    kubeconfigPath: controlPlane.kubeconfigPath,
    imageDir,
    operatorImageDigest,
    stop,
  };
}
