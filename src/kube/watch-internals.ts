import { type KubeConfig, Watch } from '@kubernetes/client-node';

/**
 * The two places the operator leans on client-node's Watch beyond its documented API, kept here
 * so an upgrade that changes them breaks one file and its test (test/unit/watch-internals.test.ts)
 * rather than the informers at run time.
 */

/**
 * A Watch whose request may stay quiet for `ms` before client-node aborts it. The default (30 s
 * of inactivity in client-node 1.x) ends watches on quiet resources long before the server's own
 * timeout, which would look like failures; client-node offers no option for it, only this field.
 */
export function watchWithTimeout(kc: KubeConfig, ms: number): Watch {
  const watch = new Watch(kc);
  const fields = watch as unknown as { requestTimeoutMs?: unknown };
  if (typeof fields.requestTimeoutMs !== 'number') {
    throw new Error('@kubernetes/client-node Watch has no numeric requestTimeoutMs: see src/kube/watch-internals.ts');
  }
  fields.requestTimeoutMs = ms;
  return watch;
}

/**
 * A KubeConfig for Watch that adds an Accept header to every request. Watch reads only the
 * current cluster and the authentication step of its KubeConfig, so a metadata-only watch
 * (PartialObjectMetadata) passes this stand-in, which sets the header in that step.
 */
export function withAcceptHeader(kc: KubeConfig, accept: string): KubeConfig {
  return {
    getCurrentCluster: () => kc.getCurrentCluster(),
    applySecurityAuthentication: async (ctx: { setHeaderParam(k: string, v: string): void }) => {
      await kc.applySecurityAuthentication(ctx as Parameters<KubeConfig['applySecurityAuthentication']>[0]);
      ctx.setHeaderParam('Accept', accept);
    },
  } as unknown as KubeConfig;
}
