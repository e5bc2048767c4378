import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMarkedSection } from '../../src/api/marked-section.js';
import {
  renderRuntimeSupport,
  CHECKPOINT_NODE_LABEL,
  checkpointSupport,
  type NodeFacts,
  parseVersion,
  projectNode,
  RESTORE_NODE_LABEL,
  RUNTIME_SUPPORT,
  restoreSupport,
  runtimeRow,
} from '../../src/dispatcher/runtime-support.js';

const node = (
  containerRuntimeVersion: string | undefined,
  labels: Record<string, string> = {},
  kubeletVersion = 'v1.37.2',
): NodeFacts => ({ name: 'node-1', kubeletVersion, containerRuntimeVersion, labels });

describe('the runtime table, row by row: what each runtime version can do as installed', () => {
  it.each([
    // runtime as the kubelet reports it, checkpoint, restore
    ['containerd://1.7.22', 'RuntimeCannotCheckpoint', 'RuntimeCannotRestore'],
    ['containerd://1.6.36-0ubuntu1~22.04', 'RuntimeCannotCheckpoint', 'RuntimeCannotRestore'],
    ['containerd://2.0.0', 'ok', 'RuntimeCannotRestore'],
    ['containerd://2.0.5', 'ok', 'RuntimeCannotRestore'],
    ['containerd://v2.1.0', 'ok', 'ok'],
    ['containerd://2.1.4', 'ok', 'ok'],
    ['containerd://2.2.6', 'ok', 'ok'],
    ['containerd://2.2.7', 'ok', 'RuntimeCannotRestore'],
    ['containerd://2.3.0', 'ok', 'ok'],
    ['containerd://2.3.3', 'ok', 'ok'],
    ['containerd://2.3.4', 'ok', 'RuntimeCannotRestore'],
    ['containerd://2.3.7', 'ok', 'RuntimeCannotRestore'],
    ['containerd://2.4.0', 'ok', 'RuntimeCannotRestore'],
    ['containerd://2.4.2', 'ok', 'RuntimeCannotRestore'],
    ['cri-o://1.24.6', 'RuntimeCannotCheckpoint', 'RuntimeCannotRestore'],
    ['cri-o://1.25.0', 'ok', 'RuntimeCannotRestore'],
    ['cri-o://1.31.2', 'ok', 'RuntimeCannotRestore'],
    // Not in the table: a checkpoint is tried (the kubelet says why it fails), a restore is not.
    ['docker://24.0.7', 'ok', 'RuntimeCannotRestore'],
    ['containerd://unknown', 'ok', 'RuntimeCannotRestore'],
    [undefined, 'ok', 'RuntimeCannotRestore'],
  ] as const)('%s: checkpoint %s, restore %s', (runtime, checkpoint, restore) => {
    const c = checkpointSupport(node(runtime));
    const r = restoreSupport(node(runtime));
    expect(c.ok ? 'ok' : c.reason).toBe(checkpoint);
    expect(r.ok ? 'ok' : r.reason).toBe(restore);
  });

  it('has no gap and no overlap within a runtime: every version falls in exactly one row', () => {
    for (const runtime of ['containerd', 'cri-o'] as const) {
      const rows = RUNTIME_SUPPORT.filter((r) => r.runtime === runtime);
      expect(rows[0]!.from).toBeUndefined();
      expect(rows.at(-1)!.below).toBeUndefined();
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.from).toBe(rows[i - 1]!.below);
    }
    expect(runtimeRow('containerd://2.2.99')).toBe(RUNTIME_SUPPORT.find((r) => r.from === '2.2.7'));
  });
});

