import { describe, expect, it } from 'vitest';
import { buildCheckpointJob } from '../../src/actions/checkpoint/job.js';
import type { CheckpointJobInput } from '../../src/actions/checkpoint/job-input.js';

const settings = {
  namespace: 'ops',
  image: 'registry.example.com/checkpoint-operator:v1',
  serviceAccountName: 'checkpoint-operator-job',
  logLevel: 'info' as const,
  pushgatewayUrl: undefined,
  passThroughEnv: {},
};
const input = (kubelet: Partial<CheckpointJobInput['kubelet']> = {}): CheckpointJobInput => ({
  checkpoint: { namespace: 'team-a', name: 'c', uid: 'uid-1' },
  target: { namespace: 'team-a', podName: 'web-0', containerName: 'app' },
  nodeName: 'node-a',
  kubelet: { access: 'direct', port: 10250, insecureSkipTLSVerify: false, ...kubelet },
  storage: { backend: 'local', nodeName: 'node-a', path: '/var/lib/checkpoint-operator/a' },
});

describe('the checkpoint Job and the kubelet CA bundle', () => {
  it('mounts only ca.crt of the named Secret, read-only, optional (a missing Secret ends in a reason, not a pod waiting for its volume)', () => {
    const spec = buildCheckpointJob(input({ caBundleSecret: 'kubelet-ca' }), settings).spec!.template.spec!;
    expect(spec.volumes).toContainEqual({
      name: 'kubelet-ca',
      secret: {
        secretName: 'kubelet-ca',
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
        optional: true,
        defaultMode: 0o400,
      },
    });
    expect(spec.containers[0]!.volumeMounts).toContainEqual({
      name: 'kubelet-ca',
      mountPath: '/etc/checkpoint-operator/kubelet-ca',
      readOnly: true,
    });
  });

  it('mounts nothing of the kind without a bundle, or through the API server', () => {
    for (const kubelet of [{}, { access: 'proxy' as const, caBundleSecret: 'kubelet-ca' }]) {
      const spec = buildCheckpointJob(input(kubelet), settings).spec!.template.spec!;
      expect(spec.volumes!.map((v) => v.name)).not.toContain('kubelet-ca');
    }
  });
});
