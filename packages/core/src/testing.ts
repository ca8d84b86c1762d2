// Test helpers, imported as `@gtr/core/testing` (never from the `@gtr/core` entry point).

import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisEndpoint } from './config/parsers.js';
import type { JobPatch, JobRepository } from './jobs/repository.js';
import { JOB_STATES, type JobRecord, type JobState } from './jobs/types.js';
import { createRedis, primariesOf, type RedisClient } from './redis.js';

export { keyProblems, luaScriptProblems, parseHeader } from './lua-check.js';
export { writeVideoFile } from './video-file.js';

/** The Redis the tests use: REDIS_URL, else the local default. */
export const testRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix per test, as BullMQ's own suite does, and a way to wipe it afterwards. */
export function testPrefix(): string {
  return `test-${randomUUID()}`;
}

/** Deletes every key under `prefix:` (on every primary of a cluster; a `{tag}` prefix is matched literally). */
export async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  for (const node of primariesOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: in a cluster keys of several slots cannot share a command.
      for (const key of keys) await node.del(key);
    } while (cursor !== '0');
  }
}

export function testRedis(): Redis {
  return createRedis(testRedisUrl(), { role: 'worker' });
}

export interface RedisServerHandle {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM: with appendonly on, it keeps its data). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
}

/**
 * A throw-away `redis-server` on its own port (append-only file on), for tests that stop Redis
 * in the middle of a run. Needs `redis-server` on PATH (.ci/run installs it).
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const net = await import('node:net');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-redis-'));
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as { port: number };
      probe.close(() => resolve(p));
    });
  });
  let child: import('node:child_process').ChildProcess | null = null;
  const handle: RedisServerHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      if (child && child.exitCode === null) return;
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
        { stdio: 'ignore' },
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const up = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.write('PING\r\n');
          });
          s.once('data', (d) => {
            s.destroy();
            resolve(d.toString().includes('PONG'));
          });
          s.once('error', () => resolve(false));
        });
        if (up) return;
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGTERM');
      });
    },
  };
  await handle.start();
  return handle;
}

/** A free TCP port on loopback. */
export async function freeLoopbackPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** One `redis-server` process (a data node or a sentinel) that a test started. */
interface ServerProcess {
  port: number;
  child: ChildProcess;
}

/** A throw-away server's base arguments: loopback only, its own dir, no RDB snapshots. */
const serverArgs = (port: number, dir: string, appendonly: boolean): string[] => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--dir',
  dir,
  '--save',
  '',
  '--appendonly',
  appendonly ? 'yes' : 'no',
];

async function spawnRedisServer(port: number, args: string[]): Promise<ServerProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited (${child.exitCode})`);
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    const up = await probe
      .connect()
      .then(() => probe.ping())
      .then((r) => r === 'PONG')
      .catch(() => false);
    probe.disconnect();
    if (up) return { port, child };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function killServer(server: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Sends one command to a node on its own short-lived connection. */
export async function redisCommand(
  port: number,
  command: string,
  ...args: (string | number)[]
): Promise<unknown> {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    return await client.call(command, ...args.map(String));
  } finally {
    client.disconnect();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RedisClusterHandle {
  nodes: RedisEndpoint[];
  /** `REDIS_CLUSTER_NODES` for this cluster. */
  env: string;
  /** Kills every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * A throw-away Redis Cluster of `masters` primaries (no replicas) on free loopback ports, its
 * slots spread by `redis-cli --cluster create`. Needs `redis-server` and `redis-cli` on PATH.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-redis-cluster-'));
  const servers: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => killServer(server, 'SIGKILL')));
    await fs.rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freeLoopbackPort();
      const dir = path.join(root, String(port));
      await fs.mkdir(dir);
      servers.push(
        await spawnRedisServer(port, [
          ...serverArgs(port, dir, false),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await promisify(execFile)('redis-cli', [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    // Every node must see every slot served before a client can rely on the map.
    await until('the cluster to be ready', async () => {
      for (const server of servers) {
        const info = String(await redisCommand(server.port, 'CLUSTER', 'INFO'));
        if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${masters}`))
          return false;
      }
      return true;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const nodes = servers.map((server) => ({ host: '127.0.0.1', port: server.port }));
  return { nodes, env: nodes.map((n) => `${n.host}:${n.port}`).join(','), stop };
}

