import { inject } from 'vitest';
import { namespacedHost, type ServerHost } from '../../cluster/network/server-host.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    clusterDir: string;
    /** The operator build the cluster runs (manager.js, jobs/*.js). */
    imageDir: string;
    s3: S3Access;
    /** The cluster host's address and network namespace: where every server of the cluster listens. */
    clusterHost: ClusterHostAddress;
    /** Ports of the cluster host with nothing listening, for servers a test starts there. */
    sparePodPorts: number[];
    pushgatewayUrl: string;
    /** `<cluster host>:<port>` of the cluster's OCI registry (anonymous, plain HTTP), the same from pods. */
    registryHost: string;
    /** http://<cluster host>:<port> of the cluster's OTLP/HTTP trace receiver (Jaeger), the same from pods. */
    otlpEndpoint: string;
    /** http://<cluster host>:<port> of that receiver's Jaeger query API (/api/traces/<id>). */
    otlpQueryUrl: string;
    /** Process (group) ids of the Pushgateway and the trace receiver, for tests that stall them (SIGSTOP/SIGCONT). */
    pushgatewayPid: number;
    otlpPid: number;
    /** The digest of the operator image the cluster's registry holds as registry.example.com/checkpoint-operator:v1.0.0. */
    operatorImageDigest: string;
  }
}

export interface ClusterHostAddress {
  ip: string;
  netns: string;
}

export interface S3Access {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ClusterContext {
  kubeconfig: string;
  kubectl: string;
  clusterDir: string;
  imageDir: string;
  s3: S3Access;
  clusterHost: ClusterHostAddress;
  sparePodPorts: number[];
  pushgatewayUrl: string;
  registryHost: string;
  otlpEndpoint: string;
  otlpQueryUrl: string;
  pushgatewayPid: number;
  otlpPid: number;
}

let own: ClusterContext | undefined;

/** For suites that start a cluster of their own in their worker (to break it): the helpers then use that one. */
export function useOwnCluster(context: ClusterContext): void {
  own = context;
}

/** What the global set-up started, for tests in other worker processes. */
export function clusterContext(): ClusterContext {
  if (own) return own;
  return {
    kubeconfig: inject('kubeconfig'),
    kubectl: inject('kubectl'),
    clusterDir: inject('clusterDir'),
    imageDir: inject('imageDir'),
    s3: inject('s3'),
    clusterHost: inject('clusterHost'),
    sparePodPorts: inject('sparePodPorts'),
    pushgatewayUrl: inject('pushgatewayUrl'),
    registryHost: inject('registryHost'),
    otlpEndpoint: inject('otlpEndpoint'),
    otlpQueryUrl: inject('otlpQueryUrl'),
    pushgatewayPid: inject('pushgatewayPid'),
    otlpPid: inject('otlpPid'),
  };
}

/** The cluster host, for starting a server where pods reach it (on one of sparePodPorts). */
export function clusterServerHost(): ServerHost {
  const { ip, netns } = clusterContext().clusterHost;
  return namespacedHost(netns, ip);
}
