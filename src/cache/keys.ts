/**
 * The one place that builds cache keys. A key is
 *
 *     <prefix><KEY_FORMAT_VERSION>:<canonical JSON array>
 *
 * - Canonical: object arguments are written with their names sorted, so the same arguments in any
 *   order give the same key; `undefined` is dropped like an absent argument; -0 is written as 0,
 *   as JSON writes it (and every response that echoes it).
 * - Unambiguous: the parts are JSON-encoded, never joined with a separator that a value could contain.
 *   The JSON is written from the sorted names and values, not through an intermediate object, so no
 *   name is special: `__proto__` or `constructor` is an argument like any other. Whatever is not
 *   JSON data (a non-finite number, a bigint, a function, a Date) or nests deeper than
 *   MAX_KEY_DEPTH is refused with a TypeError rather than written as something else.
 * - Cluster-safe: every `{` and `}` is written as its JSON escape (`\u007b`, `\u007d`), which
 *   JSON.stringify never emits by itself, so the encoding stays one-to-one and no key forms a
 *   Redis Cluster hash tag by accident: keys spread over all slots.
 * - Versioned twice: every key carries its kind's shape version (a hash of the value's schema, see
 *   codec.ts), so a deploy that changes a shape never reads entries of the old shape, for that kind
 *   only; KEY_FORMAT_VERSION changes only if this key layout itself does.
 */

// v2: objects are written in code-unit order of their names (integer-like names no longer first), and
// a `__proto__` name is kept; v1 dropped it, so a v1 entry may hold the answer to another request.
export const KEY_FORMAT_VERSION = 'v2';

/**
 * How many arrays and objects a key part may nest, counting the key's own outer array: far more than
 * any argument or GraphQL variable needs, and few enough that encoding never nears the stack limit.
 */
export const MAX_KEY_DEPTH = 32;

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

/**
 * Canonical, unambiguous and brace-free JSON of a value (see the file comment). Pure.
 * @throws TypeError for what is not JSON data or nests deeper than {@link MAX_KEY_DEPTH}: a
 * programming error for internal callers; a caller that encodes what a client sent catches it.
 */
export function canonicalEncode(value: KeyPart): string {
  const json = encode(value, 0);
  // Most keys (every entity key) have no brace at all: skip the replace on the hot path.
  return json.includes('{') || json.includes('}') ? json.replace(/[{}]/g, (c) => (c === '{' ? '\\u007b' : '\\u007d')) : json;
}

// Private:

/** JSON of `value`, found `depth` arrays and objects deep. */
function encode(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      // Well-formed JSON: a lone surrogate is written as its escape, so strings stay distinct.
      return JSON.stringify(value);
    case 'number':
      // JSON would turn these into null and collide with an absent argument.
      if (!Number.isFinite(value)) throw new TypeError(`cache key part must be a finite number, got ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'object':
      if (value === null) return 'null';
      // Checked before going deeper, so that no input, however deep, can exhaust the stack.
      if (depth === MAX_KEY_DEPTH) throw new TypeError(`cache key part nests deeper than ${MAX_KEY_DEPTH} levels`);
      return Array.isArray(value) ? encodeArray(value, depth + 1) : encodeRecord(value, depth + 1);
    default:
      throw new TypeError(`cache key part must be JSON data, got a ${typeof value}`);
  }
}

function encodeArray(array: readonly unknown[], depth: number): string {
  let json = '';
  for (let i = 0; i < array.length; i++) json += (i === 0 ? '' : ',') + encode(array[i], depth);
  return `[${json}]`;
}

function encodeRecord(record: object, depth: number): string {
  // A Date or a Map has no own names to write and would encode as {}: only plain records are data.
  const prototype = Object.getPrototypeOf(record) as unknown;
  if (prototype !== Object.prototype && prototype !== null) throw new TypeError('cache key part must be JSON data, got an object that is not a plain record');
  let json = '';
  for (const name of Object.keys(record).sort()) {
    // Read as an own property: JSON.parse makes `__proto__` one, and it is data like any other.
    const member = (record as { readonly [name: string]: unknown })[name];
    if (member !== undefined) json += `${json === '' ? '' : ','}${JSON.stringify(name)}:${encode(member, depth)}`;
  }
  return `{${json}}`;
}
