import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcClient } from './rpc.js';

/** The repository root (this file is bench/dist/lib/proc.js once built). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** What the kernel says about a process right now. */
export interface ProcSample {
  /** Resident set size. */
  rssBytes: number;
  /** Peak resident set size since start or the last {@link resetPeak}. */
  peakRssBytes: number;
  /** User + system CPU time. */
  cpuSeconds: number;
}

/** Reads `/proc/<pid>/status` (VmRSS, VmHWM) and `/proc/<pid>/stat` (utime + stime). */
export function readProc(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3, "state".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuSeconds: ticks / ticksPerSecond() };
}

/** Resets VmHWM to the current RSS (Linux `clear_refs` 5); false where that is not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface ProcessOptions {
  /** Environment on top of PATH and HOME (nothing else of the bench's own leaks in). */
  env?: Record<string, string>;
  /** Fork with an IPC channel (bench children); otherwise plain spawn (the apps). */
  ipc?: boolean;
  args?: string[];
  execArgv?: string[];
}

/** A Node process the bench started, with its output kept (the tail) and its /proc readings. */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly rpc: RpcClient | null;
  #tail = '';
  #lineWaiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  #partial = '';
  readonly exited: Promise<number | string>;

  constructor(
    readonly name: string,
    script: string,
    options: ProcessOptions = {},
  ) {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env };
    const file = path.resolve(ROOT, script);
    this.child = options.ipc
      ? fork(file, options.args ?? [], {
          env,
          execArgv: options.execArgv ?? [],
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        })
      : spawn(process.execPath, [...(options.execArgv ?? []), file, ...(options.args ?? [])], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
    this.rpc = options.ipc ? new RpcClient(this.child, name) : null;
    // Always drained: a full pipe would block the process being measured.
    this.child.stdout?.on('data', (d: Buffer) => this.#take(d));
    this.child.stderr?.on('data', (d: Buffer) => this.#take(d));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    });
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }

  /** The last few kilobytes it printed, for error messages. */
  output(): string {
    return this.#tail;
  }

  sample(): ProcSample {
    return readProc(this.pid);
  }

  resetPeak(): boolean {
    return resetPeak(this.pid);
  }

  call<T>(method: string, params: unknown = {}): Promise<T> {
    if (!this.rpc) throw new Error(`${this.name} has no IPC channel`);
    return this.rpc.call<T>(method, params);
  }

  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const printed = this.#tail.split('\n').find((line) => pattern.test(line));
    if (printed !== undefined) return Promise.resolve(printed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no line matching ${pattern} in ${timeoutMs} ms:\n${this.#tail}`));
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.#lineWaiters.push(waiter);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before printing ${pattern}:\n${this.#tail}`));
      });
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  #take(data: Buffer): void {
    const text = data.toString();
    this.#tail = (this.#tail + text).slice(-16_384);
    if (this.#lineWaiters.length === 0) {
      this.#partial = '';
      return;
    }
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      for (const waiter of [...this.#lineWaiters]) {
        if (waiter.pattern.test(line)) {
          this.#lineWaiters.splice(this.#lineWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  }
}

const live = new Set<NodeProcess>();

/** Kills every process the bench started that is still running (on exit or interrupt). */
export function killAll(): void {
  for (const proc of live) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  }
}
