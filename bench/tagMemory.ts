// Tag memory under a long create/delete workload: one server creates and deletes products and
// reviews in a loop while the run samples every Redis key under the server's prefix (SCAN, then
// MEMORY USAGE and PTTL). Every cache key must carry an expiry, and tag keys must expire after the
// longest lifetime of the entries that carry them (src/catalog/cacheAddresses.ts, tagLifetimeMs), so
// the key count is bounded by (keys made per second) x (their lifetime), whatever the workload's length.
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheKeys } from '../src/cache/keys.ts';
import { CacheAddresses } from '../src/catalog/cacheAddresses.ts';
import { cachedKindsFromSchema, type CachedKinds } from '../src/catalog/cachedKinds.ts';
import { loadConfig } from '../src/config/config.ts';
import { buildSchema } from '../src/schema/schema.ts';
import { benchAdminToken, postGraphQL } from './graphqlRequest.ts';
import type { KeyCensus } from './redisKeyspace.ts';
import { formatColumns } from './report.ts';
import { warnings } from './serverLogs.ts';
import { log, startServers, type BenchContext, type Section } from './section.ts';

const SAMPLE_EVERY_MS = 2000;
/** Seeded rows the workload hangs its own rows on. */
const CATEGORY_ID = '1';
const AUTHOR_ID = '1';

const CREATE_PRODUCT = `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`;
const CREATE_REVIEW = `mutation($input: CreateReviewInput!) { createReview(input: $input) { id } }`;
/** Fills the entries that the deletes then invalidate: the product, its review list, the category's page. */
const READ = `query($id: ID!) { product(id: $id) { name reviews { id rating } } category(id: ${CATEGORY_ID}) { products { id } } }`;
const DELETE_REVIEW = `mutation($id: ID!) { deleteReview(id: $id) }`;
const DELETE_PRODUCT = `mutation($id: ID!) { deleteProduct(id: $id) }`;

/** The keys under the prefix at one moment. */
export interface Sample {
  atS: number;
  cycles: number;
  keys: number;
  bytes: number;
  tagKeys: number;
  /** Cache keys (under `<prefix>v2:`) with no expiry: must be 0. */
  cacheKeysWithoutTtl: number;
  /** The view buffer's stream and pending count: no expiry by design, two keys at most. */
  viewKeysWithoutTtl: number;
  /** Tag keys whose PTTL exceeds tagLifetimeMs of their tag: must be 0. */
  tagKeysOverLifetime: number;
  /** Keys per class (see {@link KeyClass}). */
  byClass: Record<string, number>;
}

/** The keys of one class (e.g. `tag Product:N`, `entry Review`) at the end, and what they would level off at. */
export interface KeyClass {
  name: string;
  keys: number;
  bytes: number;
  /** The longest a key of the class lives, from the code (tagLifetimeMs; TTL + grace of the kind); null: never expires. */
  lifetimeS: number | null;
  /** Growth over the second half of the workload. */
  keysPerSecond: number;
  /** Keys once every key of the class made at that rate lives its full lifetime: keys + rate x (lifetime - elapsed). */
  projectedKeys: number;
}

export interface TagMemoryResult {
  seconds: number;
  cycles: number;
  cyclesPerSecond: number;
  samples: Sample[];
  classes: KeyClass[];
  projectedKeys: number;
  projectedBytes: number;
  /** The longest lifetime of any class that grows: when the projection is reached. */
  levelsOffAfterS: number;
  warnings: string[];
}

export const tagMemorySection: Section = {
  name: 'tag-memory',
  title: 'Tag memory: Redis keys under the prefix during a create/delete workload',
  report: 'write-path',
  budgetMs: (params) => 60_000 + params.tagMemorySeconds * 2000,
  async run(context) {
    const result = await measure(context);
    const problems: string[] = [];
    const withoutTtl = Math.max(0, ...result.samples.map((s) => s.cacheKeysWithoutTtl));
    if (withoutTtl > 0) problems.push(`tag memory: up to ${withoutTtl} cache keys without an expiry`);
    if (result.samples.some((s) => s.tagKeysOverLifetime > 0)) problems.push('tag memory: tag keys living longer than tagLifetimeMs');
    return { table: formatTable(result), report: result, problems };
  },
};

