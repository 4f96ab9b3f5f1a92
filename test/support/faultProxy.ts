import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { freePort } from './ports.ts';

/**
 * What the proxy does to its connections, existing and new, from the moment it is {@link FaultProxy.set}:
 * - `pass`: bytes flow both ways as they come.
 * - `delay`: each chunk, either way, is delivered `ms` after it arrived, in order.
 * - `hang`: connections are accepted and read, but nothing is forwarded either way and nothing is
 *   closed, as with a SIGSTOPped server or a network partition. What was read is held, not lost.
 * - `drop`: every connection is ended (FIN) and new ones are ended as soon as they are accepted.
 * - `reset`: every connection is destroyed with a TCP RST, and so is each new one.
 */
export type FaultMode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'hang' } | { kind: 'drop' } | { kind: 'reset' };

export interface FaultProxyOptions {
  /** The port the proxy forwards to, usually a throwaway redis-server's. */
  targetPort: number;
  /** The host the proxy forwards to. The proxy itself always listens on 127.0.0.1. @default '127.0.0.1' */
  host?: string;
}

/**
 * A TCP proxy in front of one port, for tests that need a Redis that is slow, silent or gone for
 * one client while the server itself stays healthy (a killed or paused redis-server takes every
 * client down with it).
 *
 * Leaving `hang` releases what was held, in order: the hung connections resume as a healed
 * partition's would (TCP retransmits) or a SIGCONTed server's. They are not kept hung for good,
 * because the app's clients would never leave them: with the app's options (no `socketTimeout`) a
 * ready ioredis connection times its commands out but keeps the connection, so it would stay hung
 * after the fault is gone. (Only a connection still in its handshake gives up, when its HELLO times
 * out, and reconnects.) A test that wants the healed partition to break the connections instead
 * sets `reset` before `pass`.
 *
 * Every socket error is absorbed here (and forwarded as a reset), so a test never crashes on the
 * proxy's account. There is no backpressure: what is delayed or held stays in memory, which suits a
 * test's traffic, not a bulk load.
 */
export class FaultProxy {
  private mode: FaultMode = { kind: 'pass' };
  private readonly links = new Set<Link>();
  /** Connections closed at accept (`drop`), until their client closes too. */
  private readonly refused = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const target = { host: options.host ?? '127.0.0.1', port: getValidPort(options.targetPort) };
    let proxy: FaultProxy | undefined;
    const server = createServer({ noDelay: true }, (socket) => proxy?.accept(socket));
    proxy = new FaultProxy(server, await listenOnFreePort(server), target);
    // After listening, an error on the server (there is no known one) must not crash the test.
    server.on('error', () => {});
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The current mode, as last {@link set}. */
  get current(): FaultMode {
    return this.mode;
  }

  /**
   * Client connections open now, whatever their state: passing, delayed, hung, or dropped but not yet
   * closed by their client. Not those refused at accept.
   */
  get connections(): number {
    let open = 0;
    for (const link of this.links) if (!link.client.closed) open++;
    return open;
  }

  /** Applies `mode` to every existing connection at once, and to every new one. */
  set(mode: FaultMode): this {
    this.mode = getValidMode(mode);
    for (const link of this.links) this.applyTo(link);
    return this;
  }

  /** Destroys every connection and resolves once the server has closed. */
  async close(): Promise<void> {
    for (const link of this.links) link.destroy();
    for (const socket of this.refused) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // Private:

  private accept(client: Socket): void {
    client.on('error', () => {});
    switch (this.mode.kind) {
      case 'drop':
        // Ended, not destroyed: the client must see a FIN, which needs the socket until it answers.
        this.refused.add(client);
        client.on('close', () => this.refused.delete(client));
        client.resume();
        client.end();
        return;
      case 'reset':
        resetSocket(client);
        return;
      case 'pass':
      case 'delay':
      case 'hang': {
        const link = new Link(
          client,
          this.target,
          () => this.mode,
          () => this.links.delete(link),
        );
        this.links.add(link);
        return;
      }
      default:
        return unreachable(this.mode);
    }
  }

  private applyTo(link: Link): void {
    switch (this.mode.kind) {
      case 'drop':
        link.end();
        return;
      case 'reset':
        link.reset();
        return;
      case 'pass':
      case 'delay':
      case 'hang':
        // A new delay applies to chunks that arrive from now on; what is queued keeps its time.
        link.deliverDue();
        return;
      default:
        return unreachable(this.mode);
    }
  }
}

/** A chunk of bytes, or the end or reset of the sending side, to be passed on to the other side. */
type Delivery = { kind: 'data'; chunk: Buffer } | { kind: 'end' } | { kind: 'reset' };

/** One client connection and its own connection to the target. */
class Link {
  readonly upstream: Socket;
  private readonly toUpstream: Lane;
  private readonly toClient: Lane;
  private finished = false;

