import type { ServerResponse } from 'node:http';

export interface HealthChecks {
  /** Rejects if the database does not answer. */
  database: () => Promise<void>;
  /**
   * Each tier's state. "down" (L3 unreachable) and "paused" (L2 unused while this instance cannot hear
   * invalidations) only degrade, so they do not make the instance unready.
   */
  cacheTiers: () => Record<string, 'up' | 'down' | 'paused' | 'off'>;
  /** True once SIGTERM has been received: the load balancer should stop sending traffic. */
  draining: () => boolean;
}

/** GET /health/live: the process is serving HTTP. */
export function sendLive(res: ServerResponse): void {
  send(res, 200, { status: 'ok' });
}

/** GET /health/ready: 200 when the database answers and the instance is not draining, else 503. */
export async function sendReady(res: ServerResponse, checks: HealthChecks): Promise<void> {
  const tiers = checks.cacheTiers();
  if (checks.draining()) return send(res, 503, { status: 'draining', tiers });
  try {
    await checks.database();
    send(res, 200, { status: 'ready', database: 'up', tiers });
  } catch (error) {
    send(res, 503, { status: 'unready', database: 'down', error: (error as Error).message, tiers });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}
