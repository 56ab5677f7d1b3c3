/**
 * The follow graph through the GraphQL gateway, in the embedded topology on
 * real PostgreSQL: the rules, idempotency and its events, blocks, pagination
 * under concurrent follows, and identity's follower counts kept from the
 * graph's events by its consumer (the cross-service path, embedded log).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { GraphService } from "../src/gen/nova/graph/v1/graph_pb.ts";
import { fromError } from "../src/platform/errors.ts";
import { createTransport, serviceClient } from "../src/platform/rpc/client.ts";
import { runWithCall } from "../src/platform/rpc/context.ts";
import { routesOf } from "../src/platform/rpc/server.ts";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, services, startInProcess } from "./helpers.ts";

let nova: Nova;
let url: string;
let db: pg.Pool;

before(async () => {
  ({ nova, url } = await startInProcess());
  db = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
});
after(async () => {
  await db.end();
  await nova.stop();
});

const REL = `following followedBy blocking blockedBy muting`;
const mutate = (name: string, token: string, userId: string) =>
  gql(
    url,
    `mutation($id: ID!) { ${name}(userId: $id) { id followerCount followingCount viewerRelationship { ${REL} } } }`,
    {
      token,
      variables: { id: userId },
    },
  );

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

async function events(userId: string, targetId: string): Promise<{ type: string; reason: string | null }[]> {
  const r = await db.query(
    `SELECT envelope->>'type' AS type, envelope->'payload'->>'reason' AS reason FROM graph.outbox
      WHERE envelope->'payload'->>'userId' = $1 AND envelope->'payload'->>'targetId' = $2 ORDER BY seq`,
    [userId, targetId],
  );
  return r.rows;
}

describe("graph rules", () => {
  test("following yourself is refused with the field named; signed out is UNAUTHENTICATED", async () => {
    const a = await register(url);
    const self = await mutate("follow", a.accessToken, a.user.id);
    assert.deepEqual(errorOf(self), { code: "BAD_USER_INPUT", field: "userId" });
    const anon = await gql(url, `mutation($id: ID!) { follow(userId: $id) { id } }`, { variables: { id: a.user.id } });
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
    const bad = await mutate("follow", a.accessToken, "not-a-uuid");
    assert.deepEqual(errorOf(bad), { code: "BAD_USER_INPUT", field: "userId" });
    const ghost = await mutate("follow", a.accessToken, "0190c7a4-0000-7000-8000-000000000000");
    assert.equal(errorOf(ghost).code, "NOT_FOUND");
  });

  test("follow is idempotent: a second follow is no error and writes no second event", async () => {
    const [a, b] = [await register(url), await register(url)];
    const first = await mutate("follow", a.accessToken, b.user.id);
    assert.equal(first.body.errors, undefined, JSON.stringify(first.body));
    assert.equal(first.body.data.follow.followerCount, 1);
    assert.deepEqual(first.body.data.follow.viewerRelationship, {
      following: true,
      followedBy: false,
      blocking: false,
      blockedBy: false,
      muting: false,
    });
    const second = await mutate("follow", a.accessToken, b.user.id);
    assert.equal(second.body.data.follow.followerCount, 1);
    assert.deepEqual(await events(a.user.id, b.user.id), [{ type: "Followed", reason: null }]);
    const un = await mutate("unfollow", a.accessToken, b.user.id);
    assert.equal(un.body.data.unfollow.followerCount, 0);
    await mutate("unfollow", a.accessToken, b.user.id);
    assert.deepEqual(
      (await events(a.user.id, b.user.id)).map((e) => e.type),
      ["Followed", "Unfollowed"],
    );
  });

  test("a block removes follows both ways and forbids following across it in either direction", async () => {
    const [a, b] = [await register(url), await register(url)];
    await mutate("follow", a.accessToken, b.user.id);
    await mutate("follow", b.accessToken, a.user.id);
    const blocked = await mutate("block", a.accessToken, b.user.id);
    assert.equal(blocked.body.errors, undefined, JSON.stringify(blocked.body));
    assert.deepEqual(blocked.body.data.block.viewerRelationship, {
      following: false,
      followedBy: false,
      blocking: true,
      blockedBy: false,
      muting: false,
    });
    assert.equal(blocked.body.data.block.followerCount, 0);
    assert.equal(blocked.body.data.block.followingCount, 0);
    assert.deepEqual(await events(a.user.id, b.user.id), [
      { type: "Followed", reason: null },
      { type: "Blocked", reason: null },
      { type: "Unfollowed", reason: "blocked" },
    ]);
    assert.deepEqual(await events(b.user.id, a.user.id), [
      { type: "Followed", reason: null },
      { type: "Unfollowed", reason: "blocked" },
    ]);
    assert.deepEqual(errorOf(await mutate("follow", a.accessToken, b.user.id)), { code: "FORBIDDEN", field: "userId" });
    assert.deepEqual(errorOf(await mutate("follow", b.accessToken, a.user.id)), { code: "FORBIDDEN", field: "userId" });
    const seen = await mutate("mute", b.accessToken, a.user.id);
    assert.equal(seen.body.data.mute.viewerRelationship.blockedBy, true);
    assert.equal(seen.body.data.mute.viewerRelationship.muting, true);
    const unmuted = await mutate("unmute", b.accessToken, a.user.id);
    assert.equal(unmuted.body.data.unmute.viewerRelationship.muting, false);
    await mutate("unblock", a.accessToken, b.user.id);
    const again = await mutate("follow", b.accessToken, a.user.id);
    assert.equal(again.body.data.follow.viewerRelationship.following, true);
  });
});

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
    }),
  );
}

const FOLLOWERS = `query($u: String!, $first: Int, $after: String) { user(username: $u) {
  followers(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`;
const FOLLOWING = FOLLOWERS.replace("followers(", "following(");

/** Pages through a connection to its end; returns every node id in order. */
async function pageAll(query: string, username: string, first: number, between?: () => Promise<void>) {
  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const r = await gql(url, query, { variables: { u: username, first, after } });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    const page = r.body.data.user.followers ?? r.body.data.user.following;
    assert.ok(page.edges.length <= first);
    seen.push(...page.edges.map((e: { node: { id: string } }) => e.node.id));
    await between?.();
    if (!page.pageInfo.hasNextPage) return seen;
    after = page.pageInfo.endCursor;
  }
  throw new Error("too many pages");
}

