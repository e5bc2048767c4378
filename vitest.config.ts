import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // One local cluster, started once, shared by every e2e file.
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          // Breaks a cluster of its own (leader, API server, etcd, MinIO, kubelet, Job pods), started by the suite.
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'install',
          // Installs the operator as users do (dist/install.yaml, the Helm chart) into a cluster of
          // its own that starts without it, uses it, uninstalls it and checks nothing is left.
          include: ['test/install/**/*.test.ts'],
          globalSetup: ['test/install/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
