import type { Prisma } from '../database/database.ts';
import { reportingUnavailableWrite } from '../database/databaseErrors.ts';

/**
 * Records a product view straight in the database: what a server without Redis does (the embedded
 * quick start). Nothing is buffered, so nothing can be lost; the caller invalidates the cached row.
 */
export class DirectViewRecorder {
  constructor(private readonly prisma: Prisma) {}

  async record(productId: number): Promise<'direct'> {
    await reportingUnavailableWrite(() => this.prisma.$executeRaw`UPDATE "Product" SET "viewCount" = "viewCount" + 1, "version" = "version" + 1 WHERE "id" = ${productId}`);
    return 'direct';
  }
}
