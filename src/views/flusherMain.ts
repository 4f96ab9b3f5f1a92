// Runs only a ViewFlusher, as a process of its own: `node --import tsx src/views/flusherMain.ts`.
// It stops on SIGTERM/SIGINT after flushing what is buffered; killed outright, it leaves its batch
// pending in the consumer group, for the next flusher to claim.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { closeRedisClient, createRedisClient, waitUntilReady } from '../cache/tiers/redisClient.ts';
import { loadConfig } from '../config/config.ts';
import { viewsRedisTarget } from '../config/redisTargets.ts';
import { openDatabase } from '../database/database.ts';
import { ConfigError } from '../errors.ts';
import { createLogger } from '../logging/logger.ts';
import { readConfigOrExit, stopOnSignals } from '../process/lifecycle.ts';
import { checkRedisRoles } from '../process/redisRoles.ts';
import { ViewFlusher } from './viewFlusher.ts';

const settings = readConfigOrExit(() => readSettings(process.env));
const { config } = settings;

const logger = createLogger(config.logLevel).child({ component: 'viewFlusher' });
const database = await openDatabase(config);
const redis = createRedisClient({ ...settings.redis, commandTimeoutMs: config.redisCommandTimeoutMs });
// Failures surface (and are logged once) through the flush loop; the client only reconnects.
redis.on('error', () => {});
// This process may run where no server does: it warns about a views store that cannot keep its views too.
await waitUntilReady(redis, 2000);
await checkRedisRoles({ views: redis }, { logger, timeoutMs: config.redisCommandTimeoutMs });

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
  claimIdleMs: config.viewFlushClaimIdleMs,
  commandTimeoutMs: config.redisCommandTimeoutMs,
  logger,
}).start();
logger.info({ consumer, batchSize: config.viewFlushBatchSize, intervalMs: config.viewFlushIntervalMs }, 'flushing views');

stopOnSignals(logger, shutdown);

async function shutdown(): Promise<void> {
  await flusher.stop();
  await closeRedisClient(redis);
  await database.close();
}

/** The app's configuration (VIEW_FLUSH_* among it), which must name a PostgreSQL server and the views Redis. */
function readSettings(env: Record<string, string | undefined>) {
  const config = loadConfig(env);
  // An embedded database belongs to the app's process; only a server can be shared with this one.
  if (config.databaseUrl === undefined) throw new ConfigError('DATABASE_URL', undefined, 'the view flusher needs a PostgreSQL server');
  const redis = viewsRedisTarget(config);
  if (redis === undefined) {
    throw new ConfigError('VIEWS_REDIS_URL', undefined, 'the view flusher reads the views buffered in Redis: set it, or REDIS_URL / REDIS_CLUSTER_NODES with l3 in CACHE_TIERS');
  }
  return { config, redis };
}
