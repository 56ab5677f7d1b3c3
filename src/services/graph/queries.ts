/**
 * The graph's SQL, over its typed tables. Adding or removing a follow updates
 * `graph.counts` in the same transaction, so counts stay exact.
 */
import { create } from "@bufbuild/protobuf";
import { type Generated, type Kysely, sql } from "kysely";
import { type Counts, CountsSchema, type Relationship, RelationshipSchema } from "../../gen/nova/graph/v1/graph_pb.ts";
import { keysetPage, type Page } from "../../platform/paging.ts";

interface FollowsTable {
  follower_id: string;
  followee_id: string;
  /** bigint, read as text by node-postgres. */
  seq: Generated<string>;
  created_at: Generated<Date>;
}
interface BlocksTable {
  blocker_id: string;
  blocked_id: string;
  /** bigint, read as text: the owner's list order (ListBlocked). */
  seq: Generated<string>;
  created_at: Generated<Date>;
}
interface MutesTable {
  muter_id: string;
  muted_id: string;
  /** bigint, read as text: the owner's list order (ListMuted). */
  seq: Generated<string>;
  created_at: Generated<Date>;
}
interface MutedWordsTable {
  id: string;
  user_id: string;
  phrase: string;
  expires_at: Date | null;
  created_at: Generated<Date>;
}
interface FollowRequestsTable {
  requester_id: string;
  target_id: string;
  /** bigint, read as text: the owner's list order (ListFollowRequests). */
  seq: Generated<string>;
  created_at: Generated<Date>;
}
interface CountsTable {
  user_id: string;
  follower_count: Generated<number>;
  following_count: Generated<number>;
}
export interface GraphTables {
  "graph.follows": FollowsTable;
  "graph.blocks": BlocksTable;
  "graph.mutes": MutesTable;
  "graph.counts": CountsTable;
  "graph.muted_words": MutedWordsTable;
  "graph.follow_requests": FollowRequestsTable;
}

/** The pool or the caller's transaction (a Transaction is a Kysely). */
export type GraphDb = Kysely<GraphTables>;

