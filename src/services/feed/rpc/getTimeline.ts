/**
 * GetTimeline: the viewer's home timeline, newest first, as a skeleton of post ids. It writes
 * nothing (NO_SIDE_EFFECTS: a retry is safe): a timeline that is missing, or stale because the
 * viewer was inactive and fan-out skipped them, is computed from the projections for this page,
 * and `prepare` asks the caller to call PrepareTimeline, which records the activity and rebuilds.
 * Steps: activity -> skeleton -> celebrities -> present (as atproto's getTimeline.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { FeedService } from "../../../gen/nova/feed/v1/feed_pb.ts";
import { decodeCursor, encodeCursor, ID, pageSize } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { FeedContext } from "../context.ts";
import { PAGE } from "./page.ts";

interface Params {
  viewer: string;
  before: string | undefined;
  limit: number;
}

interface Activity {
  /** Seen within the inactivity window, so fan-out has been writing their timeline. */
  active: boolean;
  /** Their activity is due to be recorded (at most once per `activityRecheckMs`). */
  due: boolean;
}

interface Skeleton {
  postIds: string[];
  /** Computed from the projections: the stored timeline is missing or stale and wants a rebuild. */
  computed: boolean;
}

export function getTimeline(ctx: FeedContext): ServiceImpl<typeof FeedService>["getTimeline"] {
  return async (req) => {
    const params = {
      viewer: requireUser().userId,
      before: decodeCursor(req.cursor, ID),
      limit: pageSize(req.limit, PAGE),
    };
    const seen = await activity(ctx, params.viewer);
    const skeleton = await timelineSkeleton(ctx, params, seen);
    const postIds = await withCelebrities(ctx, params, skeleton.postIds);
    // A position is a post id (UUIDv7: time order); a full page may have more after it.
    const cursors = postIds.map((id) => encodeCursor(id));
    return {
      postIds,
      cursors,
      nextCursor: postIds.length === params.limit ? (cursors[params.limit - 1] ?? "") : "",
      prepare: seen.due || skeleton.computed,
    };
  };
}

/**
 * A viewer this process knew active within `activityRecheckMs` is active without asking the
 * database; else their recorded activity answers, and a recent enough record is remembered.
 */
async function activity(ctx: FeedContext, viewer: string): Promise<Activity> {
  if (ctx.seen.fresh(viewer)) return { active: true, due: false };
  const row = await ctx.queries.activityOf(ctx.db.writer, viewer);
  if (!row) return { active: false, due: true };
  const due = row.ageMs >= ctx.options.activityRecheckMs;
  if (!due && row.active) ctx.seen.remember(viewer, Date.now() - row.ageMs);
  return { active: row.active, due };
}

/**
 * The stored page; a returning user (inactive, so skipped by fan-out) finds a stale or missing
 * timeline, so their first page, and any page of a missing one, is what a rebuild would store.
 */
async function timelineSkeleton(ctx: FeedContext, p: Params, seen: Activity): Promise<Skeleton> {
  const stale = !seen.active && !p.before;
  const stored = stale ? undefined : await ctx.store.page(p.viewer, p.before, p.limit);
  if (stored) return { postIds: stored, computed: false };
  const entries = await ctx.queries.timelineOf(ctx.db.writer, p.viewer);
  const { before } = p;
  const below = before ? entries.filter((e) => e.postId < before) : entries;
  return { postIds: below.slice(0, p.limit).map((e) => e.postId), computed: true };
}

/** Celebrities the viewer follows: their posts are merged here instead of fanned out. */
async function withCelebrities(ctx: FeedContext, p: Params, stored: string[]): Promise<string[]> {
  const stars = await followedCelebrities(ctx, p.viewer);
  const theirs = stars.length ? await ctx.queries.postsOfAuthors(ctx.db.reader, stars, p.before, p.limit) : [];
  return [...new Set([...stored, ...theirs])].sort().reverse().slice(0, p.limit);
}

async function followedCelebrities(ctx: FeedContext, viewer: string): Promise<string[]> {
  const hit = ctx.stars.get(viewer);
  if (hit) return hit;
  const ids = await ctx.queries.followedCelebrities(ctx.db.reader, viewer);
  ctx.stars.set(viewer, ids);
  return ids;
}
