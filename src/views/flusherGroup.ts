import type { Cluster, Redis } from 'ioredis';
import type { StreamEntry } from './streamEntries.ts';
import { VIEW_FLUSHERS_GROUP, type ViewKeys } from './viewKeys.ts';

export interface FlusherGroupOptions {
  redis: Redis | Cluster;
  keys: ViewKeys;
  /** This flusher's name in the consumer group. */
  consumer: string;
  /** Stream entries per batch. */
  batchSize: number;
  /** Entries delivered to a consumer and not acked for this long (ms) are taken over. */
  claimIdleMs: number;
}

/**
 * One flusher's membership of the flushers' consumer group on the views stream: it reads a batch
 * (entries abandoned by a dead or failing consumer first, new entries otherwise) and acks it. See
 * ViewFlusher for why a batch is acked only after it is committed.
 */
export class FlusherGroup {
  private readonly redis: WithViewScripts;
  // Where the next XAUTOCLAIM resumes its walk through the group's pending entries.
  private claimCursor = '0-0';

  constructor(private readonly options: FlusherGroupOptions) {
    this.redis = options.redis as WithViewScripts;
    if (!('ackViews' in options.redis)) options.redis.defineCommand('ackViews', { numberOfKeys: 2, lua: ACK_VIEWS });
  }

  /**
   * The next batch. The consumer group is created (with the stream, MKSTREAM) by the first read that
   * finds it missing, which also covers a Redis that restarted empty.
   */
  async readBatch(): Promise<StreamEntry[]> {
    try {
      return await this.readFromGroup();
    } catch (error) {
      // A Redis that restarted empty, or a first run: the group must exist before anyone reads.
      if (!(error instanceof Error) || !error.message.startsWith('NOGROUP')) throw error;
      await this.createGroup();
      return this.readFromGroup();
    }
  }

  /** Acks, deletes and subtracts a batch together, so the pending counts never disagree with the stream. */
  async ack(ackArgs: string[]): Promise<void> {
    await this.redis.ackViews(this.options.keys.stream, this.options.keys.pending, VIEW_FLUSHERS_GROUP, ...ackArgs);
  }

  // Private:

  private async readFromGroup(): Promise<StreamEntry[]> {
    const { stream } = this.options.keys;
    const { consumer, batchSize } = this.options;
    const [cursor, claimed] = (await this.redis.xautoclaim(stream, VIEW_FLUSHERS_GROUP, consumer, this.options.claimIdleMs, this.claimCursor, 'COUNT', batchSize)) as [string, StreamEntry[]];
    this.claimCursor = cursor;
    if (claimed.length > 0) return claimed;
    const reply = await this.redis.xreadgroup('GROUP', VIEW_FLUSHERS_GROUP, consumer, 'COUNT', batchSize, 'STREAMS', stream, '>');
    return reply?.[0]?.[1] ?? [];
  }

  private async createGroup(): Promise<void> {
    try {
      // From the start of the stream: views recorded before any flusher ran are still to be applied.
      await this.redis.xgroup('CREATE', this.options.keys.stream, VIEW_FLUSHERS_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      // Another flusher created it first.
      if (!(error instanceof Error) || !error.message.startsWith('BUSYGROUP')) throw error;
    }
  }
}

// Private:

type WithViewScripts = (Redis | Cluster) & {
  ackViews(stream: string, pending: string, group: string, ...idsAndProducts: string[]): Promise<number>;
};

/**
 * KEYS: stream, pending. ARGV: group, then (entry id, product id) pairs. Acks each entry; only an
 * entry this call acked is deleted and subtracted from its product's pending count, so an entry acked
 * by two flushers is subtracted once. A count that reaches 0 loses its field.
 */
const ACK_VIEWS = `
local acked = {}
local handled = 0
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    handled = handled + 1
    local product = ARGV[i + 1]
    if product ~= '' then acked[product] = (acked[product] or 0) + 1 end
  end
end
for product, n in pairs(acked) do
  if redis.call('HINCRBY', KEYS[2], product, -n) <= 0 then redis.call('HDEL', KEYS[2], product) end
end
return handled
`;
