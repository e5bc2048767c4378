/**
 * The import rules of src/, checked by `npm run lint:imports` (part of `npm test`). Each rule says
 * why it exists; docs/architecture.md draws the same picture.
 */
const RECONCILERS = '^src/dispatcher/(checkpoints|restores|policies)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and hides which module owns what.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'reconcilers-stay-apart',
      severity: 'error',
      comment:
        'A reconciler owns one resource. What two of them need (Job facts, storage plans, per-Job ' +
        'Secrets, registry plans) lives in src/dispatcher/shared/, so changing one never changes another.',
      from: { path: `${RECONCILERS}` },
      to: { path: RECONCILERS, pathNot: '^src/dispatcher/$1/' },
    },
    {
      name: 'actions-stay-apart',
      severity: 'error',
      comment:
        'Each action (checkpoint, restore, cleanup, sweep) holds its Job input, its Job builder and its ' +
        'program. What several share (storage input, registry Secret, the program frame) is in src/actions/shared/.',
      from: { path: '^src/actions/([^/]+)/', pathNot: '^src/actions/shared/' },
      to: { path: '^src/actions/', pathNot: ['^src/actions/$1/', '^src/actions/shared/'] },
    },
    {
      name: 'shared-actions-serve-all',
      severity: 'error',
      comment: 'src/actions/shared/ is what every action may use, so it depends on no single action.',
      from: { path: '^src/actions/shared/' },
      to: { path: '^src/actions/', pathNot: '^src/actions/shared/' },
    },
    {
      name: 'jobs-never-load-the-dispatcher',
      severity: 'error',
      comment:
        'A Job program is a short-lived process started per action: it must not load the dispatcher ' +
        '(its caches, leader election, reconcilers), which would also grow every Job bundle.',
      from: { path: '^src/actions/' },
      to: { path: '^src/dispatcher/' },
    },
    {
      name: 'plumbing-knows-no-domain',
      severity: 'error',
      comment:
        'src/kube (API client, informers, queues, leader election) and src/clock are Kubernetes and ' +
        'time plumbing: they know nothing of actions, reconcilers or status writers (they may log).',
      from: { path: '^src/(kube|clock)/' },
      to: { path: '^src/(actions|dispatcher|status|observability|storage|oci|kubelet|retention)/', pathNot: '^src/observability/logger\\.ts$' },
    },
    {
      name: 'libraries-know-no-callers',
      severity: 'error',
      comment:
        'Storage backends, the OCI registry client, the kubelet client and retention selection are ' +
        'libraries the actions use; they never reach back into actions or the dispatcher.',
      from: { path: '^src/(storage|oci|kubelet|retention|net)/' },
      to: { path: '^src/(actions|dispatcher|status)/' },
    },
    {
      name: 'api-is-the-bottom',
      severity: 'error',
      comment:
        'src/api is the resources\' types, schemas and constants: everything may import it, it imports ' +
        'nothing of the operator. The generators (generate-*.ts) are build scripts and may read what they document.',
      from: { path: '^src/api/', pathNot: '^src/api/generate-' },
      to: { path: '^src/(?!api/)' },
    },
    {
      name: 'src-never-imports-tests',
      severity: 'error',
      comment: 'The shipped code stands without the test harness.',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
