/**
 * The feed's consumer: projections from the graph's and content's events (follows, hidden authors,
 * posts, follower counts, engagement), and fan-out on write of a new post to the timelines of its
 * author's ACTIVE followers, unless the author has more followers than the celebrity threshold.
 * Unfollow, block and mute take the author's posts out of the viewer's timeline; a deleted post
 * leaves every timeline.
 *
 * The payloads are read with their writers' declarations (graph/ and content/events.ts): only the
 * fields the feed uses, typed by the writer's schema. A payload that does not match throws, naming
 * the field; the types the feed does not use are left alone.
 */
import type { Transaction } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter, histogram } from "../../platform/observability/metrics.ts";
import { POST_EVENTS } from "../content/events.ts";
import { GRAPH_EVENTS } from "../graph/events.ts";
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
    topics: [GRAPH_EVENTS.topic, POST_EVENTS.topic],
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

// ---- What the feed reads of each event: the fields it uses, as their writers declare them.

/** graph's relationship events: userId follows, unfollows, blocks, mutes (or undoes it) targetId. */
const PAIR = { userId: true, targetId: true } as const;
const fromGraph = GRAPH_EVENTS.reader({
  Followed: PAIR,
  Unfollowed: PAIR,
  Blocked: PAIR,
  Unblocked: PAIR,
  Muted: PAIR,
  Unmuted: PAIR,
});
/** content's new posts (a missing time is the event's), engagement and removed posts. */
const POST = { postId: true } as const;
const fromContent = POST_EVENTS.reader({
  PostCreated: { postId: true, authorId: true, createdAt: "optional" },
  PostLiked: POST,
  PostUnliked: POST,
  CommentCreated: POST,
  CommentDeleted: POST,
  PostDeleted: { postId: true, authorId: true },
  PostPurged: { postId: true, authorId: true },
});
type Relationship = NonNullable<ReturnType<typeof fromGraph>>;
type PostEvent = NonNullable<ReturnType<typeof fromContent>>;
type Read = { from: "graph"; e: Relationship } | { from: "content"; e: PostEvent };

/** The event as the feed reads it, by the topic it came from; undefined for a type it does not use. */
function read(event: Envelope): Read | undefined {
  if (event.aggregate_type === GRAPH_EVENTS.aggregate) {
    const e = fromGraph(event);
    return e && { from: "graph", e };
  }
  const e = fromContent(event);
  return e && { from: "content", e };
}

/** Events in order; consecutive ones of one run kind in one go (`handle` is the batch of one). */
async function apply(ctx: FeedContext, events: Envelope[], trx: Transaction<unknown>) {
  // Held shared with every other batch before the first effect; a returning reader's rebuild waits
  // for it (queries.lockFanOut).
  let locked = false;
  const lock = async () => {
    if (!locked) await ctx.queries.lockFanOut(trx, false);
    locked = true;
  };
  let run: Run | undefined;
  for (const event of events) {
    const r = read(event);
    const item = r && runItem(event, r);
    if (item && run?.kind === item.kind) {
      (run.items as unknown[]).push(...item.items);
      continue;
    }
    if (run) await lock().then(() => applyRun(ctx, trx, run as Run));
    run = item;
    if (r && !item) {
      await lock();
      await (r.from === "graph" ? onRelationship(ctx, r.e, trx) : onPost(ctx, r.e, trx));
    }
  }
  if (run) await lock().then(() => applyRun(ctx, trx, run as Run));
}

/** The run an event joins (consecutive follows, new posts or counts are applied together), if any. */
function runItem(event: Envelope, r: Read): Run | undefined {
  if (r.from === "graph") {
    const { type, payload } = r.e;
    return type === "Followed" ? { kind: "follow", items: [[payload.userId, payload.targetId]] } : undefined;
  }
  const e = r.e;
  switch (e.type) {
    case "PostCreated": {
      const { postId, authorId, createdAt } = e.payload;
      return { kind: "post", items: [{ postId, authorId, created: createdAt ?? event.occurred_at }] };
    }
    case "PostLiked":
    case "PostUnliked":
    case "CommentCreated":
    case "CommentDeleted": {
      const d = e.type === "PostLiked" || e.type === "CommentCreated" ? 1 : -1;
      const likes = e.type.startsWith("Post") ? d : 0;
      return { kind: "engagement", items: [{ postId: e.payload.postId, likes, comments: d - likes }] };
    }
    default:
      return undefined;
  }
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

async function onRelationship(ctx: FeedContext, event: Relationship, trx: Transaction<unknown>) {
  const { userId: user, targetId: target } = event.payload;
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

async function onPost(ctx: FeedContext, event: PostEvent, trx: Transaction<unknown>) {
  if (event.type !== "PostDeleted" && event.type !== "PostPurged") return;
  const { postId, authorId } = event.payload;
  await ctx.queries.lockAuthors(trx, [authorId]);
  await ctx.queries.markDeleted(trx, postId);
  const followers = await ctx.queries.followersOf(trx, authorId);
  await ctx.store.removePost([...followers, authorId], postId);
  if (event.type === "PostPurged") await ctx.queries.purgePost(trx, postId);
}
