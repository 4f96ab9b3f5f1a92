import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../logging/logger.ts';
import { SERVICE_VERSION } from './tracing.ts';

/** The trace SDK main.ts started; flushes what is buffered and stops on shutdown. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Exports spans over OTLP/HTTP (JSON) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and `OTEL_SDK_DISABLED` is not `true`; otherwise
 * registers nothing and returns undefined, and the spans of tracing.ts stay the API's no-ops. The
 * variables are OpenTelemetry's own, read as its SDKs document them: the exporter reads the endpoint,
 * `OTEL_EXPORTER_OTLP_HEADERS`, timeout and compression itself, the provider `OTEL_TRACES_SAMPLER`;
 * the service is `OTEL_SERVICE_NAME`, by default `graphql-tiered-cache`.
 *
 * Called from main.ts only, never from createApp: a test registers its own provider.
 */
export function startTracing(logger: Logger): Tracing | undefined {
  // process.env, not an argument: the exporter and the provider read their own variables from it.
  const env = process.env;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  // The exporter reports failed exports through diag, which is silent until given a logger.
  diag.setLogger(diagLogger(logger.child({ component: 'otel' })), DiagLogLevel.WARN);
  const serviceName = env.OTEL_SERVICE_NAME || 'graphql-tiered-cache';
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName, [ATTR_SERVICE_VERSION]: SERVICE_VERSION })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The global tracer provider, the AsyncLocalStorage context manager (so child spans nest across
  // awaits) and the W3C trace-context propagator (so a caller's `traceparent` is the parent).
  provider.register();
  logger.info({ serviceName, endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'exporting traces over OTLP');
  // A last export that fails (the collector gone) is logged; it must not fail the server's stop.
  return { shutdown: () => provider.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'last spans not exported')) };
}

// Private:

function diagLogger(logger: Logger): DiagLogger {
  return {
    error: (message, ...args) => logger.error({ args }, message),
    warn: (message, ...args) => logger.warn({ args }, message),
    info: (message, ...args) => logger.info({ args }, message),
    debug: (message, ...args) => logger.debug({ args }, message),
    verbose: (message, ...args) => logger.trace({ args }, message),
  };
}
