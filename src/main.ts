// Starts the server; everything else is wired in app.ts.
import { createApp } from './app.ts';
import { loadConfig } from './config/config.ts';
import { ConfigError } from './errors.ts';
import { createLogger } from './logging/logger.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const logger = createLogger(config.logLevel);
const app = await createApp(config, logger);
const url = await app.listen(config.port, config.host);
logger.info(
  { url: `${url}/graphql`, database: app.database.kind, tiers: app.tierNames },
  'serving GraphQL',
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
