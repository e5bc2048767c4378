import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../../..');

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run -s <script> -- <args>` in the project as a user would, and what it printed. */
export function npmScript(script: string, args: string[], env: Record<string, string> = {}): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', script, '--', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The last line a failed run printed on stderr (npm adds nothing with -s). */
export const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/**
 * The lines of a failed run's stderr that report the failure (`<script>: …`): exactly one, the
 * last, whatever progress came before it.
 */
export function failureLines(script: string, stderr: string): string[] {
  const lines = stderr.trim().split('\n');
  const failures = lines.filter((l) => l.startsWith(`${script}: `));
  return failures.length === 1 && lines.at(-1) === failures[0] ? failures : lines;
}
