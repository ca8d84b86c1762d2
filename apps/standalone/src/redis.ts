import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ensurePrivateDir } from '@gtr/core';

export interface EmbeddedRedis {
  url: string;
  /** How it was found: `configured` (REDIS_URL), `local` (127.0.0.1:6379), `embedded` (started here). */
  source: 'configured' | 'local' | 'embedded';
  stop(): Promise<void>;
}

export class NoRedisError extends Error {
  constructor() {
    super(
      [
        'No Redis: REDIS_URL is not set, nothing answers at 127.0.0.1:6379, and redis-server is not on PATH.',
        'Get one of:',
        '  Debian/Ubuntu: sudo apt-get install -y redis-server',
        '  macOS:         brew install redis',
        '  Docker:        docker run -d -p 6379:6379 redis:7 redis-server --appendonly yes',
        'or set REDIS_URL=redis://host:port.',
      ].join('\n'),
    );
    this.name = 'NoRedisError';
  }
}

/** Sends PING and waits for PONG (no client library needed, so it also probes before anything loads). */
export function pingRedis(url: string, timeoutMs = 1_000): Promise<boolean> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.hostname || '127.0.0.1', port: Number(target.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => {
      const password = decodeURIComponent(target.password);
      if (password) socket.write(`AUTH ${decodeURIComponent(target.username) || 'default'} ${password}\r\n`);
      socket.write('PING\r\n');
    });
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('+PONG')) done(true);
      else if (reply.startsWith('-')) done(false);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The Redis `pnpm start` uses: REDIS_URL when set; else 127.0.0.1:6379 if it answers; else a
 * `redis-server` from PATH, started here with its data (append-only file on) under `dataDir/redis`.
 */
export async function ensureRedis(
  configured: string | undefined,
  dataDir: string,
  localUrl = 'redis://127.0.0.1:6379',
  binary = 'redis-server',
): Promise<EmbeddedRedis> {
  if (configured) return { url: configured, source: 'configured', stop: async () => {} };
  if (await pingRedis(localUrl)) return { url: localUrl, source: 'local', stop: async () => {} };

  const dir = path.resolve(dataDir, 'redis');
  ensurePrivateDir(dir);
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = await new Promise<ChildProcess>((resolve, reject) => {
      const started = spawnPrivate(binary, [
        ...['--bind', '127.0.0.1', '--port', String(port), '--dir', dir],
        ...['--appendonly', 'yes', '--save', ''],
      ]);
      started.once('error', reject);
      started.once('spawn', () => resolve(started));
    });
  } catch {
    throw new NoRedisError();
  }
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(url, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new NoRedisError();
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    source: 'embedded',
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        // SIGTERM: redis-server flushes its append-only file and exits.
        child.kill('SIGTERM');
      }),
  };
}

/**
 * redis-server has no setting for its files' modes: it makes them 0666 & ~umask (its append-only
 * folder 0755 & ~umask). It inherits the umask at the fork, which happens inside spawn(), so a
 * umask of 077 for that synchronous call makes its files 0600 and folders 0700 whatever ours is.
 */
function spawnPrivate(binary: string, args: string[]): ChildProcess {
  const previous = process.umask(0o077);
  try {
    return spawn(binary, args, { stdio: 'ignore' });
  } finally {
    process.umask(previous);
  }
}
