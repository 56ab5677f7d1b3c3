/**
 * The feed's consumer: projections from the graph's and content's events (follows, hidden authors,
 * posts, follower counts, engagement), and fan-out on write of a new post to the timelines of its
 * author's ACTIVE followers, unless the author has more followers than the celebrity threshold.
 * Unfollow, block and mute take the author's posts out of the viewer's timeline; a deleted post
 * leaves every timeline.
 */
import type { Transaction } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter, histogram } from "../../platform/observability/metrics.ts";
import { isUuid } from "../../platform/validate.ts";
import type { FeedContext } from "./context.ts";

const fanouts = counter("nova_feed_fanout_timelines_total", "Timelines a post was written to by fan-out");
const fanoutSeconds = histogram(
  "nova_feed_fanout_seconds",
  "Time to write one fan-out (the posts of a consumer batch)",
  [],
);

type NewPost = { postId: string; authorId: string; created: string };
type Engagement = { postId: string; likes: number; comments: number };
type Run =
  | { kind: "follow"; items: [string, string][] }
  | { kind: "post"; items: NewPost[] }
  | { kind: "engagement"; items: Engagement[] };

// One consumer for both topics: in the embedded log they arrive in commit order.
export function timelineConsumer(ctx: FeedContext): EventHandler {
  return {
    name: "feed.timelines",
    schema: "feed",
    topics: ["nova.graph.relationship", "nova.content.post"],
    handle: (event, trx) => apply(ctx, [event], trx),
    handleBatch: (events, trx) => apply(ctx, events, trx),
  };
}

/** Fans one post out now (outside a consumer batch); answers how many followers it reached. */
export async function fanOut(ctx: FeedContext, postId: string, authorId: string): Promise<number> {
  const db = ctx.db.writer;
  if (await ctx.queries.isCelebrity(db, authorId)) return 0;
  const followers = await ctx.queries.activeFollowers(db, authorId);
  await writeFanOut(ctx, [{ postId, authorId, followers }]);
  return followers.length;
}

/** Events in order; consecutive ones of one run kind in one go (`handle` is the batch of one). */
async function apply(ctx: FeedContext, events: Envelope[], trx: Transaction<unknown>) {
  let run: Run | undefined;
  for (const event of events) {
    const item = runItem(event);
    if (item && run?.kind === item.kind) {
      (run.items as unknown[]).push(...item.items);
      continue;
    }
    if (run) await applyRun(ctx, trx, run);
    run = item;
    if (!item) {
      await (event.aggregate_type === "relationship" ? onRelationship(ctx, event, trx) : onPost(ctx, event, trx));
    }
  }
  if (run) await applyRun(ctx, trx, run);
}

/** The run an event joins (consecutive follows, new posts or counts are applied together), if any. */
function runItem(event: Envelope): Run | undefined {
  const p = event.payload;
  if (event.aggregate_type === "relationship") {
    return event.type === "Followed" ? { kind: "follow", items: [ids(p, "userId", "targetId")] } : undefined;
  }
  switch (event.type) {
    case "PostCreated": {
      const [postId, authorId] = ids(p, "postId", "authorId");
      const created = typeof p.createdAt === "string" ? p.createdAt : event.occurred_at;
      return { kind: "post", items: [{ postId, authorId, created }] };
    }
    case "PostLiked":
    case "PostUnliked":
    case "CommentCreated":
    case "CommentDeleted": {
      const [postId] = ids(p, "postId");
      const d = event.type === "PostLiked" || event.type === "CommentCreated" ? 1 : -1;
      const likes = event.type.startsWith("Post") ? d : 0;
      return { kind: "engagement", items: [{ postId, likes, comments: d - likes }] };
    }
    default:
      return undefined;
  }
}

function ids<N extends string[]>(p: Record<string, unknown>, ...names: N): { [K in keyof N]: string } {
  return names.map((n) => {
    const v = p[n];
    if (typeof v !== "string" || !isUuid(v)) throw new Error(`payload.${n} must be an id`);
    return v;
  }) as { [K in keyof N]: string };
}

async function applyRun(ctx: FeedContext, trx: Transaction<unknown>, run: Run) {
  if (run.kind === "follow") await follows(ctx, trx, run.items);
  else if (run.kind === "post") await posts(ctx, trx, run.items);
  else await ctx.queries.applyEngagement(trx, run.items);
}

/**
 * Consecutive follows at once: the author locks (in id order), the follows and the authors' counts
 * in one statement; the new followees' recent posts join the followers' built timelines, and a
 * follow that took its author past the celebrity threshold adds none, as one at a time would.
 */