describe("followers pagination", () => {
  test("120 followers in pages of 25: no duplicates and no gaps while others follow concurrently", async () => {
    const star = await register(url);
    const fans = await Promise.all(Array.from({ length: 120 }, () => register(url)));
    const late = await Promise.all(Array.from({ length: 30 }, () => register(url)));
    // The 120 follow concurrently (8 at a time): the star's count row is contended.
    await pool(fans, 8, (f) => mutate("follow", f.accessToken, star.user.id));
    // While we page, 30 others follow: after each page, 5 follows start and run alongside the next page's read.
    const pending = [...late];
    const inFlight: Promise<unknown>[] = [];
    const seen = await pageAll(FOLLOWERS, star.user.username, 25, async () => {
      for (const f of pending.splice(0, 5)) inFlight.push(mutate("follow", f.accessToken, star.user.id));
    });
    for (const f of pending) inFlight.push(mutate("follow", f.accessToken, star.user.id));
    await Promise.all(inFlight);
    assert.equal(new Set(seen).size, seen.length, "no follower twice");
    for (const f of fans) assert.ok(seen.includes(f.user.id), "every follower from before paging began is listed");
    const lateIds = new Set(late.map((f) => f.user.id));
    assert.ok(
      seen.every((id) => lateIds.has(id) || fans.some((f) => f.user.id === id)),
      "only real followers",
    );
    // After the dust settles: all 150, newest first, exactly once; the count is exact.
    const all = await pageAll(FOLLOWERS, star.user.username, 25);
    assert.equal(all.length, 150);
    assert.equal(new Set(all).size, 150);
    assert.deepEqual(all.slice(0, 30).sort(), [...lateIds].sort(), "newest first");
    const counts = await gql(url, `query($u: String!) { user(username: $u) { followerCount followingCount } }`, {
      variables: { u: star.user.username },
    });
    assert.deepEqual(counts.body.data.user, { followerCount: 150, followingCount: 0 });
  });

  test("following pages the other direction; bad page arguments are coded errors naming the field", async () => {
    const a = await register(url);
    const idols = await Promise.all(Array.from({ length: 17 }, () => register(url)));
    for (const i of idols) await mutate("follow", a.accessToken, i.user.id);
    const seen = await pageAll(FOLLOWING, a.user.username, 5);
    assert.deepEqual(seen, idols.map((i) => i.user.id).reverse(), "newest first, each once");
    const first101 = await gql(url, FOLLOWERS, { variables: { u: a.user.username, first: 101 } });
    assert.deepEqual(errorOf(first101), { code: "BAD_USER_INPUT", field: "first" });
    for (const after of ["zz!", Buffer.from("99999999999999999999").toString("base64url")]) {
      const bad = await gql(url, FOLLOWERS, { variables: { u: a.user.username, first: 5, after } });
      assert.deepEqual(errorOf(bad), { code: "BAD_USER_INPUT", field: "cursor" }, after);
    }
  });
});

