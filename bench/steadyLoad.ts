// The faults section's load: readers in a closed loop over every instance (a product by id, or the
// list page), and one writer renaming products at a steady rate on the instances in turn. Every
// rename writes a name that carries its number, so every read is judged against the renames
// answered before it started (staleReads.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { benchAdminToken, postGraphQLRaw } from './graphqlRequest.ts';
import { WriteLog, type ProductRead, type ReadVerdict } from './staleReads.ts';

export interface SteadyLoadOptions {
  /** The instances' base URLs; reads and writes go to each in turn. */
  urls: readonly string[];
  /** The products read and renamed; the list read must return them (the first page). */
  productIds: readonly string[];
  /** Requests in flight at any time, each sent when the previous one answered. */
  readers: number;
  /** Renames started per second, one at a time (a slower answer delays the next one). */
  writesPerSecond: number;
  /** Share of the reads that are the list page rather than one product, 0..1. */
  listShare: number;
}

/** One request, as the load saw it; times are performance.now(). */
export interface Sample {
  kind: 'read' | 'write';
  /** Index in {@link SteadyLoadOptions.urls}. */
  instance: number;
  startedAt: number;
  durationMs: number;
  /** Why it failed: a non-200, GraphQL errors, no answer, or a write answered with another value. */
  failure?: string;
  /** Reads that did not fail. */
  verdict?: ReadVerdict;
}

const PRODUCT = `query($id: ID!) { product(id: $id) { id name } }`;
const RENAME = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name } }`;
/** The name of write number n; any other name is what the product had before the first write. */
const NAME_PREFIX = 'faults bench write #';

/** Runs from {@link start} until {@link stop}, which resolves once every request in flight has answered. */
export class SteadyLoad {
  readonly samples: Sample[] = [];
  private readonly writes = new WriteLog();
  private readonly list: string;
  private stopping = false;
  private running: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: SteadyLoadOptions,
    private readonly token: string,
  ) {
    this.list = `{ products(first: ${options.productIds.length}) { id name } }`;
  }

  static async start(options: SteadyLoadOptions): Promise<SteadyLoad> {
    const load = new SteadyLoad(options, await benchAdminToken());
    load.running = Promise.all([...Array.from({ length: options.readers }, (_, i) => load.readLoop(i)), load.writeLoop()]);
    return load;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  // Private:

  private async readLoop(reader: number): Promise<void> {
    for (let turn = reader; !this.stopping; turn++) {
      const instance = turn % this.options.urls.length;
      if (Math.random() < this.options.listShare) await this.readList(instance);
      else await this.readProduct(instance, pick(this.options.productIds));
    }
  }

  private async readProduct(instance: number, productId: string): Promise<void> {
    const startedAt = performance.now();
    const answer = await this.send<{ product: { id: string; name: string } | null }>(instance, PRODUCT, { id: productId });
    const durationMs = performance.now() - startedAt;
    if (answer.kind === 'failed') return this.record({ kind: 'read', instance, startedAt, durationMs, failure: answer.reason });
    const name = answer.data.product?.name;
    if (name === undefined) return this.record({ kind: 'read', instance, startedAt, durationMs, failure: `product ${productId}: null` });
    const verdict = this.writes.judge({ productId, seq: writeNumber(name), instance, startedAt });
    this.record({ kind: 'read', instance, startedAt, durationMs, verdict });
  }

  private async readList(instance: number): Promise<void> {
    const startedAt = performance.now();
    const answer = await this.send<{ products: { id: string; name: string }[] }>(instance, this.list);
    const durationMs = performance.now() - startedAt;
    if (answer.kind === 'failed') return this.record({ kind: 'read', instance, startedAt, durationMs, failure: answer.reason });
    const reads: ProductRead[] = answer.data.products.map((p) => ({ productId: p.id, seq: writeNumber(p.name), instance, startedAt }));
    const missing = this.options.productIds.filter((id) => !reads.some((read) => read.productId === id));
    if (missing.length > 0) return this.record({ kind: 'read', instance, startedAt, durationMs, failure: `list without products ${missing.join(', ')}` });
    this.record({ kind: 'read', instance, startedAt, durationMs, verdict: this.writes.judgeAll(reads) });
  }

  /** One rename at a time: a product's writes are answered in the order of their numbers. */
  private async writeLoop(): Promise<void> {
    const intervalMs = 1000 / this.options.writesPerSecond;
    let due = performance.now();
    for (let seq = 1; !this.stopping; seq++) {
      const instance = seq % this.options.urls.length;
      const productId = pick(this.options.productIds);
      const name = `${NAME_PREFIX}${seq}`;
      const startedAt = performance.now();
      const answer = await this.send<{ updateProduct: { name: string } }>(instance, RENAME, { id: productId, input: { name } }, this.token);
      const answeredAt = performance.now();
      const durationMs = answeredAt - startedAt;
      if (answer.kind === 'failed') this.record({ kind: 'write', instance, startedAt, durationMs, failure: answer.reason });
      else if (answer.data.updateProduct.name !== name) {
        this.record({ kind: 'write', instance, startedAt, durationMs, failure: `rename to "${name}" answered "${answer.data.updateProduct.name}"` });
      } else {
        this.writes.answered(productId, { seq, instance, answeredAt });
        this.record({ kind: 'write', instance, startedAt, durationMs });
      }
      // A steady rate, not a catch-up burst after a slow answer.
      due = Math.max(due + intervalMs, performance.now());
      await sleep(due - performance.now());
    }
  }

  private async send<D>(instance: number, query: string, variables?: Record<string, unknown>, token?: string): Promise<Answer<D>> {
    const url = this.options.urls[instance] as string;
    try {
      const { body, text } = await postGraphQLRaw<D>(url, query, variables, token);
      if (body.errors !== undefined || body.data === undefined) return { kind: 'failed', reason: `errors: ${text.slice(0, 300)}` };
      return { kind: 'answered', data: body.data };
    } catch (error) {
      return { kind: 'failed', reason: (error as Error).message.slice(0, 300) };
    }
  }

  private record(sample: Sample): void {
    this.samples.push(sample);
  }
}

type Answer<D> = { kind: 'answered'; data: D } | { kind: 'failed'; reason: string };

/** The number of the write that set this name; 0 for a name no write of this load made. */
function writeNumber(name: string): number {
  return name.startsWith(NAME_PREFIX) ? Number(name.slice(NAME_PREFIX.length)) : 0;
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}
