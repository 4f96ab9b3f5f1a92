import { createServer } from 'node:net';

/**
 * A TCP port on loopback that the OS just handed out and that is free again: a child process
 * (redis-server, nginx, src/main.ts) binds it a moment later, since none of them can report a
 * port-0 choice back.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