describe("graph batch RPCs", () => {
  test("GetRelationships and GetCounts answer in request order and refuse more than 100 ids", async () => {
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    await mutate("follow", a.accessToken, b.user.id);
    await mutate("follow", c.accessToken, a.user.id);
    await mutate("mute", a.accessToken, c.user.id);
    const graph = serviceClient(
      GraphService,
      createTransport({
        caller: "gateway",
        target: "graph",
        peer: { kind: "local", routes: routesOf(nova.instances.get("graph")?.services ?? []) },
      }),
      5_000,
    );
    const as = <T>(fn: () => Promise<T>) => runWithCall({ user: { userId: a.user.id, sessionId: "s" } }, fn);
    const rel = await as(() => graph.getRelationships({ userIds: [c.user.id, b.user.id] }));
    assert.deepEqual(
      rel.relationships.map((r) => [r.userId, r.following, r.followedBy, r.muting]),
      [
        [c.user.id, false, true, true],
        [b.user.id, true, false, false],
      ],
    );
    const counts = await graph.getCounts({ userIds: [a.user.id, b.user.id] });
    assert.deepEqual(
      counts.counts.map((x) => [x.followerCount, x.followingCount]),
      [
        [1, 1],
        [1, 0],
      ],
    );
    const many = Array.from({ length: 101 }, () => b.user.id);
    await assert.rejects(
      as(() => graph.getRelationships({ userIds: many })),
      (err) => {
        assert.equal(fromError(err).code, "VALIDATION_FAILED");
        assert.equal(fromError(err).field, "userIds");
        return true;
      },
    );
  });
});

describe("identity's follower counts from the graph's events (embedded log)", () => {
  test("a follow, an unfollow and a block reach identity's profile counts exactly once", async () => {
    const [a, b] = [await register(url), await register(url)];
    await mutate("follow", a.accessToken, b.user.id);
    await mutate("follow", b.accessToken, a.user.id);
    await mutate("block", a.accessToken, b.user.id);
    await mutate("follow", (await register(url)).accessToken, b.user.id);
    const expected = JSON.stringify(
      [
        [a.user.id, 0, 0],
        [b.user.id, 1, 0],
      ].sort(),
    );
    const read = async () =>
      JSON.stringify(
        (
          await db.query(
            "SELECT id::text AS id, follower_count, following_count FROM identity.users WHERE id = ANY($1::uuid[])",
            [[a.user.id, b.user.id]],
          )
        ).rows
          .map((x) => [x.id, x.follower_count, x.following_count])
          .sort(),
      );
    const end = Date.now() + 15_000;
    while (Date.now() < end && (await read()) !== expected) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await read(), expected);
    // Nothing is applied a second time later.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await read(), expected);
  });
});
