// Runs only a ViewFlusher, as a process of its own: `node --import tsx src/views/flusherMain.ts`.
// It stops on SIGTERM/SIGINT after flushing what is buffered; killed outright, it leaves its batch
// pending in the consumer group, for the next flusher to claim.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { closeRedisClient, createRedisClient } from '../cache/tiers/redisClient.ts';
import { loadConfig } from '../config/config.ts';
import { openDatabase } from '../database/database.ts';
import { ConfigError } from '../errors.ts';
import { createLogger } from '../logging/logger.ts';
import { ViewFlusher } from './viewFlusher.ts';

let settings;
try {
  settings = readSettings(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const { config } = settings;

const logger = createLogger(config.logLevel).child({ component: 'viewFlusher' });
const database = await openDatabase(config);
const redis = createRedisClient({ url: settings.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs });
// Failures surface (and are logged once) through the flush loop; the client only reconnects.
redis.on('error', () => {});

// Unique per process, so the group shows which process holds which batch; a restarted flusher takes
// its dead predecessor's batch over through XAUTOCLAIM, like any abandoned batch.
const consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
const flusher = new ViewFlusher({
  redis,
  prisma: database.prisma,
  prefix: config.cachePrefix,
  consumer,
  batchSize: config.viewFlushBatchSize,
  intervalMs: config.viewFlushIntervalMs,
  claimIdleMs: settings.claimIdleMs,
  logger,
}).start();
logger.info({ consumer, batchSize: config.viewFlushBatchSize, intervalMs: config.viewFlushIntervalMs }, 'flushing views');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

async function shutdown(): Promise<void> {
  await flusher.stop();
  await closeRedisClient(redis);
  await database.close();
}

/**
 * The app's configuration (VIEW_FLUSH_INTERVAL_MS and VIEW_FLUSH_BATCH_SIZE among it), plus
 * VIEW_FLUSH_CLAIM_IDLE_MS (default 5000), which only a standalone flusher needs to tune.
 */
function readSettings(env: Record<string, string | undefined>) {
  const config = loadConfig(env);
  // An embedded database belongs to the app's process; only a server can be shared with this one.
  if (config.databaseUrl === undefined) throw new ConfigError('DATABASE_URL', undefined, 'the view flusher needs a PostgreSQL server');
  if (config.redisUrl === undefined) throw new ConfigError('REDIS_URL', undefined, 'the view flusher reads the views buffered in Redis');
  return {
    config,
    redisUrl: config.redisUrl,
    claimIdleMs: integer(env, 'VIEW_FLUSH_CLAIM_IDLE_MS', 5000, 0, 3_600_000),
  };
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, env[name], 'must be a whole number');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, env[name], `must be from ${min} to ${max}`);
  return n;
}
