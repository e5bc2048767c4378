import { describe, expect, it } from 'vitest';
import { kubeletFailure } from '../../src/kubelet/checkpoint-client.js';

describe('kubeletFailure: what a kubelet answer other than 200 means', () => {
  it.each([
    [401, 'Unauthorized', 'KubeletUnauthorized', true],
    [
      403,
      'Forbidden (user=system:serviceaccount:x:y, verb=create, resource=nodes, subresource=checkpoint)',
      'KubeletForbidden',
      false,
    ],
    [404, 'pod does not exist', 'KubeletNotFound', false],
    [404, 'container "nope" does not exist', 'KubeletNotFound', false],
    // No /checkpoint route: the ContainerCheckpoint feature gate is off on that kubelet.
    [404, '404 page not found', 'KubeletCheckpointDisabled', false],
    [404, '404: Page Not Found', 'KubeletCheckpointDisabled', false],
    [404, 'HTTP 404', 'KubeletCheckpointDisabled', false],
    [503, 'service unavailable', 'KubeletUnreachable', true],
    [
      500,
      'Authorization error (user=x, verb=create, resource=nodes, subresource=checkpoint)',
      'KubeletCheckpointFailed',
      true,
    ],
    // containerd with runc on a cgroup v1 node whose freezer did not settle: nothing was dumped.
    [
      500,
      'checkpointing of ns/pod/main failed (rpc error: code = Unknown desc = checkpointing container "a91b" failed: OCI runtime pause failed: unable to freeze)',
      'KubeletCheckpointFailed',
      true,
    ],
    // CRIU itself refused: asking again would fail the same way.
    [
      500,
      'checkpointing of ns/pod/main failed (rpc error: code = Unknown desc = criu failed: type NOTIFY errno 0)',
      'KubeletCheckpointFailed',
      false,
    ],
    [500, 'rpc error: code = DeadlineExceeded desc = context deadline exceeded', 'KubeletTimeout', false],
  ] as const)('HTTP %i %s → %s (retryable %s)', (status, detail, reason, retryable) => {
    const err = kubeletFailure(status, detail);
    expect({ reason: err.reason, retryable: err.retryable }).toEqual({ reason, retryable });
    expect(err.message).toContain(detail);
  });
});
