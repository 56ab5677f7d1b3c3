/**
 * The graph service: follows, blocks, mutes and exact counts. Every change of
 * one pair of users runs under a transaction lock on that pair, so a follow
 * racing a block cannot slip through; the change and its event commit
 * together. Writes are idempotent: a repeated one changes nothing and emits
 * nothing.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Kysely, sql, type Transaction } from "kysely";
import {
  type Counts,
  CountsSchema,
  type GraphService,
  type Relationship,
  RelationshipSchema,
  ScanBlocksResponseSchema,
} from "../../gen/nova/graph/v1/graph_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { type CursorRule, decodeCursor, keysetPage, LIST, pageSize, SCAN, SEQ } from "../../platform/paging.ts";
import { requireModuleOrAdmin } from "../../platform/rpc/authz.ts";
import { requireUser } from "../../platform/rpc/context.ts";
import { isUuid } from "../../platform/validate.ts";
import { validateUserId, validateUserIds } from "./validation.ts";

export { MAX_BATCH } from "./validation.ts";

export interface GraphDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  outbox: Outbox;
  /** Whether a user exists (identity's answer). */
  userExists(id: string): Promise<boolean>;
  /** Called after a change commits with the users whose relationships changed. */
  changed?: (userIds: string[]) => Promise<void> | void;
}

/** The columns the paged queries name (as node-postgres reads them: bigint as text). */
type GraphTables = {
  "graph.follows": { follower_id: string; followee_id: string; seq: string };
  "graph.blocks": { blocker_id: string; blocked_id: string };
};

/** Modules that may page through every block (to rebuild their projections). */
const SCANNERS = ["search"] as const;

/** A position in the scan of blocks: `blocker:blocked`. */
const PAIR: CursorRule = {
  test(v) {
    const [a, b, ...rest] = v.split(":");
    return rest.length === 0 && isUuid(a ?? "") && isUuid(b ?? "");
  },
};

type Kind = "Followed" | "Unfollowed" | "Blocked" | "Unblocked" | "Muted" | "Unmuted";

function event(
  type: Kind,
  userId: string,
  targetId: string,
  actorId: string,
  extra: Record<string, unknown> = {},
): NewEvent {
  return { type, aggregateType: "relationship", aggregateId: userId, actorId, payload: { userId, targetId, ...extra } };
}

