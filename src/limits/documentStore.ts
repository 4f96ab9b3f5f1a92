import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { DocumentNode } from 'graphql';

/**
 * Apollo's cache of parsed and validated documents, bounded by what they really hold. Apollo's
 * default sizes an entry by `JSON.stringify(document)`, which leaves out the source text that every
 * node's `loc` keeps alive: distinct padded queries then grew the heap until the process died.
 * Here an entry costs its JSON plus its source text (two bytes a character, as V8 may store it).
 */
export function boundedDocumentStore(maxBytes: number): InMemoryLRUCache<DocumentNode> {
  return new InMemoryLRUCache<DocumentNode>({ maxSize: maxBytes, sizeCalculation: documentBytes });
}

/** The bound the app gives {@link boundedDocumentStore}: Apollo's own default, 30 MiB. */
export const DOCUMENT_STORE_BYTES = 30 * 1024 * 1024;

// Private:

function documentBytes(document: DocumentNode): number {
  const source = document.loc?.source.body.length ?? 0;
  // lru-cache refuses a size below 1.
  return Math.max(1, JSON.stringify(document).length + 2 * source);
}
