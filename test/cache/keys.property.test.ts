import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEncode, type KeyPart } from '../../src/cache/keys.ts';
import { requestIdentity } from '../../src/responses/requestIdentity.ts';

/**
 * Keys are one-to-one with JSON data: two sets of variables get the same key exactly when JSON
 * cannot tell them apart. That is structural equality with objects as unordered maps and numbers
 * compared by value, so -0 equals 0: JSON.stringify writes -0 as 0, and so does every response
 * that echoes it, so one entry may serve both.
 *
 * The seed is random on purpose: each run explores new values, and a failure prints the seed and
 * path that replay it (pass them to fc.assert as { seed, path }).
 */

type Json = null | boolean | number | string | Json[] | { [name: string]: Json };

const QUERY = 'query Q($a: ID) { product(id: $a) { id } }';
const RUNS = 600;

// Names that a plain object gives a meaning to, names whose order JSON.stringify would change
// (integer-like ones come first), and characters that take part in the encoding itself.
const dangerousName = fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'toJSON', 'prototype', '', '0', '2', '10', '{', '}', '\\u007b', '"', ':', ',');
const loneSurrogate = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF');
const text = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.string({ unit: 'grapheme', maxLength: 3 }),
  fc.string({ unit: 'binary', maxLength: 3 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom('a', '{', '}', '"', '\\', '\u0000', '😀', 'e\u0301', 'é')), maxLength: 4 }),
);
const name = fc.oneof(dangerousName, text);
const edgeNumber = fc.constantFrom(
  0,
  -0,
  1,
  -1,
  0.1,
  1e21,
  1e-7,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  2.2250738585072014e-308,
);
const number = fc.oneof(edgeNumber, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
// Strings that look like the other leaves, so that type confusions would show.
const leaf: fc.Arbitrary<Json> = fc.oneof(fc.constant(null), fc.boolean(), number, text, fc.constantFrom('0', 'null', 'true', '[]', '{}'));

const { value, variables } = fc.letrec<{ value: Json; variables: { [name: string]: Json } }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, leaf, fc.array(tie('value'), { maxLength: 4 }), tie('variables')),
  // fc.dictionary makes __proto__ an own property, as JSON.parse does, and mixes in null-prototype objects.
  variables: fc.dictionary(name, tie('value'), { maxKeys: 4 }),
}));

// A tiny domain, so that independent pairs are often equal or nearly so.
const { small } = fc.letrec<{ small: { [name: string]: Json }; smallValue: Json }>((tie) => ({
  smallValue: fc.oneof({ depthSize: 'small', maxDepth: 3 }, fc.constantFrom<Json>(null, 0, -0, 1, '0', '', true, '__proto__'), fc.array(tie('smallValue'), { maxLength: 2 }), tie('small')),
  small: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a', '0'), tie('smallValue'), { maxKeys: 2 }),
}));

/** `vars` with one name set to a value or removed: the nearest misses. */
const withEdit = (vars: { [name: string]: Json }, edit: readonly [string, Json, boolean]): { [name: string]: Json } => {
  const [editedName, value, remove] = edit;
  const entries: [string, Json][] = Object.entries(vars).filter(([n]) => n !== editedName);
  if (!remove) entries.push([editedName, value]);
  // Object.fromEntries defines own properties, so __proto__ stays data.
  return Object.fromEntries(entries);
};
const nearMiss = variables.chain((a) =>
  fc.tuple(
    fc.constant(a),
    fc.tuple(name, value, fc.boolean()).map((edit) => withEdit(a, edit)),
  ),
);

const pairs = fc.oneof(fc.tuple(variables, variables), fc.tuple(small, small), nearMiss);

/** Equality as JSON sees it. */
function jsonEqual(a: Json, b: Json): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b; // -0 === 0
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i] as Json));
  }
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((n) => Object.hasOwn(b, n) && jsonEqual(a[n] as Json, b[n] as Json));
}

