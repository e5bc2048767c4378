import { describe, expect, it } from 'vitest';
import { describeWatchScope, parseConfig, type ConfigSources } from '../../src/dispatcher/config.js';

const sources = (env: Record<string, string>, argv: string[] = []): ConfigSources => ({
  env,
  argv,
  hostname: 'host-1',
  serviceAccountNamespace: undefined,
});

describe('dispatcher configuration', () => {
  it('has the documented defaults', () => {
    const r = parseConfig(sources({}));
    expect(r).toEqual({
      ok: true,
      config: {
        watchNamespaces: [],
        operatorName: 'checkpoint-operator',
        logLevel: 'info',
        metricsPort: 8080,
        metricsBindAddress: '0.0.0.0',
        metricsSecurePort: undefined,
        metricsCertDir: undefined,
        healthProbePort: 8081,
        podName: 'host-1',
        operatorNamespace: 'checkpoint-operator-system',
        jobNamespace: 'checkpoint-operator-system',
        jobImage: undefined,
        pushgatewayUrl: undefined,
        s3DefaultCredentialsSecret: 'checkpoint-operator-s3-credentials',
        restoreDefaults: { imageRepository: undefined, pushSecret: undefined, insecureRegistry: false },
        kubeletAccess: 'direct',
        kubeletPort: 10250,
        kubeletCABundleSecret: undefined,
        kubeletInsecureSkipTLSVerify: false,
        finishedJobsKept: 10,
        maxCheckpointJobsPerNode: 4,
        localStorageRoots: ['/var/lib/checkpoint-operator'],
        kubeApiQps: 50,
        kubeApiBurst: 100,
        leaderElection: {
          enabled: false,
          leaseName: 'checkpoint-operator-leader',
          leaseDurationMs: 15_000,
          renewDeadlineMs: 10_000,
          retryPeriodMs: 2_000,
        },
      },
    });
  });

  it('reads the seed Deployment as written', () => {
    const r = parseConfig(
      sources({ WATCH_NAMESPACE: '', POD_NAME: 'checkpoint-operator-abc', OPERATOR_NAME: 'checkpoint-operator' }, [
        '--leader-elect',
      ]),
    );
    expect(r.ok && r.config.podName).toBe('checkpoint-operator-abc');
    expect(r.ok && r.config.leaderElection.enabled).toBe(true);
    expect(r.ok && r.config.watchNamespaces).toEqual([]);
  });

  it('reads the restore defaults and refuses a malformed repository', () => {
    const r = parseConfig(
      sources({
        RESTORE_IMAGE_REPOSITORY: 'registry.example.com:5000/checkpoints',
        RESTORE_PUSH_SECRET: 'push',
        RESTORE_INSECURE_REGISTRY: 'true',
      }),
    );
    expect(r.ok && r.config.restoreDefaults).toEqual({
      imageRepository: 'registry.example.com:5000/checkpoints',
      pushSecret: 'push',
      insecureRegistry: true,
      caBundleSecret: undefined,
    });
    const tls = parseConfig(
      sources({ RESTORE_IMAGE_REPOSITORY: 'registry.internal/checkpoints', RESTORE_CA_BUNDLE_SECRET: 'registry-ca' }),
    );
    expect(tls.ok && tls.config.restoreDefaults).toEqual({
      imageRepository: 'registry.internal/checkpoints',
      pushSecret: undefined,
      insecureRegistry: false,
      caBundleSecret: 'registry-ca',
    });
    // Plain HTTP and a CA to verify TLS with cannot both be meant.
    const both = parseConfig(sources({ RESTORE_INSECURE_REGISTRY: 'true', RESTORE_CA_BUNDLE_SECRET: 'registry-ca' }));
    expect(!both.ok && both.message).toContain(
      'RESTORE_INSECURE_REGISTRY=true (plain HTTP) contradicts RESTORE_CA_BUNDLE_SECRET',
    );
    const malformed = parseConfig(sources({ RESTORE_CA_BUNDLE_SECRET: 'Not/A/Secret' }));
    expect(!malformed.ok && malformed.message).toContain('RESTORE_CA_BUNDLE_SECRET must be a Secret name');
    const bad = parseConfig(
      sources({ RESTORE_IMAGE_REPOSITORY: 'https://registry/Upper Case', RESTORE_INSECURE_REGISTRY: 'yes' }),
    );
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toContain('RESTORE_IMAGE_REPOSITORY must be an image repository');
    expect(!bad.ok && bad.message).toContain('RESTORE_INSECURE_REGISTRY must be true or false');
  });

  it('reads how kubelets are verified, and refuses settings that contradict each other', () => {
    const byDefault = parseConfig(sources({}));
    expect(
      byDefault.ok && [byDefault.config.kubeletCABundleSecret, byDefault.config.kubeletInsecureSkipTLSVerify],
    ).toEqual([undefined, false]);
    const bundle = parseConfig(sources({ KUBELET_CA_BUNDLE_SECRET: 'kubelet-ca' }));
    expect(bundle.ok && bundle.config.kubeletCABundleSecret).toBe('kubelet-ca');
    const insecure = parseConfig(sources({ KUBELET_INSECURE_SKIP_TLS_VERIFY: 'true' }));
    expect(insecure.ok && insecure.config.kubeletInsecureSkipTLSVerify).toBe(true);
    const both = parseConfig(
      sources({ KUBELET_INSECURE_SKIP_TLS_VERIFY: 'true', KUBELET_CA_BUNDLE_SECRET: 'kubelet-ca' }),
    );
    expect(!both.ok && both.message).toContain(
      'KUBELET_INSECURE_SKIP_TLS_VERIFY=true (no verification) contradicts KUBELET_CA_BUNDLE_SECRET',
    );
    const proxied = parseConfig(sources({ KUBELET_ACCESS: 'proxy', KUBELET_CA_BUNDLE_SECRET: 'kubelet-ca' }));
    expect(!proxied.ok && proxied.message).toContain('apply only to KUBELET_ACCESS=direct');
    const malformed = parseConfig(
      sources({ KUBELET_CA_BUNDLE_SECRET: '../ca', KUBELET_INSECURE_SKIP_TLS_VERIFY: 'yes' }),
    );
    expect(!malformed.ok && malformed.message).toContain('KUBELET_CA_BUNDLE_SECRET must be a Secret name');
    expect(!malformed.ok && malformed.message).toContain('KUBELET_INSECURE_SKIP_TLS_VERIFY must be true or false');
  });

  it('reads how metrics are served, and refuses ports that collide or a certificate for no port', () => {
    const shipped = parseConfig(
      sources({
        METRICS_SECURE_PORT: '8443',
        METRICS_BIND_ADDRESS: '127.0.0.1',
        METRICS_CERT_DIR: '/etc/metrics-cert',
      }),
    );
    expect(
      shipped.ok && [
        shipped.config.metricsSecurePort,
        shipped.config.metricsBindAddress,
        shipped.config.metricsCertDir,
      ],
    ).toEqual([8443, '127.0.0.1', '/etc/metrics-cert']);
    const off = parseConfig(sources({ METRICS_SECURE_PORT: '0' }));
    expect(off.ok && off.config.metricsSecurePort).toBeUndefined();
    const collide = parseConfig(sources({ METRICS_SECURE_PORT: '8081' }));
    expect(!collide.ok && collide.message).toContain(
      'METRICS_SECURE_PORT (8081) must differ from METRICS_PORT and HEALTH_PROBE_PORT',
    );
    const orphanCert = parseConfig(sources({ METRICS_CERT_DIR: '/etc/metrics-cert' }));
    expect(!orphanCert.ok && orphanCert.message).toContain('METRICS_CERT_DIR is set but METRICS_SECURE_PORT is not');
    const bad = parseConfig(
      sources({ METRICS_SECURE_PORT: '70000', METRICS_BIND_ADDRESS: 'localhost', METRICS_CERT_DIR: 'certs/../x' }),
    );
    expect(!bad.ok && bad.message).toContain('METRICS_SECURE_PORT must be between 0 (off) and 65535');
    expect(!bad.ok && bad.message).toContain('METRICS_BIND_ADDRESS must be 0.0.0.0');
    expect(!bad.ok && bad.message).toContain('METRICS_CERT_DIR must be an absolute, normalised directory');
  });

  it('splits, trims and de-duplicates WATCH_NAMESPACE', () => {
    const r = parseConfig(sources({ WATCH_NAMESPACE: ' team-a, team-b,team-a,' }));
    expect(r.ok && r.config.watchNamespaces).toEqual(['team-a', 'team-b']);
    expect(r.ok && describeWatchScope(r.config)).toBe('watching Checkpoints in namespaces team-a, team-b');
  });

  it("takes the operator namespace from POD_NAMESPACE, else the ServiceAccount's", () => {
    expect(parseConfig({ ...sources({}), serviceAccountNamespace: 'ops' })).toMatchObject({
      ok: true,
      config: { operatorNamespace: 'ops', jobNamespace: 'ops' },
    });
    expect(
      parseConfig({ ...sources({ POD_NAMESPACE: 'x', JOB_NAMESPACE: 'jobs' }), serviceAccountNamespace: 'ops' }),
    ).toMatchObject({ ok: true, config: { operatorNamespace: 'x', jobNamespace: 'jobs' } });
  });

  it.each([
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of debug, info, warn, error'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT must be between 1 and 65535'],
    [{ HEALTH_PROBE_PORT: 'eighty' }, 'HEALTH_PROBE_PORT must be a port number'],
    [{ WATCH_NAMESPACE: 'Team A,ok' }, 'WATCH_NAMESPACE holds invalid namespace names: Team A'],
    [{ PUSHGATEWAY_URL: 'pushgateway:9091' }, 'PUSHGATEWAY_URL must be an http(s) URL'],
    [{ KUBELET_ACCESS: 'ssh' }, 'KUBELET_ACCESS must be direct or proxy'],
    [
      { LOCAL_STORAGE_ROOTS: '/data,relative/dir' },
      'LOCAL_STORAGE_ROOTS must list absolute, normalised directories (got: relative/dir)',
    ],
    [
      { LEADER_ELECTION_LEASE_DURATION: '5s' },
      'LEADER_ELECTION_RENEW_DEADLINE must be shorter than LEADER_ELECTION_LEASE_DURATION',
    ],
    [
      { LEADER_ELECTION_RETRY_PERIOD: 'soon' },
      "LEADER_ELECTION_RETRY_PERIOD must be a positive duration such as '15s' (got 'soon')",
    ],
    [
      { LEADER_ELECTION_LEASE_DURATION: '100000000h' },
      "LEADER_ELECTION_LEASE_DURATION must be at most 24h (got '100000000h')",
    ],
    [
      { WATCH_NAMESPACE: ',,' },
      "WATCH_NAMESPACE lists no namespace (got ',,'); leave it empty to watch all namespaces",
    ],
    [{ OPERATOR_NAME: 'Checkpoint Operator' }, 'OPERATOR_NAME must be a lower-case DNS label'],
    [{ JOB_IMAGE: ' ' }, 'JOB_IMAGE must be an image reference without spaces'],
  ])('rejects %j with one clear message', (env, message) => {
    const r = parseConfig(sources(env));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(message);
    expect(!r.ok && r.message.startsWith('invalid configuration: ')).toBe(true);
  });

  it.each([
    [{ KUBE_API_QPS: 'abc' }, 'KUBE_API_QPS: '],
    [{ KUBE_API_BURST: '2.5' }, 'KUBE_API_BURST: '],
    [{ OPERATOR_NAME: 'o'.repeat(64) }, 'OPERATOR_NAME: '],
    [{ RESTORE_PUSH_SECRET: 's'.repeat(254) }, 'RESTORE_PUSH_SECRET: '],
  ])('names the variable even where the check itself does not (%j)', (env, lead) => {
    const r = parseConfig(sources(env));
    expect(!r.ok && r.message).toContain(`invalid configuration: ${lead}`);
  });

  it('names every problem at once', () => {
    const r = parseConfig(sources({ LOG_LEVEL: 'loud', METRICS_PORT: '0' }, ['--verbose']));
    expect(!r.ok && r.message).toContain('unknown arguments: --verbose');
    expect(!r.ok && r.message).toContain('LOG_LEVEL');
    expect(!r.ok && r.message).toContain('METRICS_PORT');
  });
});
