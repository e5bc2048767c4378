import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loopbackHost, type ServerHost } from './network/server-host.js';

export interface ManagedProcess {
  name: string;
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or signal) when the process ends, however it ends. */
  exited: Promise<number | string>;
  hasExited(): boolean;
  stop(graceMs?: number): Promise<void>;
  logTail(lines?: number): Promise<string>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** On any exit of this process, nothing it started may survive it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllSync);
}

export function killAllSync(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/**
 * Starts a program in its own process group (so its children die with it), logging to a file in
 * the cluster directory, and records its pid so a later run can reap it if we crash. On a host in
 * a network namespace, `ip netns exec` enters it and then execs the program, so the pid is the
 * program's.
 */
export function startProcess(
  dir: string,
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  host: ServerHost = loopbackHost,
): ManagedProcess {
  installExitHook();
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a', 0o600);
  const [program, ...argv] = host.command([command, ...args]);
  const child = spawn(program!, argv, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  if (!child.pid) throw new Error(`could not start ${name} (${command})`);
  live.add(child);
  recordPid(dir, child.pid, command);
  let exitedWith: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      exitedWith = code ?? signal ?? 'unknown';
      resolve(exitedWith);
    });
  });
  const pid = child.pid;
  return {
    name,
    pid,
    logPath,
    exited,
    hasExited: () => exitedWith !== undefined,
    async stop(graceMs = 5000) {
      if (exitedWith !== undefined) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
    async logTail(lines = 30) {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text.split('\n').slice(-lines).join('\n');
    },
  };
}

function recordPid(dir: string, pid: number, command: string): void {
  writeFileSync(join(dir, 'pids'), `${pid} ${command}\n`, { flag: 'a' });
}

/** Kills process groups a crashed earlier run left behind in dir (only if still the same program). */
export function reapStale(dir: string): void {
  const file = join(dir, 'pids');
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [pidText, command] = line.split(' ');
    const pid = Number(pidText);
    if (!pid || !command) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
      if (cmdline === command) process.kill(-pid, 'SIGKILL');
    } catch {
      // not running
    }
  }
  writeFileSync(file, '');
}