async function follows(ctx: FeedContext, trx: Transaction<unknown>, pairs: [string, string][]) {
  for (const [user, target] of pairs) {
    ctx.stars.delete(user);
    ctx.stars.delete(target);
  }
  await ctx.queries.lockAuthors(
    trx,
    pairs.map((p) => p[1]),
  );
  const rows = await ctx.queries.insertFollows(trx, pairs);
  if (rows.length === 0) return;
  // The follower count each new follow left its author at, in event order (the last one at the end count).
  const inserted = new Set(rows.map((x) => `${x.user_id}:${x.target_id}`));
  const final = new Map(rows.map((x) => [x.target_id, x.followers]));
  const later = new Map<string, number>();
  for (const x of rows) later.set(x.target_id, (later.get(x.target_id) ?? 0) + 1);
  const added: [string, string][] = [];
  for (const [user, target] of pairs) {
    if (!inserted.delete(`${user}:${target}`)) continue; // already following, or a repeat in this run
    const left = (later.get(target) ?? 1) - 1;
    later.set(target, left);
    if ((final.get(target) ?? 0) - left <= ctx.options.celebrityThreshold) added.push([user, target]);
  }
  if (added.length === 0) return;
  // The followee's recent posts join the follower's timeline if it exists (else it is rebuilt on read).
  const built = await ctx.store.builtAmong([...new Set(added.map((p) => p[0]))]);
  const backfill = added.filter(([user]) => built.has(user));
  if (backfill.length === 0) return;
  const postsOf = await ctx.queries.newestPostsOf(trx, [...new Set(backfill.map((p) => p[1]))]);
  for (const [user, target] of backfill) {
    await ctx.store.add(
      user,
      (postsOf.get(target) ?? []).map((postId) => ({ postId, authorId: target })),
    );
  }
}

/**
 * Consecutive new posts at once: the author locks, the posts and (below the celebrity threshold)
 * each author's active followers in one statement; then their fan-out in one write.
 */
async function posts(ctx: FeedContext, trx: Transaction<unknown>, list: NewPost[]) {
  await ctx.queries.lockAuthors(
    trx,
    list.map((p) => p.authorId),
  );
  const rows = await ctx.queries.insertPosts(trx, list);
  await writeFanOut(
    ctx,
    rows.flatMap((x) => (x.followers ? [{ postId: x.post_id, authorId: x.author_id, followers: x.followers }] : [])),
  );
}

/** Writes each post to its followers' timelines, and its author's own. */
async function writeFanOut(
  ctx: FeedContext,
  posts: { postId: string; authorId: string; followers: string[] }[],
): Promise<void> {
  if (posts.length === 0) return;
  const end = fanoutSeconds.startTimer();
  await ctx.store.fanOut(
    posts.map((p) => ({ postId: p.postId, authorId: p.authorId, userIds: [...p.followers, p.authorId] })),
  );
  for (const p of posts) fanouts.inc(p.followers.length + 1);
  end();
}

async function onRelationship(ctx: FeedContext, event: Envelope, trx: Transaction<unknown>) {
  const [user, target] = ids(event.payload, "userId", "targetId");
  // The viewer's followed celebrities may have changed (follow, unfollow, mute, block).
  ctx.stars.delete(user);
  ctx.stars.delete(target);
  switch (event.type) {
    case "Unfollowed":
      await ctx.queries.lockAuthors(trx, [target]);
      await ctx.queries.deleteFollow(trx, user, target);
      await ctx.store.remove(user, await ctx.queries.recentPostsOf(trx, target), target);
      return;
    case "Blocked":
      await hide(ctx, trx, user, target, "block");
      await hide(ctx, trx, target, user, "block");
      return;
    case "Unblocked":
      await unhide(ctx, trx, user, target, "block");
      await unhide(ctx, trx, target, user, "block");
      return;
    case "Muted":
      await hide(ctx, trx, user, target, "mute");
      return;
    case "Unmuted":
      await unhide(ctx, trx, user, target, "mute");
      return;
    default:
      return;
  }
}

async function hide(ctx: FeedContext, trx: Transaction<unknown>, viewer: string, author: string, reason: Reason) {
  await ctx.queries.hide(trx, viewer, author, reason);
  await ctx.store.remove(viewer, await ctx.queries.recentPostsOf(trx, author), author);
}

async function unhide(ctx: FeedContext, trx: Transaction<unknown>, viewer: string, author: string, reason: Reason) {
  await ctx.queries.unhide(trx, viewer, author, reason);
  // The posts go back in now, as a follow's backfill does. Not "forget the timeline so a read
  // rebuilds it": a read between that and this transaction's commit rebuilt it still hidden.
  if (!(await ctx.store.builtAmong([viewer])).has(viewer)) return;
  const postIds = await ctx.queries.restorablePostsOf(trx, viewer, author);
  await ctx.store.add(
    viewer,
    postIds.map((postId) => ({ postId, authorId: author })),
  );
}

type Reason = "mute" | "block";

async function onPost(ctx: FeedContext, event: Envelope, trx: Transaction<unknown>) {
  if (event.type !== "PostDeleted" && event.type !== "PostPurged") return;
  const [postId, authorId] = ids(event.payload, "postId", "authorId");
  await ctx.queries.lockAuthors(trx, [authorId]);
  await ctx.queries.markDeleted(trx, postId);
  const followers = await ctx.queries.followersOf(trx, authorId);
  await ctx.store.removePost([...followers, authorId], postId);
  if (event.type === "PostPurged") await ctx.queries.purgePost(trx, postId);
}
