// Starts the server; everything else is wired in app.ts.
import { createApp } from './app.ts';
import { loadConfig } from './config/config.ts';
import { assertSafeToServe } from './config/safeToServe.ts';
import { createLogger } from './logging/logger.ts';
import { startTracing } from './observability/tracingSdk.ts';
import { readConfigOrExit, stopOnSignals } from './process/lifecycle.ts';

const config = readConfigOrExit(() => {
  const loaded = loadConfig();
  assertSafeToServe(loaded);
  return loaded;
});
const logger = createLogger(config.logLevel);
const tracing = startTracing(logger);
const app = await createApp(config, logger);
const url = await app.listen(config.port, config.host);
logger.info({ url: `${url}/graphql`, database: app.database.kind, tiers: app.tierNames }, 'serving GraphQL');
stopOnSignals(logger, async () => {
  await app.stop();
  // Last: the spans of the requests drained by stop() are exported too.
  await tracing?.shutdown();
});
