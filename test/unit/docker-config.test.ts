import { describe, expect, it } from 'vitest';
import { credentialsForRegistry, DockerConfigError } from '../../src/oci/docker-config.js';
import { parseChallenge } from '../../src/oci/registry-auth.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('credentialsForRegistry', () => {
  const config = JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
      'registry.lan:5000': { username: 'lan', password: 's3cret' },
      'http://127.0.0.1:5000/v2/': { auth: b64('local:pw') },
      'quay.io': { auth: '' },
    },
  });

  it('decodes auth as user:password (the password may hold colons)', () => {
    expect(credentialsForRegistry(config, 'docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
  });

  it('takes username and password fields', () => {
    expect(credentialsForRegistry(config, 'registry.lan:5000')).toEqual({ username: 'lan', password: 's3cret' });
  });

  it('matches hosts written with a scheme, a path, another case, or another Docker Hub name', () => {
    expect(credentialsForRegistry(config, '127.0.0.1:5000')).toEqual({ username: 'local', password: 'pw' });
    expect(credentialsForRegistry(config, 'REGISTRY.LAN:5000')).toEqual({ username: 'lan', password: 's3cret' });
    expect(credentialsForRegistry(config, 'index.docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(credentialsForRegistry(config, 'registry-1.docker.io')?.username).toBe('hubuser');
  });

  it('has nothing for other hosts, other ports or empty entries', () => {
    expect(credentialsForRegistry(config, 'registry.lan')).toBeUndefined();
    expect(credentialsForRegistry(config, '127.0.0.1:5001')).toBeUndefined();
    expect(credentialsForRegistry(config, 'quay.io')).toBeUndefined();
    expect(credentialsForRegistry('{}', 'quay.io')).toBeUndefined();
  });

  it('reads the legacy .dockercfg layout', () => {
    expect(credentialsForRegistry(JSON.stringify({ 'quay.io': { auth: b64('q:w') } }), 'quay.io')).toEqual({
      username: 'q',
      password: 'w',
    });
  });

  it('refuses what is not JSON without quoting it', () => {
    expect(() => credentialsForRegistry('{"auths": {"x": {"auth": "c2VjcmV0"', 'x')).toThrow(DockerConfigError);
    expect(() => credentialsForRegistry('not json c2VjcmV0', 'x')).toThrow(/^(?!.*c2VjcmV0).*$/);
  });
});

describe('parseChallenge', () => {
  it('reads Bearer parameters, quoted or not', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example.com/token',
        service: 'registry.example.com',
        scope: 'repository:a/b:pull,push',
      },
    });
    expect(parseChallenge('Basic realm=local')).toEqual({ scheme: 'basic', params: { realm: 'local' } });
  });

  it('ignores other schemes and absent headers', () => {
    expect(parseChallenge('Negotiate abc')).toBeUndefined();
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});
