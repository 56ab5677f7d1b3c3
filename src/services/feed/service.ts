/**
 * The feed service (ARCHITECTURE §6): hybrid fan-out on write.
 * - Its consumer (consumers.ts) keeps projections from the graph's and content's events and fans
 *   a new post out to the timelines of its author's ACTIVE followers, below the celebrity threshold.
 * - GetTimeline reads the stored timeline and merges the followed celebrities' recent posts at read
 *   time, writing nothing; PrepareTimeline records the reader's activity and rebuilds a missing or
 *   stale timeline (e.g. for a user back after a long absence).
 * - Explore ranks recent posts by Lemmy's hot rank, updated on every engagement event and
 *   refreshed by a periodic job as time passes.
 * This file wires the handlers (rpc/), the consumer and the periodic job; the SQL is in queries.ts.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { FeedService } from "../../gen/nova/feed/v1/feed_pb.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { fanOut, timelineConsumer } from "./consumers.ts";
import { type FeedDeps, feedContext } from "./context.ts";
import { getExplore } from "./rpc/getExplore.ts";
import { getTimeline } from "./rpc/getTimeline.ts";
import { prepareTimeline } from "./rpc/prepareTimeline.ts";

export type { FeedDeps, FeedOptions } from "./context.ts";

export function createFeed(deps: FeedDeps): {
  service: ServiceImpl<typeof FeedService>;
  consumers: EventHandler[];
  refreshHotRanks(): Promise<void>;
  fanOut(postId: string, authorId: string): Promise<number>;
} {
  const ctx = feedContext(deps);
  return {
    service: {
      getTimeline: getTimeline(ctx),
      prepareTimeline: prepareTimeline(ctx),
      getExplore: getExplore(ctx),
    },
    consumers: [timelineConsumer(ctx)],
    fanOut: (postId, authorId) => fanOut(ctx, postId, authorId),
    async refreshHotRanks() {
      await ctx.queries.refreshHotRanks(ctx.db.writer);
      await ctx.store.trim();
    },
  };
}
