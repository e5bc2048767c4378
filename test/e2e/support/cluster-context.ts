import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    clusterDir: string;
    s3: S3Access;
    sparePodPorts: number[];
    pushgatewayUrl: string;
    /** `127.0.0.1:<port>` of the cluster's OCI registry (anonymous), the same from pods. */
    registryHost: string;
    /** http://127.0.0.1:<port> of the cluster's OTLP/HTTP trace receiver (Jaeger), the same from pods. */
    otlpEndpoint: string;
    /** http://127.0.0.1:<port> of that receiver's Jaeger query API (/api/traces/<id>); from this machine only. */
    otlpQueryUrl: string;
    /** Process (group) ids of the Pushgateway and the trace receiver, for tests that stall them (SIGSTOP/SIGCONT). */
    pushgatewayPid: number;
    otlpPid: number;
  }
}

export interface S3Access {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** What the global set-up started, for tests in other worker processes. */
export function clusterContext(): { kubeconfig: string; kubectl: string; clusterDir: string; s3: S3Access; sparePodPorts: number[]; pushgatewayUrl: string; registryHost: string; otlpEndpoint: string; otlpQueryUrl: string; pushgatewayPid: number; otlpPid: number } {
  return {
    kubeconfig: inject('kubeconfig'), kubectl: inject('kubectl'), clusterDir: inject('clusterDir'),
    s3: inject('s3'), sparePodPorts: inject('sparePodPorts'), pushgatewayUrl: inject('pushgatewayUrl'),
    registryHost: inject('registryHost'), otlpEndpoint: inject('otlpEndpoint'), otlpQueryUrl: inject('otlpQueryUrl'),
    pushgatewayPid: inject('pushgatewayPid'), otlpPid: inject('otlpPid'),
  };
}
