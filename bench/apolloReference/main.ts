// Starts the Apollo response-cache reference (see referenceApp.ts) the way src/main.ts starts the
// server: the same environment (DATABASE_URL, PORT, HOST, LOG_LEVEL), the same graceful stop.
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { readConfigOrExit, stopOnSignals } from '../../src/process/lifecycle.ts';
import { createReferenceApp } from './referenceApp.ts';

const config = readConfigOrExit(() => loadConfig());
const logger = createLogger(config.logLevel);
const app = await createReferenceApp(config, logger);
const url = await app.listen(config.port, config.host);
logger.info({ url: `${url}/graphql` }, 'serving GraphQL with Apollo response cache (reference)');
stopOnSignals(logger, () => app.stop());
