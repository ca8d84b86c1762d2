import path from 'node:path';
import {
  accessFromConfig,
  type Config,
  type Logger,
  type RedisTarget,
  redisTargetOf,
  resolveRelayTokens,
  startProcess,
} from '@gtr/core';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { createRelayApp, listen, relaySettingsFromConfig } from '@gtr/relay';
import { createWorker, workerDepsFromConfig } from '@gtr/worker';
import { ensureRedis, NoRedisError } from './redis.js';

/**
 * `pnpm start`: relay and workers in one process, with embedded defaults — the built-in Gcore
 * emulator without GCORE_API_KEY, a Redis found or started, a relay token generated on first start.
 */
startProcess(
  'standalone',
  async ({ config, logger, connect, atLast }) => {
    const target = redisTargetOf(config);
    // Sentinel and Cluster are always configured; only a single server may be found or started.
    const redisInfo =
      target.kind === 'single'
        ? await ensureRedis(config.REDIS_URL, config.DATA_DIR).catch((error: unknown) => {
            if (error instanceof NoRedisError) {
              console.error(error.message);
              process.exit(1);
            }
            throw error;
          })
        : { url: '', source: target.kind, stop: async () => {} };
    atLast(redisInfo.stop);
    const redisTarget: RedisTarget = target.kind === 'single' ? { ...target, url: redisInfo.url } : target;

    let emulator: Emulator | null = null;
    let upstream = { url: config.GCORE_API_URL, apiKey: config.GCORE_API_KEY ?? '', emulator: false };
    if (!config.GCORE_API_KEY) {
      const started = await startBuiltInEmulator(config, logger);
      atLast(() => started.close());
      emulator = started;
      upstream = { url: started.url, apiKey: started.apiKey, emulator: true };
    }

    const { entries, file } = await resolveRelayTokens(accessFromConfig(config), config.DATA_DIR);
    const { redis, queues } = connect({ target: redisTarget, role: 'client', connectionName: 'relay' });
    const forWorker = connect({ target: redisTarget, role: 'worker', connectionName: 'worker' });
    const worker = await createWorker(
      workerDepsFromConfig(config, {
        redis: forWorker.redis,
        queues: forWorker.queues,
        logger: logger.child({ component: 'worker' }),
        gcore: { apiUrl: upstream.url, apiKey: upstream.apiKey, emulator: upstream.emulator },
      }),
    );
    const relay = createRelayApp({
      settings: relaySettingsFromConfig(config, entries, { url: upstream.url, emulator: upstream.emulator }),
      redis,
      queues,
      logger,
      prefix: config.REDIS_PREFIX,
      extraMetrics: [worker.metrics.registry],
    });
    const http = await listen(relay.app, config.PORT, config.HOST).catch((error: NodeJS.ErrnoException) => {
      console.error(
        error.code === 'EADDRINUSE'
          ? `PORT ${config.PORT} is already in use; set PORT to another port`
          : error.message,
      );
      process.exit(1);
    });
    await relay.start();
    logger.info({ url: http.url, redis: redisInfo.source, upstream: upstream.url }, 'relay listening');
    printWelcome({
      url: http.url,
      token: file ? entries[0]!.token : null,
      tokenFile: file,
      emulator,
      redisSource: redisInfo.source,
    });

    return async (signal: string) => {
      logger.info({ signal }, 'stopping');
      relay.stop();
      await http.close();
      await worker.close();
    };
  },
  { loggerName: 'relay' },
);

async function startBuiltInEmulator(config: Config, logger: Logger): Promise<Emulator> {
  const options = {
    host: '127.0.0.1',
    dataDir: path.resolve(config.DATA_DIR, 'emulator'),
    logger: logger.child({ component: 'gcore-emulator' }),
  };
  try {
    return await startEmulator({ ...options, port: config.EMULATOR_PORT });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    logger.warn({ port: config.EMULATOR_PORT }, 'EMULATOR_PORT is taken; the emulator uses a free port');
    return startEmulator({ ...options, port: 0 });
  }
}

function printWelcome(info: {
  url: string;
  token: string | null;
  tokenFile: string | null;
  emulator: Emulator | null;
  redisSource: string;
}): void {
  const lines = [''];
  if (info.emulator) {
    const text = [
      'NO GCORE_API_KEY: forwarding to the BUILT-IN GCORE EMULATOR',
      `at ${info.emulator.url}`,
      'Nothing reaches Gcore. Set GCORE_API_KEY to forward for real.',
    ];
    const width = Math.max(...text.map((t) => t.length)) + 4;
    lines.push(
      `  ┌${'─'.repeat(width)}┐`,
      ...text.map((t) => `  │  ${t.padEnd(width - 2)}│`),
      `  └${'─'.repeat(width)}┘`,
    );
  }
  lines.push(`  gcore-tus-relay is up at ${info.url}   (Redis: ${info.redisSource})`);
  if (info.token) {
    lines.push(
      `  Relay token: ${info.token}`,
      `  (kept in ${info.tokenFile}; set RELAY_API_TOKENS to use your own)`,
      '',
      '  Upload a video:',
      `    RELAY_URL=${info.url} RELAY_TOKEN=${info.token} pnpm relay upload ./video.mp4`,
      '  or with any TUS client:',
      `    endpoint ${info.url}/files/   header  Authorization: Bearer ${info.token}`,
    );
  }
  lines.push(`  Dashboard: ${info.url}/dashboard   (any user name; the password is a relay token)`);
  if (!supervised()) {
    lines.push(
      '  This process does not restart itself: in production run it under a supervisor (deploy/systemd/, deploy/kubernetes/relay.yaml; deploy/README.md)',
    );
  }
  lines.push('');
  console.log(lines.join('\n'));
}

/** Started by systemd (every service gets INVOCATION_ID) or in a Kubernetes pod: restarted when it stops. */
function supervised(): boolean {
  return Boolean(process.env.INVOCATION_ID || process.env.KUBERNETES_SERVICE_HOST);
}