export interface RedisSentinelHandle {
  /** The master name the sentinels monitor. */
  name: string;
  sentinels: RedisEndpoint[];
  /** `REDIS_SENTINELS` for this set-up. */
  env: string;
  /** The port of the primary the sentinels name now. */
  primaryPort(): Promise<number>;
  /**
   * Kills the primary (SIGKILL) and waits until every sentinel names the replica as the new
   * primary and it accepts writes. Returns the new primary's port.
   */
  killPrimary(): Promise<number>;
  /** Kills every process and removes the directories. */
  stop(): Promise<void>;
}

/**
 * A throw-away Sentinel set-up on free loopback ports: one primary, one replica, three sentinels
 * (quorum 2, a primary counts as down after 1 s). Needs `redis-server` on PATH.
 */
export async function startRedisSentinel(name = 'gtr-test'): Promise<RedisSentinelHandle> {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-redis-sentinel-'));
  const data: ServerProcess[] = [];
  const sentinels: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...data].map((server) => killServer(server, 'SIGKILL')));
    await fs.rm(root, { recursive: true, force: true });
  };
  const dataNode = async (replicaOf: number | null) => {
    const port = await freeLoopbackPort();
    const dir = path.join(root, `data-${port}`);
    await fs.mkdir(dir);
    return spawnRedisServer(port, [
      ...serverArgs(port, dir, true),
      ...(replicaOf === null ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
    ]);
  };
  const addressOf = async (sentinel: number): Promise<number> => {
    const [, port] = (await redisCommand(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [
      string,
      string,
    ];
    return Number(port);
  };
  try {
    const primary = await dataNode(null);
    data.push(primary, await dataNode(primary.port));
    await until('the replica to sync', async () =>
      String(await redisCommand(data[1]!.port, 'INFO', 'replication')).includes('master_link_status:up'),
    );
    for (let i = 0; i < 3; i++) {
      const port = await freeLoopbackPort();
      const dir = path.join(root, `sentinel-${port}`);
      await fs.mkdir(dir);
      const conf = path.join(dir, 'sentinel.conf');
      await fs.writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(await spawnRedisServer(port, [conf, '--sentinel']));
    }
    // Each sentinel must know the replica and the two other sentinels before a failover can happen.
    await until('the sentinels to know each other and the replica', async () => {
      for (const sentinel of sentinels) {
        const replicas = (await redisCommand(sentinel.port, 'SENTINEL', 'REPLICAS', name)) as unknown[];
        const peers = (await redisCommand(sentinel.port, 'SENTINEL', 'SENTINELS', name)) as unknown[];
        if (replicas.length !== 1 || peers.length !== 2) return false;
      }
      return true;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const endpoints = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  return {
    name,
    sentinels: endpoints,
    env: endpoints.map((e) => `${e.host}:${e.port}`).join(','),
    primaryPort: () => addressOf(sentinels[0]!.port),
    async killPrimary() {
      const old = await addressOf(sentinels[0]!.port);
      const primary = data.find((server) => server.port === old);
      if (!primary) throw new Error(`no primary on port ${old}`);
      await killServer(primary, 'SIGKILL');
      const next = data.find((server) => server !== primary)!.port;
      await until(
        'the sentinels to promote the replica',
        async () => {
          for (const sentinel of sentinels) if ((await addressOf(sentinel.port)) !== next) return false;
          const role = (await redisCommand(next, 'ROLE')) as [string];
          return role[0] === 'master';
        },
        30_000,
      );
      return next;
    },
    stop,
  };
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const fs = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Polls until `check` returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Puts a job in any state with any fields, for test fixtures (production code moves jobs only
 * through JobLifecycle and its table of allowed moves). A final state still writes the callback
 * outbox entry, as a real move would.
 */
export async function setJobState(
  jobs: JobRepository,
  id: string,
  state: JobState,
  patch: JobPatch = {},
): Promise<JobRecord | null> {
  const moved = await jobs.transition(id, state, JOB_STATES, patch);
  return moved?.record ?? null;
}
