/**
 * The feed's handlers on real PostgreSQL (the shared test database, the Postgres timeline store),
 * called directly as a signed-in user: rows come from small factories for the feed's own tables,
 * and each test's users are new, so tests do not see each other's rows (explore's, given ranks
 * above any real one, are deleted after).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import pino from "pino";
import { eventEnvelope, services } from "../../../test/helpers.ts";
import { GetExploreRequestSchema, GetTimelineRequestSchema } from "../../gen/nova/feed/v1/feed_pb.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { NovaError } from "../../platform/errors.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import { uuidv7 } from "../../platform/validate.ts";
import { createFeed, type FeedOptions } from "./service.ts";
import { postgresStore } from "./store.ts";

const pool = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
const OPTIONS: FeedOptions = {
  celebrityThreshold: 2,
  timelineSize: 800,
  inactiveMs: 7 * 86_400_000,
  activityRecheckMs: 60_000,
};
const feed = createFeed({
  db: { writer: db, reader: db },
  store: postgresStore(db, { size: OPTIONS.timelineSize }),
  log: pino({ level: "silent" }),
  options: OPTIONS,
});
const created: string[] = [];

before(() => migrate(pool, [{ schema: "feed", dir: new URL("./migrations/", import.meta.url) }]));
after(async () => {
  await sql`DELETE FROM feed.posts WHERE author_id = ANY(${created}::uuid[])`.execute(db);
  await db.destroy();
});

// ---- factories: rows in the feed's tables, as its consumer would have written them ----

function user(): string {
  const id = randomUUID();
  created.push(id);
  return id;
}

/** `viewer` last read their feed `daysAgo` days ago. */
async function seen(viewer: string, daysAgo = 0) {
  await sql`INSERT INTO feed.activity (user_id, last_seen_at) VALUES (${viewer}::uuid, now() - make_interval(days => ${daysAgo}))
    ON CONFLICT (user_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at`.execute(db);
}

async function follow(follower: string, followee: string) {
  await sql`INSERT INTO feed.follows (follower_id, followee_id) VALUES (${follower}::uuid, ${followee}::uuid)`.execute(
    db,
  );
  await sql`INSERT INTO feed.authors AS a (author_id, followers) VALUES (${followee}::uuid, 1)
    ON CONFLICT (author_id) DO UPDATE SET followers = a.followers + 1`.execute(db);
}

/** A post (ids in time order); `rank` sets its hot rank (else the one a new post gets). */
async function post(author: string, opts: { rank?: number; deleted?: boolean } = {}): Promise<string> {
  const id = uuidv7();
  await sql`INSERT INTO feed.posts (post_id, author_id, created_at, deleted, hot_rank)
    VALUES (${id}::uuid, ${author}::uuid, now(), ${opts.deleted ?? false}, coalesce(${opts.rank ?? null}::float8, feed.hot_rank(0, now())))`.execute(
    db,
  );
  return id;
}

/** A stored timeline holding exactly these posts (as fan-out or a rebuild left it). */
async function storedTimeline(viewer: string, entries: { postId: string; authorId: string }[]) {
  await postgresStore(db, { size: OPTIONS.timelineSize }).rebuild(viewer, entries);
}

/** Everything the feed stores about a viewer besides the projections: what GetTimeline must not change. */
async function viewerRows(viewer: string) {
  const q = async (s: ReturnType<typeof sql>) => (await s.execute(db)).rows;
  return {
    activity: await q(sql`SELECT last_seen_at FROM feed.activity WHERE user_id = ${viewer}::uuid`),
    timeline: await q(sql`SELECT post_id::text FROM feed.timeline WHERE user_id = ${viewer}::uuid ORDER BY 1`),
    built: await q(sql`SELECT built_at FROM feed.timeline_built WHERE user_id = ${viewer}::uuid`),
  };
}

// ---- calls as a signed-in user (or a visitor) ----

const as = <T>(viewer: string | undefined, fn: () => Promise<T>) =>
  runWithCall(viewer ? { user: { userId: viewer, sessionId: randomUUID() } } : {}, fn);
const handler = {} as HandlerContext;

async function timeline(viewer: string, opts: { limit?: number; cursor?: string } = {}) {
  const getTimeline = feed.service.getTimeline;
  if (!getTimeline) throw new Error("no GetTimeline");
  return await as(viewer, async () => getTimeline(create(GetTimelineRequestSchema, opts), handler));
}

async function prepare(viewer: string) {
  const prepareTimeline = feed.service.prepareTimeline;
  if (!prepareTimeline) throw new Error("no PrepareTimeline");
  await as(viewer, async () => prepareTimeline({ $typeName: "nova.feed.v1.PrepareTimelineRequest" }, handler));
}

