import type { TestProject } from 'vitest/node';
import { provideCluster } from './support/provide-cluster.js';

/**
 * Starts one local cluster for the whole e2e run — control plane, CRDs, real nodes and the
 * operator installed from manifests/default — and stops it at the end.
 */
export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return provideCluster(project, { operator: true, nodes: 3, sparePodPorts: 6 });
}
