import type { ClusterNode, Config } from './config.ts';

/** Where L3 is: one Redis, a Redis Cluster, or nowhere. */
export function redisTarget(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): { url: string } | { clusterNodes: readonly ClusterNode[] } | undefined {
  if (config.redisClusterNodes) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl === undefined ? undefined : { url: config.redisUrl };
}

/** Where product views are buffered: see {@link Config.viewsRedisUrl}; undefined, nowhere (each view goes straight to the database). */
export function viewsRedisTarget(config: Config): ReturnType<typeof redisTarget> {
  if (config.viewsRedisUrl !== undefined) return { url: config.viewsRedisUrl };
  return config.cacheTiers.has('l3') ? redisTarget(config) : undefined;
}