/** Serializes every change of the pair (a, b), a < b, until the transaction ends. */
export async function lockPair(trx: GraphDb, a: string, b: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`graph:${a}:${b}`}, 0))`.execute(trx);
}

/** Whether either of the two blocks the other. */
export async function blockedEitherWay(trx: GraphDb, me: string, target: string): Promise<boolean> {
  const row = await trx
    .selectFrom("graph.blocks")
    .select(sql`1`.as("one"))
    .where((eb) =>
      eb.or([
        eb.and([eb("blocker_id", "=", me), eb("blocked_id", "=", target)]),
        eb.and([eb("blocker_id", "=", target), eb("blocked_id", "=", me)]),
      ]),
    )
    .executeTakeFirst();
  return row !== undefined;
}

/** Adds `d` to follower/following counts; rows in id order so concurrent changes never deadlock. */
async function bump(trx: GraphDb, follower: string, followee: string, d: 1 | -1): Promise<void> {
  const rows = [
    { id: follower, followers: 0, following: d },
    { id: followee, followers: d, following: 0 },
  ].sort((a, b) => (a.id < b.id ? -1 : 1));
  await sql`INSERT INTO graph.counts AS c (user_id, follower_count, following_count)
    VALUES ${sql.join(rows.map((r) => sql`(${r.id}::uuid, ${Math.max(0, r.followers)}, ${Math.max(0, r.following)})`))}
    ON CONFLICT (user_id) DO UPDATE SET
      follower_count = GREATEST(0, c.follower_count + CASE WHEN c.user_id = ${followee}::uuid THEN ${d}::int ELSE 0 END),
      following_count = GREATEST(0, c.following_count + CASE WHEN c.user_id = ${follower}::uuid THEN ${d}::int ELSE 0 END)`.execute(
    trx,
  );
}

/** Adds the follow and counts it; false when it was there already. */
export async function addFollow(trx: GraphDb, follower: string, followee: string): Promise<boolean> {
  const r = await trx
    .insertInto("graph.follows")
    .values({ follower_id: follower, followee_id: followee })
    .onConflict((oc) => oc.doNothing())
    .returning("follower_id")
    .execute();
  if (r.length === 0) return false;
  await bump(trx, follower, followee, 1);
  return true;
}

/** Removes the follow and uncounts it; false when there was none. */
export async function removeFollow(trx: GraphDb, follower: string, followee: string): Promise<boolean> {
  const r = await trx
    .deleteFrom("graph.follows")
    .where("follower_id", "=", follower)
    .where("followee_id", "=", followee)
    .returning("follower_id")
    .execute();
  if (r.length === 0) return false;
  await bump(trx, follower, followee, -1);
  return true;
}

/** Whether `follower` follows `followee`. */
export async function isFollowing(trx: GraphDb, follower: string, followee: string): Promise<boolean> {
  const row = await trx
    .selectFrom("graph.follows")
    .select(sql`1`.as("one"))
    .where("follower_id", "=", follower)
    .where("followee_id", "=", followee)
    .executeTakeFirst();
  return row !== undefined;
}

/** Records the follow request; false when it was pending already. */
export async function addFollowRequest(trx: GraphDb, requester: string, target: string): Promise<boolean> {
  const r = await trx
    .insertInto("graph.follow_requests")
    .values({ requester_id: requester, target_id: target })
    .onConflict((oc) => oc.doNothing())
    .returning("requester_id")
    .execute();
  return r.length > 0;
}

/** Removes the pending follow request; false when there was none. */
export async function removeFollowRequest(trx: GraphDb, requester: string, target: string): Promise<boolean> {
  const r = await trx
    .deleteFrom("graph.follow_requests")
    .where("requester_id", "=", requester)
    .where("target_id", "=", target)
    .returning("requester_id")
    .execute();
  return r.length > 0;
}

/** A page of the pending requests to `target`, newest first by `seq`. */
export function followRequestsPage(
  db: GraphDb,
  target: string,
  before: string | undefined,
  limit: number,
): Promise<Page<{ id: string; seq: string }>> {
  return keysetPage(
    db
      .selectFrom("graph.follow_requests as r")
      .select(["r.requester_id as id", "r.seq"])
      .where("r.target_id", "=", target),
    { key: "r.seq", after: before, limit, position: (x) => x.seq },
  );
}

/** False when the block was there already. */
export async function addBlock(trx: GraphDb, blocker: string, blocked: string): Promise<boolean> {
  const r = await trx
    .insertInto("graph.blocks")
    .values({ blocker_id: blocker, blocked_id: blocked })
    .onConflict((oc) => oc.doNothing())
    .returning("blocker_id")
    .execute();
  return r.length > 0;
}

/** False when there was no block. */
export async function removeBlock(trx: GraphDb, blocker: string, blocked: string): Promise<boolean> {
  const r = await trx
    .deleteFrom("graph.blocks")
    .where("blocker_id", "=", blocker)
    .where("blocked_id", "=", blocked)
    .returning("blocker_id")
    .execute();
  return r.length > 0;
}

/** False when the mute was there already. */
export async function addMute(trx: GraphDb, muter: string, muted: string): Promise<boolean> {
  const r = await trx
    .insertInto("graph.mutes")
    .values({ muter_id: muter, muted_id: muted })
    .onConflict((oc) => oc.doNothing())
    .returning("muter_id")
    .execute();
  return r.length > 0;
}

/** False when there was no mute. */
export async function removeMute(trx: GraphDb, muter: string, muted: string): Promise<boolean> {
  const r = await trx
    .deleteFrom("graph.mutes")
    .where("muter_id", "=", muter)
    .where("muted_id", "=", muted)
    .returning("muter_id")
    .execute();
  return r.length > 0;
}

/** The relationship of `me` to each of `ids`, in their order. */
export async function relationships(db: GraphDb, me: string, ids: string[]): Promise<Relationship[]> {
  if (ids.length === 0) return [];
  const r = await sql<{
    id: string;
    following: boolean;
    followed_by: boolean;
    blocking: boolean;
    blocked_by: boolean;
    muting: boolean;
    requested: boolean;
    requested_by: boolean;
  }>`SELECT x.id::text AS id,
      EXISTS (SELECT 1 FROM graph.follows WHERE follower_id = ${me}::uuid AND followee_id = x.id) AS following,
      EXISTS (SELECT 1 FROM graph.follows WHERE follower_id = x.id AND followee_id = ${me}::uuid) AS followed_by,
      EXISTS (SELECT 1 FROM graph.blocks WHERE blocker_id = ${me}::uuid AND blocked_id = x.id) AS blocking,
      EXISTS (SELECT 1 FROM graph.blocks WHERE blocker_id = x.id AND blocked_id = ${me}::uuid) AS blocked_by,
      EXISTS (SELECT 1 FROM graph.mutes WHERE muter_id = ${me}::uuid AND muted_id = x.id) AS muting,
      EXISTS (SELECT 1 FROM graph.follow_requests WHERE requester_id = ${me}::uuid AND target_id = x.id) AS requested,
      EXISTS (SELECT 1 FROM graph.follow_requests WHERE requester_id = x.id AND target_id = ${me}::uuid) AS requested_by
    FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, o) ORDER BY x.o`.execute(db);
  return r.rows.map((x) =>
    create(RelationshipSchema, {
      userId: x.id,
      following: x.following,
      followedBy: x.followed_by,
      blocking: x.blocking,
      blockedBy: x.blocked_by,
      muting: x.muting,
      requested: x.requested,
      requestedBy: x.requested_by,
    }),
  );
}

/** Follower and following counts of each of `ids`, in their order (0 for a user never followed). */
export async function counts(db: GraphDb, ids: string[]): Promise<Counts[]> {
  if (ids.length === 0) return [];
  const r = await sql<{ id: string; follower_count: number; following_count: number }>`
    SELECT x.id::text AS id, coalesce(c.follower_count, 0) AS follower_count, coalesce(c.following_count, 0) AS following_count
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, o) LEFT JOIN graph.counts c ON c.user_id = x.id
     ORDER BY x.o`.execute(db);
  return r.rows.map((c) =>
    create(CountsSchema, { userId: c.id, followerCount: c.follower_count, followingCount: c.following_count }),
  );
}

/** A page of `userId`'s followers (or the users it follows), newest follow first, before `before` (a seq). */
export function followsPage(
  db: GraphDb,
  which: "followers" | "following",
  userId: string,
  before: string | undefined,
  limit: number,
): Promise<Page<{ id: string; seq: string }>> {
  const follows = db.selectFrom("graph.follows as f");
  return keysetPage(
    which === "followers"
      ? follows.select(["f.follower_id as id", "f.seq"]).where("f.followee_id", "=", userId)
      : follows.select(["f.followee_id as id", "f.seq"]).where("f.follower_id", "=", userId),
    { key: "f.seq", after: before, limit, position: (x) => x.seq },
  );
}

/** A page of the accounts `userId` blocked or muted, newest first by `seq`. */
export function ownListPage(
  db: GraphDb,
  which: "blocked" | "muted",
  userId: string,
  before: string | undefined,
  limit: number,
): Promise<Page<{ id: string; seq: string }>> {
  const position = (x: { id: string; seq: string }) => x.seq;
  return which === "blocked"
    ? keysetPage(
        db.selectFrom("graph.blocks as b").select(["b.blocked_id as id", "b.seq"]).where("b.blocker_id", "=", userId),
        { key: "b.seq", after: before, limit, position },
      )
    : keysetPage(
        db.selectFrom("graph.mutes as m").select(["m.muted_id as id", "m.seq"]).where("m.muter_id", "=", userId),
        { key: "m.seq", after: before, limit, position },
      );
}

/** A page of every block in (blocker, blocked) order, after the pair `after`. */
export function blocksPage(
  db: GraphDb,
  after: string[] | undefined,
  limit: number,
): Promise<Page<{ blocker_id: string; blocked_id: string }>> {
  return keysetPage(db.selectFrom("graph.blocks as b").select(["b.blocker_id", "b.blocked_id"]), {
    key: ["b.blocker_id", "b.blocked_id"],
    after,
    limit,
    order: "asc",
    position: (b) => `${b.blocker_id}:${b.blocked_id}`,
  });
}

export async function countBlocks(db: GraphDb): Promise<bigint> {
  return BigInt((await sql<{ n: string }>`SELECT count(*) AS n FROM graph.blocks`.execute(db)).rows[0]?.n ?? 0);
}

// ---- muted words

export type MutedWordRow = { id: string; phrase: string; expires_at: Date | null; created_at: Date };

/** The user's unexpired muted words, oldest first. */
export function mutedWords(db: GraphDb, userId: string): Promise<MutedWordRow[]> {
  return db
    .selectFrom("graph.muted_words")
    .select(["id", "phrase", "expires_at", "created_at"])
    .where("user_id", "=", userId)
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", sql<Date>`now()`)]))
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

/** Adds the phrase, or sets the expiry of the one the user already has (compared case-folded). */
export async function upsertMutedWord(
  db: GraphDb,
  w: { id: string; userId: string; phrase: string; expiresAt: Date | null },
): Promise<MutedWordRow> {
  const r = await sql<MutedWordRow>`
    INSERT INTO graph.muted_words (id, user_id, phrase, expires_at)
    VALUES (${w.id}::uuid, ${w.userId}::uuid, ${w.phrase}, ${w.expiresAt})
    ON CONFLICT (user_id, lower(phrase)) DO UPDATE SET expires_at = excluded.expires_at
    RETURNING id::text AS id, phrase, expires_at, created_at`.execute(db);
  return r.rows[0] as MutedWordRow;
}

export async function deleteMutedWord(db: GraphDb, userId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom("graph.muted_words")
    .where("user_id", "=", userId)
    .where("id", "=", id)
    .executeTakeFirst();
  return r.numDeletedRows > 0n;
}

// ---- account erasure (identity's AccountErased)

/**
 * Deletes every relationship of an erased user: follows both ways (the other side's counts moved as an
 * unfollow moves them), follow requests both ways, blocks, mutes, muted words and its count row. Answers the others whose counts
 * moved, for their FollowsErased, and those it had a block with (their cached pair goes). Idempotent: a second run finds nothing.
 */
export async function eraseRelationships(
  trx: GraphDb,
  userId: string,
): Promise<{ moved: { userId: string; followers: number; following: number }[]; blockedWith: string[] }> {
  const gone = await sql<{ follower_id: string; followee_id: string }>`
    DELETE FROM graph.follows WHERE follower_id = ${userId}::uuid OR followee_id = ${userId}::uuid
    RETURNING follower_id, followee_id`.execute(trx);
  const moved = new Map<string, { userId: string; followers: number; following: number }>();
  for (const r of gone.rows) {
    const other = r.follower_id === userId ? r.followee_id : r.follower_id;
    const m = moved.get(other) ?? { userId: other, followers: 0, following: 0 };
    // The erased user followed them: one follower fewer; they followed the erased user: one followee fewer.
    if (r.follower_id === userId) m.followers += 1;
    else m.following += 1;
    moved.set(other, m);
  }
  const rows = [...moved.values()].sort((a, b) => (a.userId < b.userId ? -1 : 1));
  if (rows.length) {
    await sql`UPDATE graph.counts c SET follower_count = GREATEST(0, c.follower_count - x.fr),
        following_count = GREATEST(0, c.following_count - x.fg)
      FROM unnest(${rows.map((r) => r.userId)}::uuid[], ${rows.map((r) => r.followers)}::int[],
        ${rows.map((r) => r.following)}::int[]) AS x(id, fr, fg)
      WHERE c.user_id = x.id`.execute(trx);
  }
  const blocks = await sql<{ other: string }>`DELETE FROM graph.blocks
    WHERE blocker_id = ${userId}::uuid OR blocked_id = ${userId}::uuid
    RETURNING CASE WHEN blocker_id = ${userId}::uuid THEN blocked_id ELSE blocker_id END AS other`.execute(trx);
  await sql`DELETE FROM graph.mutes WHERE muter_id = ${userId}::uuid OR muted_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM graph.muted_words WHERE user_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM graph.follow_requests WHERE requester_id = ${userId}::uuid OR target_id = ${userId}::uuid`.execute(
    trx,
  );
  await sql`DELETE FROM graph.counts WHERE user_id = ${userId}::uuid`.execute(trx);
  return { moved: rows, blockedWith: blocks.rows.map((r) => r.other) };
}
