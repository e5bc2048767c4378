import type { V1Node } from '@kubernetes/client-node';
import { API_GROUP } from '../api/constants.js';

/**
 * What a node says of itself (status.nodeInfo) and what its administrator says (labels): the
 * facts a checkpoint or restore is checked against before anything is changed.
 */
export interface NodeFacts {
  name: string;
  /** As the kubelet reports it: `v1.37.2`. */
  kubeletVersion: string | undefined;
  /** As the kubelet reports it: `containerd://2.3.7`, `cri-o://1.31.2`. */
  containerRuntimeVersion: string | undefined;
  labels: Record<string, string>;
}

/** Nodes as the dispatcher's cache holds them: null for a node it does not have. */
export interface NodeLister {
  node(name: string): NodeFacts | null;
}

/**
 * Node labels an administrator sets where the table below cannot know: `enabled` says the
 * runtime on this node can do it (a setting the node does not report, or a build the table does
 * not list), `disabled` forbids it on this node whatever the runtime.
 */
export const CHECKPOINT_NODE_LABEL = `${API_GROUP}/checkpoint`;
export const RESTORE_NODE_LABEL = `${API_GROUP}/restore`;

/**
 * yes: works as installed. no: cannot. whenEnabled: only with a runtime setting the node does
 * not report, so it takes the node label to say it is on.
 */
export type Capability = 'yes' | 'no' | 'whenEnabled';

export interface RuntimeSupportRow {
  runtime: 'containerd' | 'cri-o';
  /** Versions from (inclusive) and below (exclusive); open at either end when absent. */
  from?: string;
  below?: string;
  checkpoint: Capability;
  restore: Capability;
  /** Why, in words a user can act on; quoted in refusals. */
  note: string;
}

/**
 * The runtimes and versions this operator knows, one row per range. A checkpoint is refused
 * only where it is known to be impossible (trying elsewhere is harmless: the kubelet says why it
 * failed); a restore changes a running workload, so it goes ahead only where it is known to work
 * or the node is labelled for it.
 */
export const RUNTIME_SUPPORT: readonly RuntimeSupportRow[] = [
  {
    runtime: 'containerd',
    below: '2.0.0',
    checkpoint: 'no',
    restore: 'no',
    note: 'containerd 1.x has no CRI checkpoint; it came with containerd 2.0',
  },
  {
    runtime: 'containerd',
    from: '2.0.0',
    below: '2.1.0',
    checkpoint: 'yes',
    restore: 'no',
    note: 'containerd 2.0 checkpoints but cannot restore; restore through CreateContainer came with 2.1',
  },
  {
    runtime: 'containerd',
    from: '2.1.0',
    below: '2.2.7',
    checkpoint: 'yes',
    restore: 'yes',
    note: 'restores checkpoint images through CreateContainer',
  },
  {
    runtime: 'containerd',
    from: '2.2.7',
    below: '2.3.0',
    checkpoint: 'yes',
    restore: 'whenEnabled',
    note: 'restores checkpoint images only with enable_experimental_restore_via_create = true in its CRI runtime settings',
  },
  {
    runtime: 'containerd',
    from: '2.3.0',
    below: '2.3.4',
    checkpoint: 'yes',
    restore: 'yes',
    note: 'restores checkpoint images through CreateContainer',
  },
  {
    runtime: 'containerd',
    from: '2.3.4',
    below: '2.4.0',
    checkpoint: 'yes',
    restore: 'whenEnabled',
    note: 'restores checkpoint images only with enable_experimental_restore_via_create = true in its CRI runtime settings',
  },
  {
    runtime: 'containerd',
    from: '2.4.0',
    checkpoint: 'yes',
    restore: 'no',
    note: 'containerd 2.4 removed restore through CreateContainer',
  },
  { runtime: 'cri-o', below: '1.25.0', checkpoint: 'no', restore: 'no', note: 'CRI-O checkpoints from 1.25' },
  {
    runtime: 'cri-o',
    from: '1.25.0',
    checkpoint: 'yes',
    restore: 'whenEnabled',
    note: 'CRI-O restores checkpoint images only when restore is enabled in its settings (checkpoint-only is the default where [crio.checkpoint_restore] exists)',
  },
];

/** Kubelets before this have no checkpoint API. */
export const KUBELET_CHECKPOINT_SINCE = '1.25.0';

export type Support = { ok: true } | { ok: false; reason: string; message: string };

type Version = [number, number, number];

/** `v1.37.2`, `2.3.7`, `1.30.4-eks-a1b2`, `2.1.0-rc.1` → [major, minor, patch]; undefined when unreadable. */
export function parseVersion(text: string | undefined): Version | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text?.trim() ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** `containerd://2.3.7` → { name: 'containerd', version: '2.3.7' }. */
export function parseRuntime(text: string | undefined): { name: string; version: string } | undefined {
  const m = /^([a-z0-9.-]+):\/\/(.+)$/i.exec(text?.trim() ?? '');
  return m ? { name: m[1]!.toLowerCase(), version: m[2]! } : undefined;
}

/** The table's row for a node's runtime, or undefined for a runtime or version it does not list. */
export function runtimeRow(containerRuntimeVersion: string | undefined): RuntimeSupportRow | undefined {
  const runtime = parseRuntime(containerRuntimeVersion);
  const version = parseVersion(runtime?.version);
  if (!runtime || !version) return undefined;
  return RUNTIME_SUPPORT.find(
    (row) =>
      row.runtime === runtime.name &&
      (row.from === undefined || compare(version, parseVersion(row.from)!) >= 0) &&
      (row.below === undefined || compare(version, parseVersion(row.below)!) < 0),
  );
}

