import { Redis } from "ioredis";
import { FeedService } from "../../gen/nova/feed/v1/feed_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import { eraseProjections } from "./queries.ts";
import { createFeed } from "./service.ts";
import { postgresStore, redisStore, type TimelineStore } from "./store.ts";

/**
 * Timelines live in Redis sorted sets when REDIS_URL is set (distributed
 * mode), else in PostgreSQL (embedded mode): see README, "Home feed".
 */
export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const db = ctx.db().kysely<unknown>();
  const c = ctx.config;
  let redis: Redis | undefined;
  let store: TimelineStore;
  if (c.REDIS_URL) {
    redis = new Redis(c.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
    redis.on("error", (err) => ctx.log.warn({ err }, "feed: redis error"));
    store = redisStore(redis, { size: c.FEED_TIMELINE_SIZE, ttlMs: c.FEED_INACTIVE_DAYS * 86_400_000 });
  } else {
    store = postgresStore(db.writer, { size: c.FEED_TIMELINE_SIZE });
  }
  const feed = createFeed({
    db,
    store,
    log: ctx.log,
    options: {
      celebrityThreshold: c.FEED_CELEBRITY_THRESHOLD,
      timelineSize: c.FEED_TIMELINE_SIZE,
      inactiveMs: c.FEED_INACTIVE_DAYS * 86_400_000,
      activityRecheckMs: c.FEED_ACTIVITY_RECHECK_S * 1000,
    },
  });
  // An erased account leaves every timeline and every projection (identity's AccountErased).
  const erasure = erasureConsumer("feed.erasure", "feed", async (userId, trx) => {
    const { followers, postIds } = await eraseProjections(trx, userId);
    await store.erase(userId, followers, postIds);
  });
  const refresh = setInterval(() => {
    feed.refreshHotRanks().catch((err) => ctx.log.warn({ err }, "feed: hot rank refresh failed"));
  }, 300_000);
  refresh.unref();
  ctx.log.info({ store: store.kind }, "feed timelines");
  return {
    services: [{ service: FeedService, impl: feed.service }],
    consumers: [...feed.consumers, erasure],
    ready: async () => (redis ? redis.status === "ready" : true),
    async stop() {
      clearInterval(refresh);
      redis?.disconnect();
    },
  };
}
