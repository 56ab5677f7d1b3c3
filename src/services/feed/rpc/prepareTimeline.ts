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
    // Asked once: keep() also extends the stored timeline's life.
    const built = await ctx.store.keep(viewer);
    if (built && ctx.seen.fresh(viewer)) return {};
    const before = built ? await ctx.queries.activityOf(ctx.db.writer, viewer) : undefined;
    if (built && before?.active === true) {
      ctx.seen.remember(viewer);
      await ctx.queries.recordActivity(ctx.db.writer, viewer);
      return {};
    }
    await returning(ctx, viewer);
    return {};
  };
}

/**
 * A reader fan-out skipped (inactive, or no stored timeline): marked active and rebuilt under the
 * fan-out lock alone, so no batch that saw them inactive is still in flight and every later batch
 * sees them active (without it, a first read racing the fan-out of posts lost those posts for good).
 */
async function returning(ctx: FeedContext, viewer: string): Promise<void> {
  await ctx.db.writer.transaction().execute(async (trx) => {
    await ctx.queries.lockFanOut(trx, true);
    await ctx.queries.recordActivity(trx, viewer);
    await ctx.store.rebuild(viewer, await ctx.queries.timelineOf(trx, viewer));
  });
  ctx.seen.remember(viewer);
  rebuilds.inc();
}
