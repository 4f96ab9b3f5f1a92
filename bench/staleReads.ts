/**
 * Which reads were stale: a read that started after a write to its product was answered, and still
 * shows an older value. Pure: the times are the caller's (performance.now() of the bench), and
 * every write carries a sequence number that the value it writes encodes, so a value read back
 * tells which write it came from.
 */

/** A write that was answered (200, no errors, the written value in the answer). */
export interface AnsweredWrite {
  /** The write's number, from 1; what the product showed before the first write counts as 0. */
  seq: number;
  /** The instance that answered it. */
  instance: number;
  answeredAt: number;
}

/** What one read showed for one product. */
export interface ProductRead {
  productId: string;
  /** The number of the write whose value the read showed; 0 for a value no write made. */
  seq: number;
  /** The instance that served the read. */
  instance: number;
  startedAt: number;
}

export type ReadVerdict =
  | { kind: 'fresh' }
  | {
      kind: 'stale';
      /**
       * `writer`: the instance that served the read had itself answered a newer write (read-your-writes
       * broken). `other`: every newer write was answered by another instance (a lost or late invalidation).
       */
      on: 'writer' | 'other';
      productId: string;
      seen: number;
      /** The newest write answered before the read started. */
      expected: number;
      /** From the answer of the first write newer than what was seen to the start of the read. */
      lagMs: number;
    };

/** The answered writes of every product, and the verdict on any read against them. */
export class WriteLog {
  private readonly byProduct = new Map<string, AnsweredWrite[]>();

  answered(productId: string, write: AnsweredWrite): this {
    const writes = this.byProduct.get(productId) ?? [];
    writes.push(write);
    this.byProduct.set(productId, writes);
    return this;
  }

  judge(read: ProductRead): ReadVerdict {
    const newer = (this.byProduct.get(read.productId) ?? []).filter((w) => w.seq > read.seq && w.answeredAt < read.startedAt);
    if (newer.length === 0) return { kind: 'fresh' };
    return {
      kind: 'stale',
      on: newer.some((w) => w.instance === read.instance) ? 'writer' : 'other',
      productId: read.productId,
      seen: read.seq,
      expected: Math.max(...newer.map((w) => w.seq)),
      lagMs: read.startedAt - Math.min(...newer.map((w) => w.answeredAt)),
    };
  }

  /** One read of several products (a list): stale on the writer if any product is, else the longest lag. */
  judgeAll(reads: readonly ProductRead[]): ReadVerdict {
    let worst: ReadVerdict = { kind: 'fresh' };
    for (const read of reads) {
      const verdict = this.judge(read);
      if (verdict.kind === 'fresh') continue;
      if (worst.kind === 'fresh' || rank(verdict) > rank(worst)) worst = verdict;
    }
    return worst;
  }
}

/** Stale on the writer outranks any lag on another instance. */
function rank(verdict: Extract<ReadVerdict, { kind: 'stale' }>): number {
  return (verdict.on === 'writer' ? 1e12 : 0) + verdict.lagMs;
}
