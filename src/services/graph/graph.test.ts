/**
 * The graph service on real PostgreSQL (the harness's shared database), its
 * handlers called directly as a signed-in user: the rows a write leaves, the
 * events it puts in graph.outbox, and its refusals. Users are fresh ids that
 * the fake `userExists` knows, so no identity module is needed.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { sql } from "kysely";
import { services } from "../../../test/helpers.ts";
import {
  ApproveAllFollowRequestsRequestSchema,
  ApproveFollowRequestRequestSchema,
  BlockRequestSchema,
  DenyFollowRequestRequestSchema,
  FollowRequestSchema,
  type GraphService,
  UnfollowRequestSchema,
} from "../../gen/nova/graph/v1/graph_pb.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { Database } from "../../platform/db/pool.ts";
import { NovaError } from "../../platform/errors.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { createOutbox } from "../../platform/events/outbox.ts";
import { eventTables } from "../../platform/events/sets.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import { uuidv7 } from "../../platform/validate.ts";
import { modules } from "../../runtime/modules.ts";
import { graphEvents, RELATIONSHIP_TOPIC } from "./events.ts";
import type { GraphDb, GraphTables } from "./queries.ts";
import { createGraphService } from "./service.ts";

let db: Database;
let k: GraphDb;
let graph: ServiceImpl<typeof GraphService>;
const known = new Set<string>();
const privates = new Set<string>();

before(async () => {
  const s = await services();
  db = new Database({ writerUrl: s.postgres, poolMax: 3, applicationName: "test-graph-service" });
  await migrate(db.writerPool, [modules.graph.migrations, eventTables("graph")]);
  const kysely = db.kysely<GraphTables>();
  k = kysely.writer;
  graph = createGraphService({
    db: kysely,
    outbox: createOutbox({ service: "graph", schema: "graph" }),
    userExists: async (id) => known.has(id),
    lookupUser: async (id) => (known.has(id) ? { isPrivate: privates.has(id) } : undefined),
  });
});
after(() => db.close());

/** A user the fake identity knows. */
function newUser(): string {
  const id = uuidv7();
  known.add(id);
  return id;
}

// The handlers take the caller from runWithCall, not from Connect's handler context.
const noContext = {} as HandlerContext;
const as = <T>(userId: string, fn: () => Promise<T>) => runWithCall({ user: { userId, sessionId: uuidv7() } }, fn);
const followAs = (me: string, userId: string) =>
  as(me, async () => graph.follow(create(FollowRequestSchema, { userId }), noContext));
const blockAs = (me: string, userId: string) =>
  as(me, async () => graph.block(create(BlockRequestSchema, { userId }), noContext));

async function follows(pairs: [string, string][]): Promise<boolean[]> {
  return Promise.all(
    pairs.map(async ([a, b]) => {
      const row = await k
        .selectFrom("graph.follows")
        .select("seq")
        .where("follower_id", "=", a)
        .where("followee_id", "=", b)
        .executeTakeFirst();
      return row !== undefined;
    }),
  );
}

/** The outbox rows about these users, in the order written. */
async function eventsAbout(...ids: string[]) {
  const r = await sql<{ topic: string; key: string; envelope: Envelope }>`
    SELECT topic, key, envelope FROM graph.outbox
     WHERE envelope->'payload'->>'userId' = ANY(${ids}::text[]) ORDER BY seq`.execute(k);
  return r.rows.map((row) => ({ topic: row.topic, key: row.key, ...row.envelope }));
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NovaError, String(err));
    return { code: err.code, field: err.field };
  }
  assert.fail("expected a refusal");
}

