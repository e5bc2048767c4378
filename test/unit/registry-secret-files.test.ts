import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRegistrySecretFiles } from '../../src/actions/shared/registry-secret-files.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('readRegistrySecretFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-secret-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads only what the input says the per-Job Secret holds', async () => {
    await writeFile(join(dir, '.dockerconfigjson'), '{"auths":{}}');
    await writeFile(join(dir, 'ca.crt'), PEM);
    expect(await readRegistrySecretFiles(dir, { credentials: false, caBundle: false })).toEqual({});
    expect(await readRegistrySecretFiles(dir, { credentials: true, caBundle: true })).toEqual({
      dockerConfig: Buffer.from('{"auths":{}}'),
      ca: Buffer.from(PEM),
    });
  });

  it('refuses a CA bundle without a PEM certificate as CABundleInvalid, before any connection', async () => {
    await writeFile(join(dir, 'ca.crt'), 'not a certificate');
    await expect(readRegistrySecretFiles(dir, { credentials: false, caBundle: true })).rejects.toMatchObject({
      reason: 'CABundleInvalid',
    });
  });

  it('fails on a file the input says is there but is not', async () => {
    await expect(readRegistrySecretFiles(dir, { credentials: true, caBundle: false })).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
