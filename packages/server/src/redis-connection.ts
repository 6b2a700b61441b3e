// One way to reach Redis for the cluster's services: a single instance (`redis://host:port`) or a
// Redis Cluster (`redis://host:port?cluster=1`, any node as the seed). Keys that belong together
// share a hash tag (`redisTag`), so every script touches one slot and runs on either.
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";

export type RedisClient = Redis | Cluster;

/** Opens a client, not yet connected (`lazyConnect`); `options` apply to every node's connection. */
export function redisClient(location: string, options: RedisOptions = {}): RedisClient {
  const url = new URL(location);
  const cluster = url.searchParams.get("cluster");
  url.searchParams.delete("cluster");
  if (cluster !== "1" && cluster !== "true") return new Redis(url.toString(), options);
  const tls = url.protocol === "rediss:";
  const clusterOptions: ClusterOptions = {
    lazyConnect: options.lazyConnect ?? false,
    // A subscriber per shard: sharded channels are served by the master holding their slot.
    shardedSubscribers: true,
    redisOptions: {
      ...options,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(tls ? { tls: {} } : {}),
    },
    ...(options.enableOfflineQueue === undefined
      ? {}
      : { enableOfflineQueue: options.enableOfflineQueue }),
    ...(options.enableReadyCheck === undefined
      ? {}
      : { enableReadyCheck: options.enableReadyCheck }),
  };
  return new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], clusterOptions);
}

/** A second client to the same place, for subscriptions. */
export function duplicateClient(client: RedisClient): RedisClient {
  return client instanceof Cluster ? client.duplicate() : client.duplicate();
}

/**
 * The hash tag of a user's keys: Redis hashes only what is inside the first `{…}`, so braces in
 * an ID are replaced (two IDs sharing a tag only share a slot; their keys stay distinct).
 */
export function redisTag(id: string): string {
  return `{${id.replace(/[{}]/g, "_")}}`;
}