async function measure(context: BenchContext): Promise<TagMemoryResult> {
  const prefix = context.keyspace.subPrefix('tag-memory');
  const lifetimes = new Lifetimes(prefix);
  log('tag memory: starting a server (CACHE_TIERS=l1,l2,l3)');
  const [server] = await startServers(context, 1, { cachePrefix: prefix }, { captureLogs: true });
  if (!server) throw new Error('no server started');
  const samples: Sample[] = [];
  let census: KeyCensus[] = [];
  let cycles = 0;
  const startedAt = performance.now();
  const deadline = startedAt + context.params.tagMemorySeconds * 1000;
  const takeSample = async () => {
    census = await context.keyspace.census(prefix);
    samples.push(summarise(census, lifetimes, { atS: (performance.now() - startedAt) / 1000, cycles }));
  };
  try {
    await takeSample();
    log(`tag memory: create/delete cycles for ${context.params.tagMemorySeconds} s, a sample every ${SAMPLE_EVERY_MS / 1000} s`);
    // Sampling runs beside the workload; either failing ends both, and a failed sample is rethrown.
    let running = true;
    const sampling = (async () => {
      for (let next = startedAt + SAMPLE_EVERY_MS; running && next < deadline; next += SAMPLE_EVERY_MS) {
        await sleep(Math.max(0, next - performance.now()));
        if (running) await takeSample();
      }
    })();
    sampling.catch(() => (running = false));
    try {
      while (running && performance.now() < deadline) {
        await cycle(server.url, cycles);
        cycles += 1;
      }
    } finally {
      running = false;
      await sampling;
    }
    // The state the workload left, unless the sampler has just taken it.
    if ((samples.at(-1)?.cycles ?? -1) !== cycles) await takeSample();
  } finally {
    await server.stop();
  }
  const classes = classify(census, lifetimes, samples);
  const growing = classes.filter((c) => c.keysPerSecond > 0);
  return {
    seconds: context.params.tagMemorySeconds,
    cycles,
    cyclesPerSecond: cycles / context.params.tagMemorySeconds,
    samples,
    classes,
    projectedKeys: Math.round(classes.reduce((sum, c) => sum + c.projectedKeys, 0)),
    projectedBytes: Math.round(classes.reduce((sum, c) => sum + (c.keys > 0 ? (c.projectedKeys * c.bytes) / c.keys : 0), 0)),
    levelsOffAfterS: Math.max(0, ...growing.map((c) => c.lifetimeS ?? Number.POSITIVE_INFINITY)),
    warnings: warnings(server.logs),
  };
}

/** One product with one review: created, read (so that its entries are cached), deleted. */
async function cycle(url: string, n: number): Promise<void> {
  const admin = await benchAdminToken();
  const { createProduct } = await postGraphQL<{ createProduct: { id: string } }>(
    url,
    CREATE_PRODUCT,
    { input: { sku: `BENCH-TM-${process.pid}-${n}`, name: `Tag memory ${n}`, description: '', priceCents: 1, stock: 1, categoryId: CATEGORY_ID } },
    admin,
  );
  const { createReview } = await postGraphQL<{ createReview: { id: string } }>(url, CREATE_REVIEW, { input: { productId: createProduct.id, authorId: AUTHOR_ID, rating: 5, body: 'ok' } }, admin);
  await postGraphQL(url, READ, { id: createProduct.id });
  await postGraphQL(url, DELETE_REVIEW, { id: createReview.id }, admin);
  const { deleteProduct } = await postGraphQL<{ deleteProduct: boolean }>(url, DELETE_PRODUCT, { id: createProduct.id }, admin);
  if (!deleteProduct) throw new Error(`deleteProduct(${createProduct.id}) answered false`);
}

/**
 * What the code says each key may live: a tag its tagLifetimeMs, an entry or list its kind's TTL
 * (or absent TTL) plus grace, a lease CACHE_LEASE_MS; computed with the server's defaults, which the
 * server of this section runs with.
 */
class Lifetimes {
  readonly keyspace: string;
  private readonly kinds: CachedKinds;
  private readonly addresses: CacheAddresses;
  private readonly leaseS: number;

