import { describe, expect, it } from 'vitest';
import {
  checkpointImageTag,
  digestReference,
  isLoopbackHost,
  isValidTag,
  parseImageReference,
  parseRepository,
  registryBaseUrl,
} from '../../src/oci/image-reference.js';

const digest = `sha256:${'0f'.repeat(32)}`;

describe('parseRepository', () => {
  it.each([
    ['127.0.0.1:5000/checkpoints', { host: '127.0.0.1:5000', path: 'checkpoints' }],
    ['localhost/team/app', { host: 'localhost', path: 'team/app' }],
    ['quay.io/org/sub/app-name_x.y', { host: 'quay.io', path: 'org/sub/app-name_x.y' }],
    ['[::1]:5000/a', { host: '[::1]:5000', path: 'a' }],
    ['registry-1.example.com:443/a__b/c--d', { host: 'registry-1.example.com:443', path: 'a__b/c--d' }],
    ['team/app', { host: 'docker.io', path: 'team/app' }],
    ['busybox', { host: 'docker.io', path: 'library/busybox' }],
  ])('%s', (name, expected) => {
    expect(parseRepository(name)).toEqual(expected);
  });

  it.each([
    '',
    'quay.io/',
    'quay.io/Upper',
    'quay.io/a//b',
    'quay.io/-a',
    'quay.io/a-',
    'quay.io/a..b',
    'quay.io/a___b',
    'bad_host.io:5000/a',
    'host:99999/a',
    'host:0/a',
    `quay.io/${'a'.repeat(260)}`,
    'quay.io/a b',
  ])('refuses %j', (name) => {
    expect(() => parseRepository(name)).toThrow(/invalid repository name/);
  });
});

describe('parseImageReference', () => {
  it('reads tags, digests and both', () => {
    expect(parseImageReference('127.0.0.1:5000/ckpt:v1')).toEqual({ host: '127.0.0.1:5000', path: 'ckpt', tag: 'v1' });
    expect(parseImageReference(`127.0.0.1:5000/ckpt@${digest}`)).toEqual({
      host: '127.0.0.1:5000',
      path: 'ckpt',
      digest,
    });
    expect(parseImageReference(`quay.io/a/b:1.2@${digest}`)).toEqual({
      host: 'quay.io',
      path: 'a/b',
      tag: '1.2',
      digest,
    });
    expect(parseImageReference('localhost:5000/a')).toEqual({ host: 'localhost:5000', path: 'a' });
  });

  it.each([
    'quay.io/a:',
    'quay.io/a:-x',
    `quay.io/a:${'x'.repeat(129)}`,
    'quay.io/a@sha256:abc',
    `quay.io/a@sha512:${'0'.repeat(128)}`,
    `quay.io/a@sha256:${'0F'.repeat(32)}`,
    'quay.io/a:b:c',
  ])('refuses %j', (ref) => {
    expect(() => parseImageReference(ref)).toThrow(/invalid/);
  });

  it('writes digest references back', () => {
    expect(digestReference(parseImageReference('127.0.0.1:5000/ckpt:v1'), digest)).toBe(
      `127.0.0.1:5000/ckpt@${digest}`,
    );
  });
});

describe('registry scheme', () => {
  it('speaks HTTP to loopback registries and HTTPS to the rest unless told otherwise', () => {
    for (const host of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.8.9.10', '[::1]:5000']) {
      expect(isLoopbackHost(host), host).toBe(true);
      expect(registryBaseUrl(host)).toBe(`http://${host}`);
    }
    for (const host of [
      'quay.io',
      '10.0.0.1:5000',
      '128.0.0.1',
      '127.0.0.256',
      'localhost.example.com',
      '[::2]:5000',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
    expect(registryBaseUrl('quay.io')).toBe('https://quay.io');
    expect(registryBaseUrl('registry.lan:5000', { insecure: true })).toBe('http://registry.lan:5000');
    expect(registryBaseUrl('docker.io')).toBe('https://registry-1.docker.io');
  });

  it('speaks HTTPS to a registry it was given a CA for, loopback or not', () => {
    expect(registryBaseUrl('127.0.0.1:5000', { tls: true })).toBe('https://127.0.0.1:5000');
    expect(registryBaseUrl('localhost', { tls: true })).toBe('https://localhost');
    expect(registryBaseUrl('registry.lan', { tls: true })).toBe('https://registry.lan');
  });
});

describe('checkpointImageTag', () => {
  const uid = '3f2a9c1e-7b4d-4e5f-9a8b-0c1d2e3f4a5b';

  it('names namespace and Checkpoint and the start of its uid', () => {
    const tag = checkpointImageTag('team-a', 'my-app-checkpoint', uid);
    expect(tag).toBe('team-a_my-app-checkpoint-3f2a9c1e-7b4');
    expect(isValidTag(tag)).toBe(true);
  });

  it('stays a valid tag for the longest names, keeping the uid part', () => {
    const tag = checkpointImageTag('n'.repeat(63), `a.${'b'.repeat(250)}`, uid);
    expect(tag.length).toBeLessThanOrEqual(128);
    expect(isValidTag(tag)).toBe(true);
    expect(tag.endsWith('-3f2a9c1e-7b4')).toBe(true);
  });

  it('is deterministic and tells Checkpoints apart', () => {
    expect(checkpointImageTag('ns', 'c', uid)).toBe(checkpointImageTag('ns', 'c', uid));
    expect(checkpointImageTag('ns', 'c', uid)).not.toBe(checkpointImageTag('ns', 'c', `9${uid.slice(1)}`));
    expect(checkpointImageTag('a', 'b-c', uid)).not.toBe(checkpointImageTag('a-b', 'c', uid));
  });
});
