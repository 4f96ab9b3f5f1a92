import { maxHeaderSize } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, errorContentType } from './errorResponses.ts';
import { acceptedRequestId, newRequestId } from './requestId.ts';

/**
 * Node's `clientError`: the HTTP parser refused what a client sent, before any request exists.
 * Headers over Node's limit (16 KiB for the request line and headers together: in practice a GET
 * whose query string carries a long query or long variables) get a 431 whose JSON body says to
 * send it by POST, with the same code, request id and content type rules as the server's other
 * errors. Every other parser error gets exactly what Node would send without this listener (a
 * listener replaces Node's answer for all of them): 400, 408 or 413 with no body, then the socket
 * is destroyed.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  // The parser reports again for each chunk a client keeps sending after the first refusal.
  if (answered.has(socket)) return;
  answered.add(socket);
  // Node's own condition: never write into a response that has started on this connection.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  const mayAnswer = socket.writable && !inFlight?.headersSent;
  if (error.code !== 'HPE_HEADER_OVERFLOW') {
    if (mayAnswer) socket.write(NODE_ANSWERS[error.code ?? ''] ?? NODE_ANSWERS.default);
    socket.destroy(error);
    return;
  }
  if (!mayAnswer) return void socket.destroy(error);
  socket.end(headerOverflowResponse(error.rawPacket));
  // The rest of the request is read and dropped until the client closes: closing with unread bytes
  // would send a reset, which can reach the client before the 431 does. A second is enough for
  // what a client had in flight, and bounds what a slow one can hold.
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * The raw 431 for headers over the limit. `rawPacket` is what the parser was reading: the
 * `Accept` and `x-request-id` in it are used when their lines arrived whole. Pure, but for the
 * fresh id.
 */
export function headerOverflowResponse(rawPacket: Buffer | undefined): string {
  const head = rawPacket?.toString('latin1') ?? '';
  const requestId = acceptedRequestId(wholeHeader(head, 'x-request-id')) ?? newRequestId();
  const body = errorBody(`The request's URL and headers exceed the server's limit of ${maxHeaderSize} bytes; send a long query or long variables by POST, in the body.`, 'REQUEST_HEADERS_TOO_LARGE', requestId);
  return [
    'HTTP/1.1 431 Request Header Fields Too Large',
    `Content-Type: ${errorContentType(wholeHeader(head, 'accept'))}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    `x-request-id: ${requestId}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

// Private:

const LINGER_MS = 1000;
const answered = new WeakSet<Duplex>();

/** Node's own answers (lib/_http_server.js, socketOnError), by parser error code. */
const NODE_ANSWERS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  default: 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
};

/** A header's value from the raw head, only when its line ends within it (a cut line could be any value). */
function wholeHeader(head: string, name: string): string | undefined {
  const match = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)\\r\\n`, 'i').exec(head);
  return match?.[1]?.trim();
}