  constructor(
    readonly client: Socket,
    target: { host: string; port: number },
    mode: () => FaultMode,
    onClosed: () => void,
  ) {
    this.upstream = connect({ host: target.host, port: target.port, noDelay: true });
    this.toUpstream = new Lane(this.upstream, mode);
    this.toClient = new Lane(client, mode);
    // Each side's bytes, end and errors travel to the other side through its lane, so that a delay
    // or a hang applies to an end or an error (an unreachable target included) as to the bytes.
    relay(client, this.toUpstream, () => this.finished);
    relay(this.upstream, this.toClient, () => this.finished);
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      this.toUpstream.discard();
      this.toClient.discard();
      onClosed();
    };
    client.on('close', closed);
    this.upstream.on('close', closed);
  }

  deliverDue(): void {
    this.toUpstream.deliverDue();
    this.toClient.deliverDue();
  }

  /** The server closes the connection: both sides get a FIN, and what was queued is lost. */
  end(): void {
    this.finish();
    this.client.end();
    this.upstream.end();
  }

  reset(): void {
    this.finish();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  destroy(): void {
    this.finish();
    this.client.destroy();
    this.upstream.destroy();
  }

  private finish(): void {
    this.finished = true;
    this.toUpstream.discard();
    this.toClient.discard();
  }
}

function relay(from: Socket, lane: Lane, finished: () => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (!finished()) lane.push({ kind: 'data', chunk });
  });
  from.on('end', () => {
    if (!finished()) lane.push({ kind: 'end' });
  });
  from.on('error', () => {
    if (!finished()) lane.push({ kind: 'reset' });
  });
}

/**
 * One direction of a link: deliveries in arrival order, each due when its delay has passed. One
 * queue rather than one timer per chunk, so that no chunk overtakes another when the delay changes.
 */
class Lane {
  private readonly queue: Array<{ delivery: Delivery; dueAt: number }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly destination: Socket,
    private readonly mode: () => FaultMode,
  ) {}

  push(delivery: Delivery): void {
    const mode = this.mode();
    this.queue.push({ delivery, dueAt: performance.now() + (mode.kind === 'delay' ? mode.ms : 0) });
    this.deliverDue();
  }

  /** Delivers what is due, and wakes up when the next one is; while hung, only holds. */
  deliverDue(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.mode().kind === 'hang') return;
    for (let next = this.queue[0]; next; next = this.queue[0]) {
      const wait = next.dueAt - performance.now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.deliverDue(), Math.ceil(wait));
        return;
      }
      this.queue.shift();
      this.deliver(next.delivery);
    }
  }

  discard(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private deliver(delivery: Delivery): void {
    const socket = this.destination;
    switch (delivery.kind) {
      case 'data':
        if (socket.writable) socket.write(delivery.chunk);
        return;
      case 'end':
        if (socket.writable) socket.end();
        return;
      case 'reset':
        resetSocket(socket);
        return;
      default:
        return unreachable(delivery);
    }
  }
}

/** RST rather than FIN; a socket still connecting is reset once connected, so destroy it instead. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

/** freePort's port can be taken before we listen on it (parallel test files): try another. */
async function listenOnFreePort(server: Server): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw error;
    }
  }
}

function getValidPort(port: number): number {
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new TypeError(`FaultProxy: targetPort must be a TCP port, got ${String(port)}`);
  }
  return port;
}

function getValidMode(mode: FaultMode): FaultMode {
  if (mode.kind === 'delay' && !(Number.isFinite(mode.ms) && mode.ms >= 0)) {
    throw new TypeError(`FaultProxy: a delay's ms must be a finite number >= 0, got ${String(mode.ms)}`);
  }
  if (!['pass', 'delay', 'hang', 'drop', 'reset'].includes(mode.kind)) {
    throw new TypeError(`FaultProxy: unknown mode kind ${JSON.stringify((mode as { kind: unknown }).kind)}`);
  }
  return mode;
}

/** Ends an exhaustive switch: a new mode or delivery kind fails to type-check until handled. */
function unreachable(value: never): never {
  throw new Error(`unreachable case: ${JSON.stringify(value)}`);
}