/** A copy that JSON cannot tell from the original: names in reverse order, a prototype-free object for each plain one and back, -0 for 0 and back. */
function jsonEqualCopy(value: Json): Json {
  if (typeof value === 'number') return value === 0 ? (Object.is(value, 0) ? -0 : 0) : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(jsonEqualCopy);
  const copy: { [name: string]: Json } = Object.getPrototypeOf(value) === null ? {} : Object.create(null);
  for (const n of Object.keys(value).reverse()) Object.defineProperty(copy, n, { value: jsonEqualCopy(value[n] as Json), enumerable: true, writable: true, configurable: true });
  return copy;
}

const hashOf = (vars: Json) => requestIdentity({ query: QUERY, variables: vars, operationName: undefined, extensions: undefined }, undefined)?.hash;

describe('cache keys, for any JSON variables', () => {
  it('are equal exactly when the variables are equal as JSON, and so are request identities', () => {
    let equalPairs = 0;
    fc.assert(
      fc.property(pairs, ([a, b]) => {
        const equal = jsonEqual(a, b);
        if (equal) equalPairs++;
        expect(canonicalEncode(a as KeyPart) === canonicalEncode(b as KeyPart)).toBe(equal);
        const [hashA, hashB] = [hashOf(a), hashOf(b)];
        expect(hashA).toBeTypeOf('string');
        expect(hashA === hashB).toBe(equal);
      }),
      { numRuns: RUNS },
    );
    // Else the property above would only ever have checked one direction.
    expect(equalPairs).toBeGreaterThan(0);
  });

  it('do not depend on the order of names, the prototype, or the sign of zero', () => {
    fc.assert(
      fc.property(variables, (a) => {
        const b = jsonEqualCopy(a);
        expect(canonicalEncode(b as KeyPart)).toBe(canonicalEncode(a as KeyPart));
        expect(hashOf(b)).toBe(hashOf(a));
      }),
      { numRuns: RUNS },
    );
  });

  it('stay brace-free and decode back to the same JSON', () => {
    fc.assert(
      fc.property(variables, (a) => {
        const key = canonicalEncode(a);
        expect(key).not.toMatch(/[{}]/);
        // Structural braces are outside strings and escaped ones inside, so JSON.parse reads both.
        expect(jsonEqual(JSON.parse(key.replace(/(?<!\\)((?:\\\\)*)\\u007([bd])/g, (_, slashes: string, c: string) => `${slashes}${c === 'b' ? '{' : '}'}`)) as Json, a)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('request identity, for any JSON request', () => {
  const anyNumber = fc.oneof(number, fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN));
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const { anyValue } = fc.letrec<{ anyValue: unknown }>((tie) => ({
    anyValue: fc.oneof({ depthSize: 'small', maxDepth: 4 }, anyNumber, leaf, fc.array(tie('anyValue'), { maxLength: 3 }), fc.dictionary(name, tie('anyValue'), { maxKeys: 3 })),
  }));
  const hasNonFinite = (value: unknown): boolean => (typeof value === 'number' ? !Number.isFinite(value) : typeof value === 'object' && value !== null && Object.values(value).some(hasNonFinite));

  it('never throws, and has none exactly when a variable holds a non-finite number', () => {
    fc.assert(
      fc.property(fc.dictionary(name, anyValue, { maxKeys: 4 }), (vars) => {
        const hash = hashOf(vars as Json);
        expect(hash === undefined).toBe(hasNonFinite(vars));
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws, whatever JSON each part of the request holds', () => {
    fc.assert(
      fc.property(fc.oneof(text, anyJson), anyJson, fc.oneof(text, anyJson), anyJson, fc.option(text), (query, vars, operationName, extensions, accept) => {
        const identity = requestIdentity({ query, variables: vars, operationName, extensions }, accept ?? undefined);
        if (identity !== undefined) expect(identity.hash).toMatch(/^[\w-]{43}$/);
      }),
      { numRuns: RUNS },
    );
  });
});