async function explore(viewer: string | undefined, opts: { limit?: number; cursor?: string } = {}) {
  const getExplore = feed.service.getExplore;
  if (!getExplore) throw new Error("no GetExplore");
  return await as(viewer, async () => getExplore(create(GetExploreRequestSchema, opts), handler));
}

const newestFirst = (ids: string[]) => [...ids].sort().reverse();

describe("GetTimeline writes nothing", () => {
  test("an active reader with a stored timeline gets it, and nothing to prepare", async () => {
    const [viewer, author] = [user(), user()];
    await seen(viewer);
    await follow(viewer, author);
    const [p1, p2, p3] = [await post(author), await post(author), await post(author)];
    // The stored timeline is what is read: p2 is not in it.
    await storedTimeline(
      viewer,
      [p1, p3].map((postId) => ({ postId, authorId: author })),
    );
    const before = await viewerRows(viewer);
    const res = await timeline(viewer);
    assert.deepEqual(res.postIds, [p3, p1]);
    assert.equal(res.prepare, false);
    assert.ok(p2);
    assert.deepEqual(await viewerRows(viewer), before);
  });

  test("a returning (inactive) reader's stale timeline: the page is computed from the projections, unstored", async () => {
    const [viewer, author] = [user(), user()];
    await follow(viewer, author);
    const old = await post(author);
    await storedTimeline(viewer, [{ postId: old, authorId: author }]);
    await seen(viewer, 8);
    const missed = await post(author); // fan-out skipped the inactive viewer
    await post(author, { deleted: true });
    const mine = await post(viewer);
    const before = await viewerRows(viewer);
    const res = await timeline(viewer);
    assert.deepEqual(res.postIds, [mine, missed, old]);
    assert.equal(res.prepare, true);
    assert.deepEqual(await viewerRows(viewer), before, "no activity recorded, no rebuild stored");
  });

  test("a first-time reader with no timeline: computed, paged by the same cursors, nothing stored", async () => {
    const [viewer, author, muted] = [user(), user(), user()];
    await follow(viewer, author);
    await follow(viewer, muted);
    await sql`INSERT INTO feed.hidden (viewer_id, author_id, reason) VALUES (${viewer}::uuid, ${muted}::uuid, 'mute')`.execute(
      db,
    );
    const posts: string[] = [];
    for (let i = 0; i < 5; i++) posts.push(await post(author));
    await post(muted);
    const first = await timeline(viewer, { limit: 3 });
    assert.deepEqual(first.postIds, newestFirst(posts).slice(0, 3));
    assert.deepEqual(
      first.cursors,
      first.postIds.map((id) => Buffer.from(id).toString("base64url")),
    );
    assert.equal(first.nextCursor, first.cursors[2]);
    assert.equal(first.prepare, true);
    const second = await timeline(viewer, { limit: 3, cursor: first.nextCursor });
    assert.deepEqual(second.postIds, newestFirst(posts).slice(3));
    assert.equal(second.nextCursor, "", "a short page is the last");
    assert.deepEqual(await viewerRows(viewer), { activity: [], timeline: [], built: [] });
  });

  test("a followed celebrity's posts are merged at read time; a bad cursor is VALIDATION_FAILED", async () => {
    const [viewer, star, fan1, fan2] = [user(), user(), user(), user()];
    await seen(viewer);
    for (const f of [viewer, fan1, fan2]) await follow(f, star); // 3 followers > threshold 2
    await storedTimeline(viewer, []);
    const p = await post(star);
    const res = await timeline(viewer);
    assert.deepEqual(res.postIds, [p]);
    assert.deepEqual((await viewerRows(viewer)).timeline, [], "not stored");
    await assert.rejects(
      timeline(viewer, { cursor: "nope" }),
      (e) => e instanceof NovaError && e.code === "VALIDATION_FAILED" && e.field === "cursor",
    );
  });
});

describe("PrepareTimeline", () => {
  test("records a returning reader's activity and rebuilds their stale timeline; then GetTimeline reads it", async () => {
    const [viewer, author] = [user(), user()];
    await follow(viewer, author);
    await storedTimeline(viewer, []);
    await seen(viewer, 8);
    const missed = await post(author);
    await prepare(viewer);
    const rows = await viewerRows(viewer);
    assert.deepEqual(rows.timeline, [{ post_id: missed }], "rebuilt");
    const age = await sql<{ s: number }>`SELECT extract(epoch FROM now() - last_seen_at)::float8 AS s
      FROM feed.activity WHERE user_id = ${viewer}::uuid`.execute(db);
    assert.ok(Number(age.rows[0]?.s) < 60, "seen now");
    const res = await timeline(viewer);
    assert.deepEqual(res.postIds, [missed]);
    assert.equal(res.prepare, false, "prepared: nothing due");
  });

  test("a first-time reader: activity recorded and a timeline built", async () => {
    const [viewer, author] = [user(), user()];
    await follow(viewer, author);
    const p = await post(author);
    await prepare(viewer);
    const rows = await viewerRows(viewer);
    assert.equal(rows.activity.length, 1);
    assert.equal(rows.built.length, 1);
    assert.deepEqual(rows.timeline, [{ post_id: p }]);
  });

  test("an active reader's built timeline is left as it is; a repeat changes nothing", async () => {
    const [viewer, author] = [user(), user()];
    await follow(viewer, author);
    const [p1, p2] = [await post(author), await post(author)];
    await storedTimeline(viewer, [{ postId: p1, authorId: author }]); // p2 arrives by fan-out, not a rebuild
    await seen(viewer);
    await prepare(viewer);
    const once = await viewerRows(viewer);
    assert.deepEqual(once.timeline, [{ post_id: p1 }]);
    assert.ok(p2);
    await prepare(viewer);
    assert.deepEqual(await viewerRows(viewer), once);
  });
});

