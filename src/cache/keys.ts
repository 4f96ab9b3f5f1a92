/**
 * The one place that builds cache keys. A key is
 *
 *     <prefix><KEY_FORMAT_VERSION>:<canonical JSON array>
 *
 * - Canonical: object arguments are written with their names sorted, so the same arguments in any
 *   order give the same key; `undefined` is dropped like an absent argument.
 * - Unambiguous: the parts are JSON-encoded, never joined with a separator that a value could contain.
 * - Cluster-safe: every `{` and `}` is written as its JSON escape (`\u007b`, `\u007d`), which
 *   JSON.stringify never emits by itself, so the encoding stays one-to-one and no key forms a
 *   Redis Cluster hash tag by accident: keys spread over all slots.
 * - Versioned twice: every key carries its kind's shape version (a hash of the value's schema, see
 *   codec.ts), so a deploy that changes a shape never reads entries of the old shape, for that kind
 *   only; KEY_FORMAT_VERSION changes only if this key layout itself does.
 */

export const KEY_FORMAT_VERSION = 'v1';

export type KeyPart = string | number | boolean | null | undefined | readonly KeyPart[] | { readonly [name: string]: KeyPart };

/** What a key needs of a cached kind (see CachedKind in entry.ts). */
export interface KeyedKind {
  readonly name: string;
  readonly shapeVersion: string;
}

export class CacheKeys {
  constructor(private readonly prefix: string) {}

  /** One entity by id: `Product` 7. */
  entity(kind: KeyedKind, id: number): string {
    return this.build(['e', kind.name, kind.shapeVersion, id]);
  }

  /** A list of ids owned by a parent, e.g. `Product.reviews` of product 7 with `{ first: 10 }`; root lists have no parent. */
  list(kind: KeyedKind, parentId: number | null, args: { readonly [name: string]: KeyPart }): string {
    return this.build(['l', kind.name, kind.shapeVersion, parentId, args]);
  }

  /**
   * A whole response (see responses/): by request hash, and for a private response also by viewer
   * (`anonymous` or a user id), so that no other viewer's lookup can ever reach it.
   */
  response(kind: KeyedKind, requestHash: string, viewer?: string): string {
    // On every response-tier lookup: flat strings with no braces (a base64url hash, a viewer id),
    // whose JSON is already canonical, so the general encoder is skipped.
    return this.keyspace + JSON.stringify(viewer === undefined ? ['r', kind.shapeVersion, requestHash] : ['r', kind.shapeVersion, requestHash, viewer]);
  }

  /** The generation of one tag (see tags/tagGenerations.ts). */
  tag(tag: string): string {
    return this.build(['t', tag]);
  }

  /** The short lease that one instance holds while it loads `key` (see stampede/leases.ts). */
  lease(key: string): string {
    return this.build(['lock', key]);
  }

  /** The pub/sub channel on which instances tell each other which tags they invalidated. */
  get invalidationChannel(): string {
    return `${this.keyspace}invalidations`;
  }

  /** Every key this process writes starts with this; tests and operators scan by it. */
  get keyspace(): string {
    return `${this.prefix}${KEY_FORMAT_VERSION}:`;
  }

  private build(parts: readonly KeyPart[]): string {
    return this.keyspace + canonicalEncode(parts);
  }
}

/** Canonical, unambiguous and brace-free JSON of a value (see the file comment). Pure. */
export function canonicalEncode(value: KeyPart): string {
  const json = JSON.stringify(canonical(value));
  // Most keys (every entity key) have no brace at all: skip the replace on the hot path.
  return json.includes('{') || json.includes('}') ? json.replace(/[{}]/g, (c) => (c === '{' ? '\\u007b' : '\\u007d')) : json;
}

// Private:

type Canonical = string | number | boolean | null | Canonical[] | { [name: string]: Canonical };

function canonical(value: KeyPart): Canonical {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    // JSON would turn these into null and collide with an absent argument.
    if (!Number.isFinite(value)) throw new TypeError(`cache key part must be a finite number, got ${value}`);
    return value;
  }
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: KeyPart) => canonical(v));
  const record = value as { readonly [name: string]: KeyPart };
  const sorted: { [name: string]: Canonical } = {};
  for (const name of Object.keys(record).sort()) {
    if (record[name] !== undefined) sorted[name] = canonical(record[name]);
  }
  return sorted;
}
