import { describe, expect, it } from 'vitest';
import { UsageError } from '../../image/cli-args.js';
import { DEFAULT_BASE, parseImageOptions } from '../../image/image-options.js';
import { parseReleaseOptions } from '../../release/release-options.js';

describe('npm run image options', () => {
  it('builds for amd64 and arm64 on the official Node.js image unless told otherwise', () => {
    expect(parseImageOptions(['--push', 'registry.example.com/team/checkpoint-operator:v1.0.0'])).toEqual({
      push: 'registry.example.com/team/checkpoint-operator:v1.0.0',
      repository: 'registry.example.com/team/checkpoint-operator',
      tag: 'v1.0.0',
      base: DEFAULT_BASE,
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      insecureRegistries: [],
    });
  });

  it('reads a platform variant, several insecure registries, credentials and a CA file', () => {
    expect(
      parseImageOptions([
        '--push=127.0.0.1:5000/op:dev',
        '--platform',
        'linux/arm64/v8',
        '--insecure-registry',
        'a:5000',
        '--insecure-registry',
        'b:5000',
        '--docker-config',
        '/tmp/config.json',
        '--ca-file',
        '/tmp/ca.pem',
        '--base',
        'a:5000/node@sha256:' + 'b'.repeat(64),
      ]),
    ).toMatchObject({
      platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }],
      insecureRegistries: ['a:5000', 'b:5000'],
      dockerConfig: '/tmp/config.json',
      caFile: '/tmp/ca.pem',
    });
  });

  it('pushes a reference without a tag as latest, the way container tools do', () => {
    expect(parseImageOptions(['--push', 'quay.io/team/op'])).toMatchObject({ tag: 'latest' });
  });

  it('asks for help without other options', () => {
    expect(parseImageOptions(['--help'])).toBeUndefined();
  });

  it.each([
    [[], '--push <registry>/<repository>:<tag> is required'],
    [['--push', 'Reg/UPPER:x'], '--push: invalid'],
    [['--push', `r.io/op@sha256:${'c'.repeat(64)}`], 'give a tag'],
    [['--push', 'r.io/op:x', '--platform', 'arm64'], 'is not os/architecture'],
    [['--push', 'r.io/op:x', '--platform', ','], 'lists no platform'],
    [['--push', 'r.io/op:x', '--platform', 'linux/amd64,linux/amd64'], 'names a platform twice'],
    [['--push', 'r.io/op:x', '--base', 'bad base'], '--base: invalid'],
    [['--push', 'r.io/op:x', '--pussh'], "Unknown option '--pussh'"],
  ])('refuses %j with a usage error', (argv, message) => {
    expect(() => parseImageOptions(argv)).toThrow(UsageError);
    expect(() => parseImageOptions(argv)).toThrow(message);
  });
});

describe('npm run release options', () => {
  it('resolves a tag at the registry, and takes a digest as it is', () => {
    expect(parseReleaseOptions(['--image', 'r.io/op:v1'])).toMatchObject({ name: 'r.io/op:v1', tag: 'v1' });
    expect(parseReleaseOptions(['--image', `r.io/op:v1@sha256:${'d'.repeat(64)}`])).toMatchObject({
      name: 'r.io/op:v1',
      digest: `sha256:${'d'.repeat(64)}`,
      out: 'dist/install.yaml',
    });
  });

  it('refuses a missing or invalid image with a usage error', () => {
    expect(() => parseReleaseOptions([])).toThrow('--image <registry>/<repository>:<tag> is required');
    expect(() => parseReleaseOptions(['--image', 'no spaces'])).toThrow(UsageError);
  });
});
