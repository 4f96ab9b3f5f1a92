// What the Prometheus metrics cost a warm response-tier hit: one counter increment per request (see
// sideBySide.ts). METRICS=off gives the read path no observer at all.
import type { Section } from './section.ts';
import { sideBySideSection } from './sideBySide.ts';

export const metricsSection: Section = sideBySideSection({
  name: 'metrics',
  title: 'Metrics: a warm response-tier hit with METRICS off and on',
  variants: [
    { name: 'metrics off', env: { RATE_LIMIT: 'off', METRICS: 'off' } },
    { name: 'metrics on', env: { RATE_LIMIT: 'off', METRICS: 'on' } },
  ],
  target: 'the issue asks for a cost under 5% with metrics on',
});
