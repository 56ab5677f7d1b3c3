/**
 * The feed part of the gateway: the viewer's timeline and explore, both post
 * lists (skeleton from the feed service -> the kit's post hydrate, rules and
 * present, ../views.ts).
 */
import type { IResolvers } from "mercurius";
import { type GatewayContext, requireViewer } from "../context.ts";
import { call, type Page, pageArgs, postList, type Skeleton } from "../views.ts";

/** Skeleton: one page of the viewer's timeline (post ids and their cursors). */
async function timelineSkeleton(ctx: GatewayContext, args: Page): Promise<Skeleton> {
  requireViewer(ctx);
  const page = pageArgs(args, 50);
  const res = await call(ctx, () => ctx.deps.feed.getTimeline(page));
  // The read writes nothing; when it asks, the viewer's activity is recorded (and a missing or stale
  // stored timeline rebuilt) by its own call: about once a FEED_ACTIVITY_RECHECK_S per reader.
  if (res.prepare) await call(ctx, () => ctx.deps.feed.prepareTimeline({}));
  return { items: res.postIds, cursors: res.cursors, next: res.nextCursor };
}

/** Skeleton: one page of explore; signed out too (no viewer state, within the per-IP query budget). */
async function exploreSkeleton(ctx: GatewayContext, args: Page): Promise<Skeleton> {
  const page = pageArgs(args, 50);
  const res = await call(ctx, () => ctx.deps.feed.getExplore(page));
  return { items: res.postIds, cursors: res.cursors, next: res.nextCursor };
}

export const feedResolvers = {
  Query: {
    feed: postList(timelineSkeleton),
    // Explore reaches strangers: a private account's posts are never in it.
    explore: postList(exploreSkeleton, { publicOnly: true }),
  },
} satisfies IResolvers;