/** Adds `d` to follower/following counts; rows in id order so concurrent changes never deadlock. */
async function bump(trx: Transaction<unknown>, follower: string, followee: string, d: 1 | -1): Promise<void> {
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

type Db = Kysely<unknown> | Transaction<unknown>;

/** The relationship of `me` to each of `ids`, in their order. */
async function relationships(db: Db, me: string, ids: string[]): Promise<Relationship[]> {
  if (ids.length === 0) return [];
  const r = await sql<{
    id: string;
    following: boolean;
    followed_by: boolean;
    blocking: boolean;
    blocked_by: boolean;
    muting: boolean;
  }>`SELECT x.id::text AS id,
      EXISTS (SELECT 1 FROM graph.follows WHERE follower_id = ${me}::uuid AND followee_id = x.id) AS following,
      EXISTS (SELECT 1 FROM graph.follows WHERE follower_id = x.id AND followee_id = ${me}::uuid) AS followed_by,
      EXISTS (SELECT 1 FROM graph.blocks WHERE blocker_id = ${me}::uuid AND blocked_id = x.id) AS blocking,
      EXISTS (SELECT 1 FROM graph.blocks WHERE blocker_id = x.id AND blocked_id = ${me}::uuid) AS blocked_by,
      EXISTS (SELECT 1 FROM graph.mutes WHERE muter_id = ${me}::uuid AND muted_id = x.id) AS muting
    FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, o) ORDER BY x.o`.execute(db);
  return r.rows.map((x) =>
    create(RelationshipSchema, {
      userId: x.id,
      following: x.following,
      followedBy: x.followed_by,
      blocking: x.blocking,
      blockedBy: x.blocked_by,
      muting: x.muting,
    }),
  );
}

/** Follower and following counts of each of `ids`, in their order (0 for a user never followed). */
async function counts(db: Db, ids: string[]): Promise<Counts[]> {
  if (ids.length === 0) return [];
  const r = await sql<{ id: string; follower_count: number; following_count: number }>`
    SELECT x.id::text AS id, coalesce(c.follower_count, 0) AS follower_count, coalesce(c.following_count, 0) AS following_count
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, o) LEFT JOIN graph.counts c ON c.user_id = x.id
     ORDER BY x.o`.execute(db);
  return r.rows.map((c) =>
    create(CountsSchema, { userId: c.id, followerCount: c.follower_count, followingCount: c.following_count }),
  );
}

export function createGraphService(deps: GraphDeps): ServiceImpl<typeof GraphService> {
  const { writer, reader } = deps.db;

  /** Runs `fn` for the pair (caller, target) under the pair's transaction lock. */
  async function pair(
    rawTarget: string,
    fn: (trx: Transaction<unknown>, me: string, target: string) => Promise<boolean>,
    opts: { mustExist: boolean } = { mustExist: true },
  ): Promise<{ changed: boolean; relationship: Relationship | undefined; counts: Counts[] }> {
    const me = requireUser().userId;
    const target = validateUserId(rawTarget);
    if (target === me) throw new NovaError("VALIDATION_FAILED", "userId: cannot be yourself", { field: "userId" });
    if (opts.mustExist && !(await deps.userExists(target))) {
      throw new NovaError("NOT_FOUND", "user not found", { field: "userId" });
    }
    const [a, b] = me < target ? [me, target] : [target, me];
    const result = await writer.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`graph:${a}:${b}`}, 0))`.execute(trx);
      const changed = await fn(trx, me, target);
      // The state after the change, from the primary: the caller answers with it, never from a lagging replica.
      const [rel] = await relationships(trx, me, [target]);
      return { changed, relationship: rel, counts: await counts(trx, [me, target]) };
    });
    if (result.changed) await deps.changed?.([me, target]);
    return result;
  }

  async function removeFollow(trx: Transaction<unknown>, follower: string, followee: string): Promise<boolean> {
    const r =
      await sql`DELETE FROM graph.follows WHERE follower_id = ${follower}::uuid AND followee_id = ${followee}::uuid
      RETURNING follower_id`.execute(trx);
    if (r.rows.length === 0) return false;
    await bump(trx, follower, followee, -1);
    return true;
  }

  return {
    follow: (req) =>
      pair(req.userId, async (trx, me, target) => {
        const blocked = await sql`SELECT 1 FROM graph.blocks
          WHERE (blocker_id = ${me}::uuid AND blocked_id = ${target}::uuid)
             OR (blocker_id = ${target}::uuid AND blocked_id = ${me}::uuid)`.execute(trx);
        if (blocked.rows.length > 0) {
          throw new NovaError("FORBIDDEN", "cannot follow across a block", { field: "userId" });
        }
        const r = await sql`INSERT INTO graph.follows (follower_id, followee_id) VALUES (${me}::uuid, ${target}::uuid)
          ON CONFLICT DO NOTHING RETURNING follower_id`.execute(trx);
        if (r.rows.length === 0) return false;
        await bump(trx, me, target, 1);
        await deps.outbox.emit(trx, event("Followed", me, target, me));
        return true;
      }),

    unfollow: (req) =>
      pair(
        req.userId,
        async (trx, me, target) => {
          if (!(await removeFollow(trx, me, target))) return false;
          await deps.outbox.emit(trx, event("Unfollowed", me, target, me));
          return true;
        },
        { mustExist: false },
      ),

    block: (req) =>
      pair(req.userId, async (trx, me, target) => {
        const r = await sql`INSERT INTO graph.blocks (blocker_id, blocked_id) VALUES (${me}::uuid, ${target}::uuid)
          ON CONFLICT DO NOTHING RETURNING blocker_id`.execute(trx);
        if (r.rows.length === 0) return false;
        const events = [event("Blocked", me, target, me)];
        // A block ends the follows in both directions.
        if (await removeFollow(trx, me, target))
          events.push(event("Unfollowed", me, target, me, { reason: "blocked" }));
        if (await removeFollow(trx, target, me))
          events.push(event("Unfollowed", target, me, me, { reason: "blocked" }));
        await deps.outbox.emit(trx, ...events);
        return true;
      }),

    unblock: (req) =>
      pair(
        req.userId,
        async (trx, me, target) => {
          const r = await sql`DELETE FROM graph.blocks WHERE blocker_id = ${me}::uuid AND blocked_id = ${target}::uuid
            RETURNING blocker_id`.execute(trx);
          if (r.rows.length === 0) return false;
          await deps.outbox.emit(trx, event("Unblocked", me, target, me));
          return true;
        },
        { mustExist: false },
      ),

    mute: (req) =>
      pair(req.userId, async (trx, me, target) => {
        const r = await sql`INSERT INTO graph.mutes (muter_id, muted_id) VALUES (${me}::uuid, ${target}::uuid)
          ON CONFLICT DO NOTHING RETURNING muter_id`.execute(trx);
        if (r.rows.length === 0) return false;
        await deps.outbox.emit(trx, event("Muted", me, target, me));
        return true;
      }),

    unmute: (req) =>
      pair(
        req.userId,
        async (trx, me, target) => {
          const r = await sql`DELETE FROM graph.mutes WHERE muter_id = ${me}::uuid AND muted_id = ${target}::uuid
            RETURNING muter_id`.execute(trx);
          if (r.rows.length === 0) return false;
          await deps.outbox.emit(trx, event("Unmuted", me, target, me));
          return true;
        },
        { mustExist: false },
      ),

    async listFollowers(req) {
      return list("followers", req);
    },

    async listFollowing(req) {
      return list("following", req);
    },

    async getRelationships(req) {
      const me = requireUser().userId;
      const ids = validateUserIds(req.userIds);
      if (ids.length === 0) return { relationships: [] };
      // `fresh` (checks that gate a write) reads the primary: a block committed a moment ago must count.
      return { relationships: await relationships(req.fresh ? writer : reader, me, ids) };
    },

    async getCounts(req) {
      const ids = validateUserIds(req.userIds);
      if (ids.length === 0) return { counts: [] };
      return { counts: await counts(reader, ids) };
    },

    async scanBlocks(req) {
      requireModuleOrAdmin(SCANNERS);
      const limit = pageSize(req.limit, SCAN);
      const after = decodeCursor(req.cursor, PAIR)?.split(":");
      const page = await keysetPage(
        reader.withTables<GraphTables>().selectFrom("graph.blocks as b").select(["b.blocker_id", "b.blocked_id"]),
        {
          key: ["b.blocker_id", "b.blocked_id"],
          after,
          limit,
          order: "asc",
          position: (b) => `${b.blocker_id}:${b.blocked_id}`,
        },
      );
      const total = after
        ? 0n
        : BigInt((await sql<{ n: string }>`SELECT count(*) AS n FROM graph.blocks`.execute(reader)).rows[0]?.n ?? 0);
      return create(ScanBlocksResponseSchema, {
        blocks: page.rows.map((b) => ({ blockerId: b.blocker_id, blockedId: b.blocked_id })),
        nextCursor: page.nextCursor,
        total,
      });
    },
  };

  async function list(
    which: "followers" | "following",
    req: { userId: string; cursor: string; limit: number },
  ): Promise<{ userIds: string[]; nextCursor: string; cursors: string[] }> {
    const userId = validateUserId(req.userId);
    const limit = pageSize(req.limit, LIST);
    const before = decodeCursor(req.cursor, SEQ);
    const follows = reader.withTables<GraphTables>().selectFrom("graph.follows as f");
    const page = await keysetPage(
      which === "followers"
        ? follows.select(["f.follower_id as id", "f.seq"]).where("f.followee_id", "=", userId)
        : follows.select(["f.followee_id as id", "f.seq"]).where("f.follower_id", "=", userId),
      { key: "f.seq", after: before, limit, position: (x) => x.seq },
    );
    return { userIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor, cursors: page.cursors };
  }
}

/** True for a ConnectError that says the user does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.NotFound;
}
