import type { TestProject } from 'vitest/node';
import { provideCluster } from '../e2e/support/provide-cluster.js';

/**
 * A local cluster with nothing of the operator, not even its CRDs, for the install tests: they
 * install it as a user does (the release manifest, the Helm chart), use it, and remove it again.
 */
export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return provideCluster(project, { operator: false, nodes: 2, crds: false });
}
