import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedis, JobRepository } from '@gtr/core';
import { deleteKeys, testPrefix } from '@gtr/core/testing';
import type { Emulator } from '@gtr/gcore-emulator';
import type { Redis } from 'ioredis';
import { freePort } from './cluster.js';
import { type AppProcess, runApp } from './processes.js';

export interface FleetOptions {
  emulator: Emulator;
  dataDir: string;
  redisUrl: string;
  relays: number;
  workers: number;
  relayEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
}

export interface FleetRelay extends AppProcess {
  url: string;
  name: string;
}

/**
 * Several `pnpm start:relay` and `pnpm start:worker` processes on one Redis prefix and one data
 * dir, as a scaled-out deployment runs them. All relays are started at once.
 */
export interface Fleet {
  prefix: string;
  token: string;
  redis: Redis;
  jobs: JobRepository;
  relays: FleetRelay[];
  workers: AppProcess[];
  /** One more relay on the same Redis and dir (not started with the others). */
  startRelay(name: string, env?: Record<string, string>): Promise<FleetRelay>;
  output(): string;
  close(): Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const prefix = testPrefix();
  const token = `fleet-${prefix}`;
  const common = {
    DATA_DIR: options.dataDir,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'info',
  };
  const extra: FleetRelay[] = [];
  const startRelay = async (name: string, env: Record<string, string> = {}): Promise<FleetRelay> => {
    const port = await freePort();
    const app = runApp('apps/relay/dist/main.js', {
      ...common,
      PORT: String(port),
      HOST: '127.0.0.1',
      RELAY_API_TOKENS: token,
      GCORE_API_URL: options.emulator.url,
      ...options.relayEnv,
      ...env,
    });
    await app.waitForLine(/"msg":"relay listening"/, 30_000);
    return { ...app, url: `http://127.0.0.1:${port}`, name };
  };
  const relays = await Promise.all(
    Array.from({ length: options.relays }, (_, i) => startRelay(`relay-${i + 1}`)),
  );
  const workers = await Promise.all(
    Array.from({ length: options.workers }, async () => {
      const worker = runApp('apps/worker/dist/main.js', {
        ...common,
        GCORE_API_URL: options.emulator.url,
        GCORE_API_KEY: options.emulator.apiKey,
        // The emulator's upload server is plain http on loopback.
        GCORE_ALLOW_INSECURE_UPLOAD: 'true',
        WORKER_LOCK_DURATION: '3s',
        WORKER_METRICS_PORT: '0',
        ...options.workerEnv,
      });
      await worker.waitForLine(/"msg":"worker started"/, 30_000);
      return worker;
    }),
  );
  const redis = createRedis(options.redisUrl, { role: 'worker' });
  return {
    prefix,
    token,
    redis,
    jobs: new JobRepository(redis, prefix),
    relays,
    workers,
    async startRelay(name, env) {
      const relay = await startRelay(name, env);
      extra.push(relay);
      return relay;
    },
    output: () => [...relays, ...extra, ...workers].map((p) => p.output()).join('\n'),
    async close() {
      await Promise.all([...relays, ...extra, ...workers].map(stopSoon));
      await deleteKeys(redis, prefix).catch(() => {});
      await redis.quit().catch(() => {});
    },
  };
}

/** SIGTERM, and SIGKILL if the process is still there after 15 s. */
async function stopSoon(app: AppProcess): Promise<void> {
  const timer = setTimeout(() => void app.stop('SIGKILL'), 15_000);
  await app.stop('SIGTERM');
  clearTimeout(timer);
}

/**
 * An HTTP proxy in front of the relays that sends each request to the next relay in turn (no
 * sticky sessions: the PATCHes of one upload land on different relays). `skip` takes a relay
 * out of the rotation, as a load balancer does when its health check fails.
 */
export interface RoundRobinProxy {
  url: string;
  skip(url: string): void;
  /** How many requests went to each relay. */
  served: Map<string, number>;
  /** The methods of the requests each relay is answering right now. */
  inFlight(url: string): string[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: readonly string[]): Promise<RoundRobinProxy> {
  const alive = [...targets];
  const agents = new Map(targets.map((t) => [t, new http.Agent({ keepAlive: true })]));
  const served = new Map(targets.map((t) => [t, 0]));
  const active = new Map<string, Set<http.IncomingMessage>>(targets.map((t) => [t, new Set()]));
  let next = 0;
  const server = http.createServer((req, res) => {
    if (alive.length === 0) {
      res.writeHead(502).end();
      return;
    }
    const target = alive[next++ % alive.length]!;
    served.set(target, (served.get(target) ?? 0) + 1);
    active.get(target)!.add(req);
    res.on('close', () => active.get(target)!.delete(req));
    const { hostname, port } = new URL(target);
    let upstream: http.ClientRequest;
    try {
      upstream = http.request(
        {
          hostname,
          port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: agents.get(target)!,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('error', () => res.destroy());
        },
      );
    } catch {
      // A request target Node's client will not send (it refuses some that its server takes).
      res.writeHead(400, { Connection: 'close' }).end();
      return;
    }
    // A relay gone mid-request: the client sees its connection drop, as with a real balancer.
    upstream.on('error', () => res.destroy());
    req.on('error', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    inFlight: (url) => [...(active.get(url) ?? [])].map((r) => r.method ?? ''),
    skip(url) {
      const i = alive.indexOf(url);
      if (i >= 0) alive.splice(i, 1);
      agents.get(url)?.destroy();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const agent of agents.values()) agent.destroy();
    },
  };
}