function describeRuntime(node: NodeFacts): string {
  const runtime = parseRuntime(node.containerRuntimeVersion);
  return runtime
    ? `${runtime.name} ${runtime.version}`
    : `a runtime it reports as ${JSON.stringify(node.containerRuntimeVersion ?? '')}`;
}

/** May a container on this node be checkpointed? */
export function checkpointSupport(node: NodeFacts): Support {
  const label = node.labels[CHECKPOINT_NODE_LABEL];
  if (label === 'disabled') {
    return {
      ok: false,
      reason: 'CheckpointDisabledOnNode',
      message: `node ${node.name} is labelled ${CHECKPOINT_NODE_LABEL}=disabled: its administrator does not allow checkpoints there`,
    };
  }
  const kubelet = parseVersion(node.kubeletVersion);
  if (kubelet && compare(kubelet, parseVersion(KUBELET_CHECKPOINT_SINCE)!) < 0) {
    return {
      ok: false,
      reason: 'KubeletCannotCheckpoint',
      message: `node ${node.name} runs kubelet ${node.kubeletVersion}, which has no checkpoint API (it came with 1.25): upgrade the node`,
    };
  }
  if (label === 'enabled') return { ok: true };
  const row = runtimeRow(node.containerRuntimeVersion);
  if (row?.checkpoint === 'no') {
    return {
      ok: false,
      reason: 'RuntimeCannotCheckpoint',
      message: `node ${node.name} runs ${describeRuntime(node)}, which cannot checkpoint containers (${row.note}): upgrade its runtime, or label the node ${CHECKPOINT_NODE_LABEL}=enabled if it can`,
    };
  }
  return { ok: true };
}

/** May a container on this node be restored from a checkpoint image? Asked before the pod is touched. */
export function restoreSupport(node: NodeFacts): Support {
  const label = node.labels[RESTORE_NODE_LABEL];
  if (label === 'disabled') {
    return {
      ok: false,
      reason: 'RestoreDisabledOnNode',
      message: `node ${node.name} is labelled ${RESTORE_NODE_LABEL}=disabled: its administrator does not allow restores there`,
    };
  }
  if (label === 'enabled') return { ok: true };
  const row = runtimeRow(node.containerRuntimeVersion);
  if (row?.restore === 'yes') return { ok: true };
  const runtime = describeRuntime(node);
  const message =
    row === undefined
      ? `node ${node.name} runs ${runtime}, which this operator does not know to restore checkpoints: if it does, label the node ${RESTORE_NODE_LABEL}=enabled`
      : row.restore === 'whenEnabled'
        ? `node ${node.name} runs ${runtime}, which ${row.note.replace(/^(containerd|CRI-O) /, '')}: once that is set, label the node ${RESTORE_NODE_LABEL}=enabled`
        : `node ${node.name} runs ${runtime}, which cannot restore checkpoints (${row.note}): restore the pod on a node whose runtime can`;
  return { ok: false, reason: 'RuntimeCannotRestore', message };
}

/** The parts of a Node the dispatcher keeps (its cache holds nothing else). */
export function projectNode(node: V1Node): V1Node {
  return {
    metadata: {
      name: node.metadata?.name,
      resourceVersion: node.metadata?.resourceVersion,
      ...(node.metadata?.labels ? { labels: node.metadata.labels } : {}),
    },
    status: {
      nodeInfo: {
        kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
        containerRuntimeVersion: node.status?.nodeInfo?.containerRuntimeVersion ?? '',
      } as NonNullable<V1Node['status']>['nodeInfo'],
    },
  };
}

export function nodeFacts(node: V1Node): NodeFacts {
  return {
    name: node.metadata?.name ?? '',
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion || undefined,
    containerRuntimeVersion: node.status?.nodeInfo?.containerRuntimeVersion || undefined,
    labels: node.metadata?.labels ?? {},
  };
}

const CAPABILITY_WORDS: Record<Capability, string> = {
  yes: 'yes',
  no: 'no',
  whenEnabled: `with the setting on, and the node labelled \`${RESTORE_NODE_LABEL}=enabled\``,
};

function versionRange(row: RuntimeSupportRow): string {
  if (row.from && row.below) return `${row.from} to before ${row.below}`;
  if (row.from) return `${row.from} and later`;
  return `before ${row.below}`;
}

/** The table above as docs/restore.md shows it (generated by `npm run generate`, checked by a test). */
export function renderRuntimeSupport(): string {
  const rows = RUNTIME_SUPPORT.map(
    (r) =>
      `| ${r.runtime} | ${versionRange(r)} | ${CAPABILITY_WORDS[r.checkpoint]} | ${CAPABILITY_WORDS[r.restore]} | ${r.note.replace(/\|/g, '\\|')} |`,
  );
  return [
    '| runtime | versions | checkpoint | restore | why |',
    '|---|---|---|---|---|',
    ...rows,
    `| any other | | tried (the kubelet answers) | only on a node labelled \`${RESTORE_NODE_LABEL}=enabled\` | not known to this operator |`,
    `| kubelet | before ${KUBELET_CHECKPOINT_SINCE} | no | | no checkpoint API |`,
  ].join('\n');
}
