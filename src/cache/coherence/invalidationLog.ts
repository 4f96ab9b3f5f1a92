import { LRUCache } from 'lru-cache';

export interface LogFence {
  readonly sequence: number;
}

/**
 * This process's record of recent invalidations (TEMPORARY: replaced by the memory-tier branch's version).
 */
export class InvalidationLog {
  private sequence = 0;
  private forgottenAt = 0;
  private readonly invalidatedAt: LRUCache<string, number>;

  constructor(options: { rememberedTags?: number } = {}) {
    this.invalidatedAt = new LRUCache<string, number>({
      max: options.rememberedTags ?? 100_000,
      noDisposeOnSet: true,
      dispose: (sequence) => (this.forgottenAt = Math.max(this.forgottenAt, sequence)),
    });
  }

  record(tags: readonly string[]): void {
    this.sequence += 1;
    for (const tag of tags) this.invalidatedAt.set(tag, this.sequence);
  }

  fence(): LogFence {
    return { sequence: this.sequence };
  }

  invalidatedSince(tags: readonly string[], fence: LogFence): boolean {
    return tags.some((tag) => (this.invalidatedAt.get(tag) ?? this.forgottenAt) > fence.sequence);
  }

  forgetAll(): void {
    this.sequence += 1;
    this.forgottenAt = this.sequence;
    this.invalidatedAt.clear();
  }
}
