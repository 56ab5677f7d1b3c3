/**
 * PrepareTimeline: the write GetTimeline leaves out. It records that the viewer reads their
 * timeline (so fan-out on write reaches them again; at most once per `activityRecheckMs`) and
 * rebuilds their stored timeline from the projections when it is missing or they were inactive
 * (fan-out skipped them meanwhile). Repeating it changes nothing more (IDEMPOTENT).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { FeedService } from "../../../gen/nova/feed/v1/feed_pb.ts";
import { counter } from "../../../platform/observability/metrics.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { FeedContext } from "../context.ts";

const rebuilds = counter("nova_feed_timeline_rebuilds_total", "Timelines rebuilt from Postgres on a miss");

export function prepareTimeline(ctx: FeedContext): ServiceImpl<typeof FeedService>["prepareTimeline"] {
  return async () => {
    const viewer = requireUser().userId;
    const wasActive = await recordActivity(ctx, viewer);
    const built = await ctx.store.keep(viewer);
    if (!wasActive || !built) await rebuild(ctx, viewer);
    return {};
  };
}

/**
 * Marks the viewer active (at most once per `activityRecheckMs`), so fan-out includes them again;
 * answers whether they were active before. A viewer this process knew active within that time is
 * active without asking the database.
 */
async function recordActivity(ctx: FeedContext, viewer: string): Promise<boolean> {
  if (ctx.seen.fresh(viewer)) return true;
  const before = await ctx.queries.activityOf(ctx.db.writer, viewer);
  ctx.seen.remember(viewer);
  await ctx.queries.recordActivity(ctx.db.writer, viewer);
  return before?.active === true;
}

async function rebuild(ctx: FeedContext, viewer: string): Promise<void> {
  await ctx.store.rebuild(viewer, await ctx.queries.timelineOf(ctx.db.writer, viewer));
  rebuilds.inc();
}
