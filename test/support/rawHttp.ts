import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/**
 * The test suite's raw HTTP/1.1 client, for what fetch cannot send or will not show: lying or
 * broken headers, bodies that stop halfway, clients that hang up, answers read byte for byte.
 *
 * - {@link RawClient}: one conversation over a socket, written and read step by step.
 * - {@link sendRaw}: bytes in, the server's answer (or its absence) out, within a bound.
 * - {@link hangUp}: a client that goes away at a chosen point of a request.
 * - {@link byteStream}, {@link transportErrorMessage}: for a caller that sends with fetch and
 *   reports the same {@link RawOutcome}.
 */

/** How one request ended, seen from the client. */
export type RawOutcome =
  | {
      readonly kind: 'answered';
      readonly status: number;
      /** By lower-case name; the first of a repeated header. */
      readonly headers: Readonly<Record<string, string>>;
      /** The body as UTF-8 text, de-chunked. */
      readonly text: string;
    }
  /** This side hung up, on purpose. */
  | { readonly kind: 'hung up' }
  /** No answer within the bound. */
  | { readonly kind: 'hang' }
  | { readonly kind: 'transport error'; readonly message: string };

/** After the bytes: wait for the server to close, or half-close first (a request meant to end there). */
export type AfterWriting = 'wait' | 'half-close';

/** Where a hanging-up client goes away. */
export type HangUpPoint = 'mid-headers' | 'mid-body' | 'after-request' | 'after-headers';

/** One raw HTTP/1.1 conversation over node:net. */
export class RawClient {
  private readonly chunks: Buffer[] = [];
  // Kept as bytes, to parse, and as text, to match; decoded as `socket.setEncoding('utf8')` would, so a
  // character split across chunks waits for its end.
  private readonly decoder = new StringDecoder('utf8');
  private received = '';
  private closed = false;
  private readonly closing: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received += this.decoder.write(chunk);
    });
    this.closing = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
    // A reset is how a server may close on a bad request: what arrived before it is the answer.
    socket.on('error', () => {});
  }

  /** Starts connecting to the host and port of `baseUrl`; `onConnect` runs once connected. */
  static connect(baseUrl: string, onConnect?: () => void): RawClient {
    const { hostname, port } = new URL(baseUrl);
    const socket = connect(Number(port), hostname);
    if (onConnect) socket.once('connect', onConnect);
    return new RawClient(socket);
  }

  /** Resolves once connected; rejects if the connection fails. */
  static async open(baseUrl: string): Promise<RawClient> {
    const client = RawClient.connect(baseUrl);
    await once(client.socket, 'connect');
    return client;
  }

  /** `written` runs once the bytes are handed to the OS, or failed to be. */
  write(data: string | Buffer, written?: () => void): void {
    this.socket.write(data, written);
  }

  /** Half-closes: the server sees the request end, and can still answer. */
  end(): void {
    this.socket.end();
  }

  /** Resolves with everything received once the server has said `until`, or closed. */
  async waitFor(until: RegExp): Promise<string> {
    while (!until.test(this.received) && !this.closed) await once(this.socket, 'data').catch(() => undefined);
    return this.received;
  }

  /** Resolves with everything received once the server has closed the connection; rejects on a reset. */
  async waitForClose(): Promise<string> {
    if (!this.closed) await once(this.socket, 'close');
    return this.received;
  }

  /** Resolves with every byte received once the connection has closed, however it closed (a reset too). */
  async bytesWhenClosed(): Promise<Buffer> {
    await this.closing;
    return Buffer.concat(this.chunks);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Writes `bytes` on a new connection and reads what comes back until the server closes it, or `boundMs` passes. */
export function sendRaw(baseUrl: string, bytes: Buffer, { then, boundMs }: { readonly then: AfterWriting; readonly boundMs: number }): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const client = RawClient.connect(baseUrl, () => {
      client.write(bytes);
      if (then === 'half-close') client.end();
    });
    const bound = setTimeout(() => {
      client.destroy();
      resolve({ kind: 'hang' });
    }, boundMs);
    void client.bytesWhenClosed().then((received) => {
      clearTimeout(bound);
      // A complete request whose client closed its side is one Node drops unanswered (the client is gone).
      resolve(received.length === 0 && then === 'half-close' ? { kind: 'hung up' } : parseRawResponse(received));
    });
  });
}

