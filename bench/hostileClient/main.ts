// The hostile client of the abuse section (../abuse.ts): one connection, one request after another,
// each as soon as the last one answered, for a fixed time. It runs in its own process so that reading
// its large answers never delays the load generator's clock, which times the other clients.
//
//     HOSTILE_CLIENT_OPTIONS   a HostileClientOptions as JSON
//
// It prints `ready` once it is about to send its first request, then, at the end, one line: a
// HostileClientResult as JSON.
import { setTimeout as sleep } from 'node:timers/promises';
import { requiredEnv } from '../childEnv.ts';

export interface HostileClientOptions {
  /** `http://host:port/graphql` */
  url: string;
  query: string;
  /**
   * A variable the client sets to `from`, `from + 1`, ... `to`, then `from` again, one value per
   * request: no two requests in a row are the same, so none is answered by the response tier.
   */
  cursor: { name: string; from: number; to: number };
  /** How long the client sends for; the request in flight at the end is abandoned. */
  seconds: number;
  /** A request still unanswered after this is abandoned, and the next one sent. */
  timeoutMs: number;
}

export interface HostileClientResult {
  /** Requests answered within their timeout. */
  answered: number;
  /** How each request ended, e.g. `200 data`, `400 RESPONSE_TOO_LARGE`, `timeout`, `cut at end`. */
  outcomes: Record<string, number>;
  /** Latency of each answered request, in ms. */
  latenciesMs: number[];
  /** Response body bytes received. */
  bytes: number;
}

const options = JSON.parse(requiredEnv('HOSTILE_CLIENT_OPTIONS')) as HostileClientOptions;
const result = await attack(options);
process.stdout.write(`${JSON.stringify(result)}\n`);

// Private:

async function attack({ url, query, cursor, seconds, timeoutMs }: HostileClientOptions): Promise<HostileClientResult> {
  const result: HostileClientResult = { answered: 0, outcomes: {}, latenciesMs: [], bytes: 0 };
  const count = (outcome: string) => (result.outcomes[outcome] = (result.outcomes[outcome] ?? 0) + 1);
  const span = cursor.to - cursor.from + 1;
  process.stdout.write('ready\n');
  const phase = AbortSignal.timeout(seconds * 1000);
  for (let i = 0; !phase.aborted; i++) {
    const body = JSON.stringify({ query, variables: { [cursor.name]: String(cursor.from + (i % span)) } });
    const startedAt = performance.now();
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([phase, AbortSignal.timeout(timeoutMs)]),
      });
      const text = await response.text();
      result.latenciesMs.push(performance.now() - startedAt);
      result.answered += 1;
      result.bytes += Buffer.byteLength(text);
      count(outcomeOf(response.status, text));
    } catch (error) {
      if (phase.aborted) count('cut at end');
      else if (error instanceof Error && error.name === 'TimeoutError') count('timeout');
      else {
        count(`failed: ${error instanceof Error ? error.message : String(error)}`);
        // A refused connection (the server died) would otherwise spin.
        await sleep(100);
      }
    }
  }
  return result;
}

/** `200 data`, or the status with the first error's code: what the server made of the request. */
function outcomeOf(status: number, text: string): string {
  // Parsing a megabyte of data only to find no errors would take this process's CPU from the
  // machine the server and the load generator share.
  if (status === 200 && !text.includes('"errors":')) return '200 data';
  let errors: { extensions?: { code?: string } }[] | undefined;
  try {
    errors = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors;
  } catch {
    return `${status} (not JSON)`;
  }
  if (errors === undefined || errors.length === 0) return `${status} data`;
  return `${status} ${errors[0]?.extensions?.code ?? 'error'}`;
}
