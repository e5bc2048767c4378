import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup/memory';

/** Kubernetes quantities for memory: plain bytes, or with a binary or decimal suffix. */
export function parseMemoryQuantity(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) return undefined;
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.floor(Number(m[1]) * (m[2] ? units[m[2]]! : 1));
}

/**
 * A container's memory limit, enforced as the kubelet does: a memory cgroup (v1 here) with the
 * limit, so a process that outgrows it is OOM-killed, and its peak usage readable afterwards.
 */
export class MemoryCgroup {
  private constructor(readonly path: string) {}

  static async create(node: string, podUid: string, container: string, limitBytes: number): Promise<MemoryCgroup | undefined> {
    const path = join(ROOT, 'checkpoint-sim', node, podUid, container);
    try {
      await mkdir(path, { recursive: true });
      await writeFile(join(path, 'memory.limit_in_bytes'), String(limitBytes));
      // No swap: the limit is on memory, as with the kubelet's default.
      await writeFile(join(path, 'memory.memsw.limit_in_bytes'), String(limitBytes)).catch(() => undefined);
      return new MemoryCgroup(path);
    } catch {
      return undefined; // no writable memory controller: run without the limit
    }
  }

  /** Shell that moves the launching shell (and so the container's process) into the cgroup. */
  joinCommand(): string {
    return `echo $$ > '${join(this.path, 'cgroup.procs')}'`;
  }

  async oomKilled(): Promise<boolean> {
    const text = await readFile(join(this.path, 'memory.oom_control'), 'utf8').catch(() => '');
    return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0) > 0;
  }

  async remove(): Promise<void> {
    await rmdir(this.path).catch(() => undefined);
  }
}

/** Peak resident set size of a live process (VmHWM), in bytes. */
export async function peakRss(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status ? /VmHWM:\s+(\d+) kB/.exec(status)?.[1] : undefined;
  return kb ? Number(kb) * 1024 : undefined;
}