describe("the consumer: unmute and unblock", () => {
  const consume = async (type: string, userId: string, targetId: string) => {
    const consumer = feed.consumers[0];
    if (!consumer) throw new Error("no consumer");
    const event = eventEnvelope(type, "relationship", userId, { userId, targetId });
    await db.transaction().execute((trx) => consumer.handle(event, trx));
  };

  // A read racing the consumer once rebuilt the timeline from the still-hidden projection (the
  // timeline was forgotten before the unhide committed), so the posts never came back.
  test("an unmute puts the author's posts back in the stored timeline at once, with no rebuild on read", async () => {
    const [viewer, author] = [user(), user()];
    await seen(viewer);
    await follow(viewer, author);
    const [p1, p2] = [await post(author), await post(author)];
    await storedTimeline(
      viewer,
      [p1, p2].map((postId) => ({ postId, authorId: author })),
    );
    await consume("Muted", viewer, author);
    assert.deepEqual((await viewerRows(viewer)).timeline, [], "muted: gone");
    await consume("Unmuted", viewer, author);
    const rows = await viewerRows(viewer);
    assert.deepEqual(
      rows.timeline,
      [p1, p2].sort().map((post_id) => ({ post_id })),
      "back, stored",
    );
    assert.equal(rows.built.length, 1, "still built: no read rebuilds it");
    const res = await timeline(viewer);
    assert.deepEqual(res.postIds, [p2, p1]);
    assert.equal(res.prepare, false);
  });

  test("an unmute of someone still blocked, or not followed, puts nothing back", async () => {
    const [viewer, blocked, stranger] = [user(), user(), user()];
    await seen(viewer);
    await follow(viewer, blocked);
    await post(blocked);
    await post(stranger);
    await storedTimeline(viewer, []);
    await consume("Blocked", viewer, blocked);
    await consume("Muted", viewer, blocked);
    await consume("Unmuted", viewer, blocked);
    await consume("Muted", viewer, stranger);
    await consume("Unmuted", viewer, stranger);
    assert.deepEqual((await viewerRows(viewer)).timeline, []);
  });
});

describe("GetExplore", () => {
  // Ranks far above any real post's, so these lead the shared database's explore.
  const TOP = 1e9;

  test("hot rank order (post id breaks ties), cursors continue, a viewer's hidden authors are left out", async () => {
    const [a, b, viewer] = [user(), user(), user()];
    const low = await post(a, { rank: TOP + 1 });
    const tieOld = await post(b, { rank: TOP + 2 });
    const tieNew = await post(a, { rank: TOP + 2 });
    const high = await post(b, { rank: TOP + 3 });
    await post(a, { rank: TOP + 4, deleted: true });
    const order = [high, tieNew, tieOld, low];
    const first = await explore(undefined, { limit: 2 });
    assert.deepEqual(first.postIds, order.slice(0, 2));
    assert.equal(first.nextCursor, first.cursors?.[1]);
    const second = await explore(undefined, { limit: 2, cursor: first.nextCursor });
    assert.deepEqual(second.postIds, order.slice(2));
    const fromTie = await explore(undefined, { limit: 1, cursor: first.cursors?.[1] });
    assert.deepEqual(fromTie.postIds, [tieOld], "a per-item cursor continues after its post");

    await sql`INSERT INTO feed.hidden (viewer_id, author_id, reason) VALUES (${viewer}::uuid, ${b}::uuid, 'block')`.execute(
      db,
    );
    const hidden = await explore(viewer, { limit: 2 });
    assert.deepEqual(hidden.postIds, [tieNew, low]);
    await assert.rejects(
      explore(undefined, { cursor: Buffer.from("1:not-an-id").toString("base64url") }),
      (e) => e instanceof NovaError && e.code === "VALIDATION_FAILED" && e.field === "cursor",
    );
  });
});
