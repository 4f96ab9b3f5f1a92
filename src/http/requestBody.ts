import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ClientGoneError } from '../errors.ts';

/**
 * A request refused before Apollo sees it: the status, the message and the code to answer with.
 * `close` asks to close the connection after the answer, so that an unread body (a declared
 * 10 GiB, say) is never read.
 */
export class BodyError {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly code: string = status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST',
    readonly close = false,
  ) {}
}

/** Whether a request declares a body over `maxBytes`: refused at once, and never asked for (`Expect: 100-continue`). */
export function declaresTooLargeBody(headers: IncomingHttpHeaders, maxBytes: number): boolean {
  const declared = headers['content-length'];
  return declared !== undefined && Number(declared) > maxBytes;
}

/**
 * The body as text, read without async iteration (cheaper per request), bounded: a declared length
 * over `maxBytes` is refused before a byte is read, and a body that grows past it is refused as it
 * does, not read to its end. A client that hangs up mid-body rejects with {@link ClientGoneError}.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string | BodyError> {
  if (declaresTooLargeBody(req.headers, maxBytes)) {
    return Promise.resolve(new BodyError(413, `Request body of ${req.headers['content-length']} bytes (Content-Length) exceeds the maximum of ${maxBytes} bytes.`, 'PAYLOAD_TOO_LARGE', true));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      // Paused, not destroyed: the 413 still has to be written on this socket, then it closes.
      req.pause();
      resolve(new BodyError(413, `Request body exceeds the maximum of ${maxBytes} bytes.`, 'PAYLOAD_TOO_LARGE', true));
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    // 'aborted' is the client hanging up mid-body; 'error' covers the socket failing under it.
    req.on('aborted', () => reject(new ClientGoneError()));
    req.on('error', (error) => reject(new ClientGoneError({ cause: error })));
  });
}

/** Whether a body of this Content-Type is read as JSON (what Apollo reads as JSON). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.toLowerCase().startsWith('application/json');
}

/** The POST body as Apollo takes it: JSON parsed, anything else as text (Apollo's CSRF prevention decides). */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- names the BodyError outcome; a { kind } union would be the real fix (STYLE.md)
export function bodyFrom(req: IncomingMessage, text: string | undefined): unknown | BodyError {
  if (text === undefined) return undefined;
  if (!isJsonContentType(req.headers['content-type'])) return text.length === 0 ? undefined : text;
  if (text.length === 0) return new BodyError(400, 'POST body is empty; send a JSON object with a "query".');
  try {
    return JSON.parse(text);
  } catch (error) {
    // The parser's message quotes the text around the error: keep it short.
    return new BodyError(400, `POST body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
}
