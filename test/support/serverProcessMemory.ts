import { readdirSync, readFileSync } from 'node:fs';

/**
 * What the kernel says about a server process that `startServerProcess` (./serverProcess.ts)
 * spawned: its pid, whether it still runs, and its resident memory. Read from /proc (Linux), so the
 * helper that starts the process stays as it is.
 */

/**
 * The pid of the server process started by this test process that listens at `url`: a direct child
 * whose environment sets the URL's PORT (the helper sets PORT for every process it starts).
 */
export function serverPid(url: string): number {
  const port = new URL(url).port;
  const children = readdirSync('/proc/self/task').flatMap((task) => readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  for (const pid of children) {
    const environment = readOrUndefined(`/proc/${pid}/environ`)?.split('\0');
    if (environment?.includes(`PORT=${port}`)) return pid;
  }
  throw new Error(`no child process of ${process.pid} has PORT=${port} (children: ${children.join(', ') || 'none'})`);
}

/** Whether the process still runs: it exists and is not a zombie (exited, not yet reaped). */
export function isRunning(pid: number): boolean {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  // The state follows the parenthesised command name, which may itself hold spaces or parentheses.
  const state = stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The process's resident set size (VmRSS) in bytes. Throws once it has exited. */
export function residentBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** The most the process's resident set has ever been (VmHWM, its high-water mark), in bytes. */
export function peakResidentBytes(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

// Private:

function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readOrUndefined(`/proc/${pid}/status`);
  const kib = status && new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (!kib) throw new Error(`process ${pid} has exited: no ${field} in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
