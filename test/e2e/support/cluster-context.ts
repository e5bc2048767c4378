import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    clusterDir: string;
  }
}

/** What the global set-up started, for tests in other worker processes. */
export function clusterContext(): { kubeconfig: string; kubectl: string; clusterDir: string } {
  return { kubeconfig: inject('kubeconfig'), kubectl: inject('kubectl'), clusterDir: inject('clusterDir') };
}
