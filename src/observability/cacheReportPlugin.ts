import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../schema/context.ts';

/** Adds a debug request's cache report (RequestContext.cacheReport) to its response as `extensions.cache`. */
export function cacheReportPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const report = contextValue.cacheReport;
          if (!report || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, cache: report.toExtension() };
        },
      };
    },
  };
}