  constructor(prefix: string) {
    const config = loadConfig({});
    const keys = new CacheKeys(prefix);
    this.keyspace = keys.keyspace;
    this.kinds = cachedKindsFromSchema(buildSchema(), { absentTtlSeconds: config.absentTtlSeconds, graceEnabled: config.graceEnabled });
    this.addresses = new CacheAddresses(keys, this.kinds);
    this.leaseS = config.leaseMs / 1000;
  }

  /** The key's class and that class's lifetime in seconds (null: no expiry by design). */
  of(key: string): { name: string; lifetimeS: number | null; tag?: string } {
    if (!key.startsWith(this.keyspace)) return { name: key.includes(':views:') ? 'view buffer' : 'other', lifetimeS: null };
    // The key's first two parts: its type and its tag or kind. (The whole key is not JSON: braces are escaped outside strings too.)
    const [, type, name] = /^\["(\w+)","([^"\\]*)"/.exec(key.slice(this.keyspace.length)) ?? [];
    if (type === undefined || name === undefined) return { name: 'other', lifetimeS: null };
    if (type === 't') return { name: `tag ${name.replace(/\d+/g, 'N')}`, lifetimeS: this.addresses.tagLifetimeMs(name) / 1000, tag: name };
    if (type === 'lock') return { name: 'lease', lifetimeS: this.leaseS };
    const kind = this.kinds[name as keyof CachedKinds];
    if (!kind) return { name: `other ${name}`, lifetimeS: null };
    return { name: `${type === 'e' ? 'entry' : 'list'} ${name}`, lifetimeS: Math.max(kind.ttlSeconds, kind.absentTtlSeconds) + kind.graceSeconds };
  }
}

function summarise(census: readonly KeyCensus[], lifetimes: Lifetimes, at: { atS: number; cycles: number }): Sample {
  const sample: Sample = { ...at, atS: Number(at.atS.toFixed(1)), keys: census.length, bytes: 0, tagKeys: 0, cacheKeysWithoutTtl: 0, viewKeysWithoutTtl: 0, tagKeysOverLifetime: 0, byClass: {} };
  for (const { key, bytes, pttlMs } of census) {
    const { name, lifetimeS, tag } = lifetimes.of(key);
    sample.bytes += bytes;
    sample.byClass[name] = (sample.byClass[name] ?? 0) + 1;
    if (tag !== undefined) {
      sample.tagKeys += 1;
      if (lifetimeS !== null && pttlMs > lifetimeS * 1000) sample.tagKeysOverLifetime += 1;
    }
    if (pttlMs === -1) {
      if (key.startsWith(lifetimes.keyspace)) sample.cacheKeysWithoutTtl += 1;
      else sample.viewKeysWithoutTtl += 1;
    }
  }
  return sample;
}

/**
 * The final keys by class, and what each class levels off at: a class that grew over the second
 * half of the workload at r keys/s, with keys living L seconds, holds r x L keys once the first of
 * them expire; a class of fixed keys (a type tag, the category's page) does not grow.
 */
function classify(census: readonly KeyCensus[], lifetimes: Lifetimes, samples: readonly Sample[]): KeyClass[] {
  const middle = samples[Math.floor(samples.length / 2)];
  const last = samples.at(-1);
  if (!middle || !last) return [];
  const spanS = last.atS - middle.atS;
  const byClass = new Map<string, { keys: number; bytes: number; lifetimeS: number | null }>();
  for (const { key, bytes } of census) {
    const { name, lifetimeS } = lifetimes.of(key);
    const c = byClass.get(name) ?? { keys: 0, bytes: 0, lifetimeS };
    c.keys += 1;
    c.bytes += bytes;
    byClass.set(name, c);
  }
  return [...byClass]
    .map(([name, c]) => {
      const keysPerSecond = spanS > 0 ? Math.max(0, c.keys - (middle.byClass[name] ?? 0)) / spanS : 0;
      const remainingS = c.lifetimeS === null ? Number.POSITIVE_INFINITY : Math.max(0, c.lifetimeS - last.atS);
      return {
        name,
        keys: c.keys,
        bytes: c.bytes,
        lifetimeS: c.lifetimeS,
        keysPerSecond: Number(keysPerSecond.toFixed(2)),
        projectedKeys: keysPerSecond > 0 ? Math.round(c.keys + keysPerSecond * remainingS) : c.keys,
      };
    })
    .sort((x, y) => y.keys - x.keys);
}

