import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { type ControlPlane, startControlPlane } from './control-plane.js';

/**
 * `npx tsx test/cluster/smoke.ts`: starts the control plane, prints how long each part took,
 * checks that RBAC and the controllers really work, stops it, and checks nothing was left behind.
 * Exits non-zero on the first failed check.
 */

const run = promisify(execFile);
const t0 = performance.now();
const since = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;

function check(ok: boolean, what: string, detail = ''): void {
  if (!ok) throw new Error(`FAILED: ${what}${detail ? `\n${detail}` : ''}`);
  console.log(`ok   ${what}`);
}

// The children run in their own process groups, so Ctrl-C does not reach them; exiting through
// process.exit runs the supervisor's exit hook, which kills them.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

async function smoke(cp: ControlPlane): Promise<void> {
  const readyz = await cp.kubectl(['get', '--raw', '/readyz?verbose']);
  check(
    readyz.stdout.includes('[+]poststarthook/rbac/bootstrap-roles ok'),
    'readyz reports the RBAC bootstrap roles done',
    readyz.stdout,
  );
  check(
    (await cp.kubectl(['get', 'clusterrole', 'cluster-admin', '-o', 'name'])).stdout.trim() ===
      'clusterrole.rbac.authorization.k8s.io/cluster-admin',
    'clusterrole cluster-admin exists',
  );

  console.log(`\n$ kubectl get ns\n${(await cp.kubectl(['get', 'ns'])).stdout}`);
  const canI = await cp.kubectl(['auth', 'can-i', '--list']);
  console.log(`$ kubectl auth can-i --list   (admin, system:masters)\n${canI.stdout}`);
  check(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]/m.test(canI.stdout), 'admin may do everything');
  // Under AlwaysAllow this would say yes: a "no" is what shows RBAC is actually enforced.
  const sa = await cp.kubectl(['auth', 'can-i', 'create', 'pods', '--as', 'system:serviceaccount:default:default'], {
    allowFailure: true,
  });
  check(
    sa.code !== 0 && sa.stdout.trim() === 'no',
    'RBAC denies the default ServiceAccount creating pods',
    sa.stdout + sa.stderr,
  );

  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'smoke', namespace: 'default' },
    spec: {
      backoffLimit: 0,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } },
    },
  };
  const created = performance.now();
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(job) });
  type Pod = {
    metadata: { ownerReferences?: { kind: string; name: string }[] };
    spec: { volumes?: { name: string }[] };
    status: { phase?: string };
  };
  let pods: Pod[] = [];
  for (const deadline = Date.now() + 60_000; pods.length === 0 && Date.now() < deadline;) {
    pods = JSON.parse((await cp.kubectl(['get', 'pods', '-n', 'default', '-l', 'job-name=smoke', '-o', 'json'])).stdout)
      .items as Pod[];
    if (pods.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  check(
    pods.length === 1,
    `the Job controller created the Job's pod (${((performance.now() - created) / 1000).toFixed(1)}s after the Job)`,
  );
  const pod = pods[0]!;
  check(
    pod.metadata.ownerReferences?.some((o) => o.kind === 'Job' && o.name === 'smoke') ?? false,
    'the pod is owned by the Job (garbage collection will follow it)',
  );
  check(
    pod.spec.volumes?.some((v) => v.name.startsWith('kube-api-access-')) ?? false,
    'ServiceAccount admission gave the pod a projected token volume',
  );
  // No nodes exist, so nothing can run it.
  check(pod.status.phase === 'Pending', `the pod is Pending (no nodes), phase=${pod.status.phase}`);
}

let cp: ControlPlane | undefined;
let failed = false;
try {
  cp = await startControlPlane();
  console.log(`control plane up at ${cp.server} in ${since()} (${cp.dir})`);
  console.log(
    '  ready at (s since start):',
    Object.entries(cp.timings)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', '),
  );
  await smoke(cp);
} catch (err) {
  failed = true;
  console.error(err instanceof Error ? err.message : err);
} finally {
  const stopping = performance.now();
  await cp?.stop();
  if (cp) console.log(`stopped in ${((performance.now() - stopping) / 1000).toFixed(1)}s`);
}

if (cp) {
  // Every control-plane process has the cluster directory on its command line.
  const left = await run('pgrep', ['-af', cp.dir]).then(
    (r) => r.stdout.trim(),
    () => '',
  );
  if (left) {
    failed = true;
    console.error(`FAILED: processes left behind:\n${left}`);
  } else console.log('ok   no process of this run is left');
  const dirGone =
    process.env.KEEP_CLUSTER === '1' ||
    (await access(cp.dir).then(
      () => false,
      () => true,
    ));
  if (!dirGone) {
    failed = true;
    console.error(`FAILED: ${cp.dir} was not removed`);
  } else console.log('ok   cluster directory removed');
}
console.log(`${failed ? 'SMOKE FAILED' : 'smoke passed'} in ${since()}`);
process.exitCode = failed ? 1 : 0;