/**
 * A client that goes away from a JSON POST of `body` to `path`: mid-headers or after the whole
 * request (raw bytes, then the socket destroyed), mid-body (half the body streamed, then aborted),
 * or after-headers (the answer's headers read, its body not).
 */
export async function hangUp(baseUrl: string, { how, path, body, boundMs }: { readonly how: HangUpPoint; readonly path: string; readonly body: string; readonly boundMs: number }): Promise<RawOutcome> {
  if (how === 'after-request' || how === 'mid-headers') {
    const request = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    // mid-headers: cut inside a header's name.
    const text = how === 'after-request' ? request : request.slice(0, request.indexOf('Content-Type') + 'Content-Ty'.length);
    const client = RawClient.connect(baseUrl, () => client.write(text, () => client.destroy()));
    await client.bytesWhenClosed();
    return { kind: 'hung up' };
  }
  const url = `${baseUrl}${path}`;
  const headers = { 'content-type': 'application/json' };
  const hangingUp = new AbortController();
  const signal = AbortSignal.any([hangingUp.signal, AbortSignal.timeout(boundMs)]);
  try {
    if (how === 'after-headers') {
      await fetch(url, { method: 'POST', headers, body, signal });
      hangingUp.abort();
      return { kind: 'hung up' };
    }
    // Half a body, then gone: the server is waiting for the rest when the connection closes.
    let pulls = 0;
    const halfABody = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        if (pulls === 1) controller.enqueue(new TextEncoder().encode(body.slice(0, 20)));
        else hangingUp.abort();
      },
    });
    await fetch(url, { method: 'POST', headers, body: halfABody, signal, duplex: 'half' });
    return { kind: 'transport error', message: 'the server answered a request whose body never ended' };
  } catch (error) {
    if (hangingUp.signal.aborted) return { kind: 'hung up' };
    return signal.aborted ? { kind: 'hang' } : { kind: 'transport error', message: transportErrorMessage(error) };
  }
}

/** `bytes` as a stream, 64 KiB a chunk: fetch sends a stream chunked, with no Content-Length. */
export function byteStream(bytes: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
  });
}

/** A failed fetch's message with its cause's (fetch says only "fetch failed"; the cause says EPIPE or ECONNRESET). */
export function transportErrorMessage(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `${(error as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`;
}

// Private: reading a response's head and body.

/** The response in `bytes`, past any interim 100 Continue; a transport error when they hold no HTTP answer. */
function parseRawResponse(bytes: Buffer): RawOutcome {
  const text = bytes.toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  if (status === undefined) return { kind: 'transport error', message: `closed with ${bytes.length === 0 ? 'no answer' : `no HTTP answer: ${JSON.stringify(text.slice(0, 100))}`}` };
  const end = text.indexOf('\r\n\r\n');
  // A 100 Continue only says the server will read the body: the answer follows it.
  if (status === '100') return parseRawResponse(bytes.subarray(end + 4));
  const headers = headersOf(text.slice(0, end));
  const body = end < 0 ? '' : bytes.subarray(end + 4).toString('utf8');
  return { kind: 'answered', status: Number(status), headers, text: /chunked/i.test(headers['transfer-encoding'] ?? '') ? dechunked(body) : body };
}

function headersOf(head: string): Record<string, string> {
  const fields = head
    .split('\r\n')
    .slice(1)
    .flatMap((line) => {
      const [, name, value] = /^([^:\s]+): *(.*)$/.exec(line) ?? [];
      return name === undefined || value === undefined ? [] : [[name.toLowerCase(), value.trim()] as const];
    });
  // Object.fromEntries keeps the last of a repeated name; reversed, the first.
  return Object.fromEntries(fields.reverse());
}

function dechunked(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, line), 16);
    if (line < 0 || !(size > 0)) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
}