describe("graph service", () => {
  test("follow writes the row, counts it and writes one typed Followed; a repeat writes nothing", async () => {
    const [a, b] = [newUser(), newUser()];
    const res = await followAs(a, b);
    assert.equal(res.changed, true);
    assert.equal(res.relationship?.following, true);
    assert.deepEqual(
      res.counts?.map((c) => [c.userId, c.followerCount, c.followingCount]),
      [
        [a, 0, 1],
        [b, 1, 0],
      ],
    );
    assert.deepEqual(await follows([[a, b]]), [true]);
    const [event, ...more] = await eventsAbout(a);
    assert.deepEqual(more, []);
    assert.equal(event?.topic, RELATIONSHIP_TOPIC);
    assert.equal(event?.key, a);
    assert.equal(event?.type, "Followed");
    assert.equal(event?.aggregate_type, "relationship");
    assert.equal(event?.aggregate_id, a);
    assert.equal(event?.actor_id, a);
    // Exactly the declared payload: no other key.
    assert.deepEqual(event?.payload, { userId: a, targetId: b });
    assert.ok(graphEvents.Followed.safeParse(event?.payload).success);

    const again = await followAs(a, b);
    assert.equal(again.changed, false);
    assert.equal((await eventsAbout(a)).length, 1);
  });

  test("block ends the follows both ways and writes Blocked and an Unfollowed for each", async () => {
    const [a, b] = [newUser(), newUser()];
    await followAs(a, b);
    await followAs(b, a);
    const res = await blockAs(a, b);
    assert.equal(res.changed, true);
    assert.equal(res.relationship?.blocking, true);
    assert.equal(res.relationship?.following, false);
    assert.equal(res.relationship?.followedBy, false);
    assert.deepEqual(
      await follows([
        [a, b],
        [b, a],
      ]),
      [false, false],
    );
    const blockedRow = await k
      .selectFrom("graph.blocks")
      .select("blocker_id")
      .where("blocker_id", "=", a)
      .where("blocked_id", "=", b)
      .executeTakeFirst();
    assert.ok(blockedRow);
    assert.deepEqual(
      res.counts?.map((c) => [c.followerCount, c.followingCount]),
      [
        [0, 0],
        [0, 0],
      ],
    );
    const written = (await eventsAbout(a, b)).filter((e) => e.type !== "Followed");
    assert.deepEqual(
      written.map((e) => ({ key: e.key, type: e.type, actor: e.actor_id, payload: e.payload })),
      [
        { key: a, type: "Blocked", actor: a, payload: { userId: a, targetId: b } },
        { key: a, type: "Unfollowed", actor: a, payload: { userId: a, targetId: b, reason: "blocked" } },
        { key: b, type: "Unfollowed", actor: a, payload: { userId: b, targetId: a, reason: "blocked" } },
      ],
    );
    for (const e of written) assert.ok(graphEvents[e.type as "Blocked" | "Unfollowed"].safeParse(e.payload).success);

    // Neither may follow the other across the block.
    assert.deepEqual(await refusal(followAs(b, a)), { code: "FORBIDDEN", field: "userId" });
  });

  test("following yourself is refused naming userId, and writes nothing", async () => {
    const a = newUser();
    assert.deepEqual(await refusal(followAs(a, a)), { code: "VALIDATION_FAILED", field: "userId" });
    assert.deepEqual(await follows([[a, a]]), [false]);
    assert.deepEqual(await eventsAbout(a), []);
  });

  test("following an unknown user is NOT_FOUND naming userId", async () => {
    const a = newUser();
    assert.deepEqual(await refusal(followAs(a, uuidv7())), { code: "NOT_FOUND", field: "userId" });
  });

  test("a private account's follow requests: each answer writes its events, keyed by the requester", async () => {
    const [owner, a, b, c, d] = [newUser(), newUser(), newUser(), newUser(), newUser()];
    privates.add(owner);
    // A handler may answer a value or a promise: awaited either way.
    const call = <T>(me: string, fn: () => T | Promise<T>) => as(me, async () => fn());
    for (const u of [a, b, c, d]) {
      const res = await followAs(u, owner);
      assert.deepEqual([res.changed, res.relationship?.following, res.relationship?.requested], [true, false, true]);
    }
    assert.equal((await followAs(a, owner)).changed, false, "a repeat is no second request");
    const approved = await call(owner, () =>
      graph.approveFollowRequest(create(ApproveFollowRequestRequestSchema, { userId: a }), noContext),
    );
    assert.deepEqual([approved.changed, approved.relationship?.followedBy], [true, true]);
    await call(owner, () => graph.denyFollowRequest(create(DenyFollowRequestRequestSchema, { userId: b }), noContext));
    await call(c, () => graph.unfollow(create(UnfollowRequestSchema, { userId: owner }), noContext));
    const types = async (u: string) => (await eventsAbout(u)).map((e) => [e.type, e.key, e.actor_id]);
    assert.deepEqual(await types(a), [
      ["FollowRequested", a, a],
      ["FollowRequestApproved", a, owner],
      ["Followed", a, owner],
    ]);
    assert.deepEqual(await types(b), [
      ["FollowRequested", b, b],
      ["FollowRequestDenied", b, owner],
    ]);
    assert.deepEqual(await types(c), [
      ["FollowRequested", c, c],
      ["FollowRequestCanceled", c, c],
    ]);
    // Turning public: the one left is approved, and nothing answered twice.
    privates.delete(owner);
    const all = await call(owner, () =>
      graph.approveAllFollowRequests(create(ApproveAllFollowRequestsRequestSchema, {}), noContext),
    );
    assert.equal(all.approved, 1);
    assert.deepEqual(
      await follows([
        [a, owner],
        [b, owner],
        [c, owner],
        [d, owner],
      ]),
      [true, false, false, true],
    );
    assert.deepEqual(
      (await eventsAbout(d)).map((e) => e.type),
      ["FollowRequested", "FollowRequestApproved", "Followed"],
    );
  });
});