describe('refusals say what to change', () => {
  it('a setting the node does not report: names the setting and the label that confirms it', () => {
    const r = restoreSupport(node('containerd://2.3.7'));
    expect(r).toEqual({
      ok: false,
      reason: 'RuntimeCannotRestore',
      message: expect.stringContaining('enable_experimental_restore_via_create'),
    });
    expect(!r.ok && r.message).toContain(`label the node ${RESTORE_NODE_LABEL}=enabled`);
  });

  it('a runtime that cannot restore at all: says to restore on another node', () => {
    const r = restoreSupport(node('containerd://2.4.2'));
    expect(!r.ok && r.message).toMatch(
      /containerd 2\.4\.2, which cannot restore checkpoints \(containerd 2\.4 removed restore through CreateContainer\): restore the pod on a node whose runtime can/,
    );
  });

  it('a runtime that cannot checkpoint: names the version it came with', () => {
    const c = checkpointSupport(node('containerd://1.7.22'));
    expect(!c.ok && c.message).toContain(
      'node node-1 runs containerd 1.7.22, which cannot checkpoint containers (containerd 1.x has no CRI checkpoint; it came with containerd 2.0)',
    );
  });

  it('a kubelet before 1.25 has no checkpoint API, whatever the runtime or label', () => {
    for (const labels of [{}, { [CHECKPOINT_NODE_LABEL]: 'enabled' }] as Record<string, string>[]) {
      const c = checkpointSupport(node('containerd://2.3.7', labels, 'v1.24.17'));
      expect(c).toEqual({
        ok: false,
        reason: 'KubeletCannotCheckpoint',
        message: expect.stringContaining('kubelet v1.24.17, which has no checkpoint API'),
      });
    }
    expect(checkpointSupport(node('containerd://2.3.7', {}, 'v1.25.0')).ok).toBe(true);
    expect(checkpointSupport(node('containerd://2.3.7', {}, 'v1.30.0-eks-036c24b')).ok).toBe(true);
  });
});

describe('the node labels: the administrator has the last word', () => {
  it('restore=enabled confirms a setting the node does not report, and admits a runtime the table does not know', () => {
    for (const runtime of ['containerd://2.3.7', 'cri-o://1.31.2', 'docker://24.0.7']) {
      expect(restoreSupport(node(runtime, { [RESTORE_NODE_LABEL]: 'enabled' }))).toEqual({ ok: true });
    }
  });

  it('restore=disabled refuses even where the runtime can', () => {
    expect(restoreSupport(node('containerd://2.1.4', { [RESTORE_NODE_LABEL]: 'disabled' }))).toEqual({
      ok: false,
      reason: 'RestoreDisabledOnNode',
      message: `node node-1 is labelled ${RESTORE_NODE_LABEL}=disabled: its administrator does not allow restores there`,
    });
  });

  it('checkpoint=disabled refuses checkpoints; checkpoint=enabled admits a runtime the table refuses', () => {
    expect(checkpointSupport(node('containerd://2.3.7', { [CHECKPOINT_NODE_LABEL]: 'disabled' }))).toMatchObject({
      ok: false,
      reason: 'CheckpointDisabledOnNode',
    });
    expect(checkpointSupport(node('containerd://1.7.22', { [CHECKPOINT_NODE_LABEL]: 'enabled' }))).toEqual({
      ok: true,
    });
  });

  it('any other label value is no word at all: the table decides', () => {
    expect(restoreSupport(node('containerd://2.1.4', { [RESTORE_NODE_LABEL]: 'yes' }))).toEqual({ ok: true });
    expect(restoreSupport(node('containerd://2.3.7', { [RESTORE_NODE_LABEL]: 'true' }))).toMatchObject({
      ok: false,
      reason: 'RuntimeCannotRestore',
    });
  });
});

describe('versions and the cached node', () => {
  it('reads versions as kubelets and runtimes report them', () => {
    expect(parseVersion('v1.37.2')).toEqual([1, 37, 2]);
    expect(parseVersion('2.1.0-rc.1')).toEqual([2, 1, 0]);
    expect(parseVersion('1.30')).toEqual([1, 30, 0]);
    expect(parseVersion('unknown')).toBeUndefined();
  });

  it('keeps of a Node only its name, labels and versions', () => {
    const kept = projectNode({
      metadata: {
        name: 'n',
        resourceVersion: '7',
        labels: { a: 'b' },
        annotations: { big: 'x'.repeat(1000) },
        managedFields: [{}],
      },
      spec: { podCIDR: '10.0.0.0/24' },
      status: {
        nodeInfo: {
          kubeletVersion: 'v1.37.2',
          containerRuntimeVersion: 'containerd://2.3.7',
          osImage: 'Debian',
        } as never,
        images: [{ names: ['x'], sizeBytes: 1 }],
      },
    });
    expect(kept).toEqual({
      metadata: { name: 'n', resourceVersion: '7', labels: { a: 'b' } },
      status: { nodeInfo: { kubeletVersion: 'v1.37.2', containerRuntimeVersion: 'containerd://2.3.7' } },
    });
  });
});

describe('docs/restore.md runtime table', () => {
  it('is exactly what runtime-support.ts generates (run `npm run generate` after changing it)', async () => {
    const page = await readFile(join(import.meta.dirname, '../../docs/restore.md'), 'utf8');
    expect(
      readMarkedSection(page, 'runtime-support'),
      'docs/restore.md runtime table is stale: run `npm run generate`',
    ).toBe(renderRuntimeSupport());
  });
});
