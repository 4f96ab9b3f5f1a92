import type { IncomingMessage } from 'node:http';

/** Bodies above this are refused with 413; the rest of a larger body is read and dropped. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A body refused before Apollo sees it: the status and message to answer with. */
export class BodyError {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

/** The body as text, read without async iteration (cheaper per request), bounded. */
export function readBody(req: IncomingMessage): Promise<string | BodyError> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) resolve(new BodyError(413, `Request body exceeds ${MAX_BODY_BYTES} bytes.`));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** The POST body as Apollo takes it: JSON parsed, anything else as text (Apollo's CSRF prevention decides). */
export function bodyFrom(req: IncomingMessage, text: string | undefined): unknown | BodyError {
  if (text === undefined) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/json')) return text.length === 0 ? undefined : text;
  if (text.length === 0) return new BodyError(400, 'POST body is empty; send a JSON object with a "query".');
  try {
    return JSON.parse(text);
  } catch (error) {
    return new BodyError(400, `POST body is not valid JSON: ${(error as Error).message}`);
  }
}
