// The limit the response tier is measured against: node:http answering every request with the same
// bytes, the body and content-type the response tier served. It reads each request's body to its end
// (a server must, to keep the connection alive) and looks at nothing else, not even the path: the
// bench's readiness poll of /health/ready only needs a 200.
//
//     FIXED_RESPONSE_FILE           the body, read once at startup
//     FIXED_RESPONSE_CONTENT_TYPE   its content-type
//     PORT, HOST                    where to listen
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { requiredEnv } from '../childEnv.ts';

const body = readFileSync(requiredEnv('FIXED_RESPONSE_FILE'));
const contentType = requiredEnv('FIXED_RESPONSE_CONTENT_TYPE');

const server = createServer((req, res) => {
  req.resume();
  req.once('end', () => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
    res.end(body);
  });
});
server.listen(Number(requiredEnv('PORT')), requiredEnv('HOST'));

// Like the real server: stop on SIGTERM and exit 0. Keep-alive connections would hold close() open.
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