function formatTable(r: TagMemoryResult): string {
  const series = formatColumns(
    ['t s', 'cycles', 'keys', 'bytes', 'tag keys', 'no TTL (cache)', 'no TTL (views)', 'tag PTTL > lifetime'],
    pickSamples(r.samples).map((s) => [s.atS.toFixed(1), String(s.cycles), String(s.keys), String(s.bytes), String(s.tagKeys), String(s.cacheKeysWithoutTtl), String(s.viewKeysWithoutTtl), String(s.tagKeysOverLifetime)]),
    0,
  );
  const classes = formatColumns(
    ['key class (at the end)', 'keys', 'bytes', 'lifetime s (max)', 'growth keys/s', 'levels off at <= keys'],
    r.classes.map((c) => [c.name, String(c.keys), String(c.bytes), c.lifetimeS === null ? 'none' : String(c.lifetimeS), c.keysPerSecond.toFixed(2), String(c.projectedKeys)]),
    1,
  );
  const first = r.samples[0];
  const middle = r.samples[Math.floor(r.samples.length / 2)];
  const last = r.samples.at(-1);
  const rate = (a?: Sample, b?: Sample) => (a && b && b.atS > a.atS ? ((b.keys - a.keys) / (b.atS - a.atS)).toFixed(1) : '?');
  const levels = Number.isFinite(r.projectedKeys)
    ? `bound: at ${r.cyclesPerSecond.toFixed(1)} cycles/s the keys level off at no more than ~${r.projectedKeys} keys (~${(r.projectedBytes / 2 ** 20).toFixed(1)} MiB), ` +
      `reached ${r.levelsOffAfterS} s in, when the longest-lived growing class starts expiring; it grows with the write rate, never with the workload's length`
    : 'UNBOUNDED: a growing class has keys that never expire';
  const tagLifetimes = r.classes.filter((c) => c.name.startsWith('tag ')).map((c) => `${c.name.slice(4)} ${c.lifetimeS} s`);
  return [
    `${r.cycles} cycles (createProduct, createReview, read, deleteReview, deleteProduct) in ${r.seconds} s: ${r.cyclesPerSecond.toFixed(1)} cycles/s`,
    series,
    `growth: ${rate(first, middle)} keys/s in the first half, ${rate(middle, last)} keys/s in the second: ${plateauVerdict(r)}`,
    classes,
    `tag keys expire after the longest lifetime (TTL + grace) of the entries that carry the tag, plus 60 s (tagLifetimeMs): ${tagLifetimes.join(', ')}.`,
    "a class's lifetime is its longest (a deleted row's tombstone lives its absent TTL, 10 s, so the entry bounds are loose).",
    levels,
    `warnings: ${r.warnings.length === 0 ? 'none' : r.warnings.join('; ')}`,
  ].join('\n');
}

/** Whether the key count stopped growing within the window, and why it is expected not to in 30 s. */
function plateauVerdict(r: TagMemoryResult): string {
  const first = r.samples[0];
  const middle = r.samples[Math.floor(r.samples.length / 2)];
  const last = r.samples.at(-1);
  if (!first || !middle || !last) return 'too few samples';
  const early = middle.keys - first.keys;
  const late = last.keys - middle.keys;
  if (late <= early * 0.2) return 'levelled off within the window';
  return `still growing after ${last.atS.toFixed(0)} s, as expected: most keys live longer than the window (${r.levelsOffAfterS} s at most)`;
}

/** All samples when they are few; otherwise first, middle and last, and every fourth between. */
function pickSamples(samples: readonly Sample[]): Sample[] {
  if (samples.length <= 20) return [...samples];
  const middle = Math.floor(samples.length / 2);
  return samples.filter((_, i) => i === 0 || i === middle || i === samples.length - 1 || i % 4 === 0);
}
