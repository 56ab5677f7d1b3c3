/**
 * The follow graph through the GraphQL gateway, in the embedded topology on
 * real PostgreSQL: the rules, idempotency and its events, blocks, pagination
 * under concurrent follows, and identity's follower counts kept from the
 * graph's events by its consumer (the cross-service path, embedded log).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { GraphService } from "../src/gen/nova/graph/v1/graph_pb.ts";
import { fromError } from "../src/platform/errors.ts";
import type { Nova } from "../src/runtime/app.ts";
import { clientAs, gql, metricValue, register, services, startInProcess } from "./helpers.ts";

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

/** Registers `n` users, 4 at a time (argon2id is expensive on this 2-core machine). */
async function registerMany(n: number): Promise<Awaited<ReturnType<typeof register>>[]> {
  const out: Awaited<ReturnType<typeof register>>[] = [];
  await pool(
    Array.from({ length: n }, (_, i) => i),
    4,
    async () => out.push(await register(url)),
  );
  return out;
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
    const fans = await registerMany(120);
    const late = await registerMany(30);
    // The 120 follow concurrently (8 at a time): the star's count row is contended.
    const followed = async (f: { accessToken: string }) => {
      const r = await mutate("follow", f.accessToken, star.user.id);
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    };
    await pool(fans, 8, followed);
    // While we page, 30 others follow: after each page, 5 follows start and run alongside the next page's read.
    const pending = [...late];
    const inFlight: Promise<unknown>[] = [];
    const seen = await pageAll(FOLLOWERS, star.user.username, 25, async () => {
      for (const f of pending.splice(0, 5)) inFlight.push(followed(f));
    });
    for (const f of pending) inFlight.push(followed(f));
    await Promise.all(inFlight);
    assert.equal(new Set(seen).size, seen.length, "no follower twice");
    const missing = fans.filter((f) => !seen.includes(f.user.id)).map((f) => f.user.id);
    if (missing.length > 0) {
      // Say which part lost them: the follow rows, or the listing / hydration.
      const rows = await db.query(
        `SELECT follower_id::text AS id FROM graph.follows WHERE followee_id = $1 AND follower_id = ANY($2::uuid[])`,
        [star.user.id, missing],
      );
      assert.fail(`${missing.length} fans not listed; their follow rows exist for ${rows.rows.length} of them`);
    }
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
    const idols = await registerMany(17);
    for (const i of idols) await mutate("follow", a.accessToken, i.user.id);
    const seen = await pageAll(FOLLOWING, a.user.username, 5);
    assert.deepEqual(seen, idols.map((i) => i.user.id).reverse(), "newest first, each once");
    const first101 = await gql(url, FOLLOWERS, { variables: { u: a.user.username, first: 101 } });
    assert.deepEqual(errorOf(first101), { code: "BAD_USER_INPUT", field: "first" });
    for (const after of ["zz!", Buffer.from("99999999999999999999").toString("base64url")]) {
      const bad = await gql(url, FOLLOWERS, { variables: { u: a.user.username, first: 5, after } });
      assert.deepEqual(errorOf(bad), { code: "BAD_USER_INPUT", field: "after" }, after);
    }
  });
});

describe("list order where positions gain a digit", () => {
  test("followers sort by position as a number, not as text: 10^17 - 1 then 10^17 is the next page, not the end", async () => {
    // Rows at two positions far above the sequence (it never gets there), straddling a power of ten.
    const star = randomUUID();
    const [older, newer] = [randomUUID(), randomUUID()];
    const r = BigInt(Math.floor(Math.random() * 1_000_000));
    const seqs = [10n ** 17n - 1n - r, 10n ** 17n + r];
    await db.query(
      `INSERT INTO graph.follows (follower_id, followee_id, seq) OVERRIDING SYSTEM VALUE
        VALUES ($1, $3, $4), ($2, $3, $5)`,
      [older, newer, star, String(seqs[0]), String(seqs[1])],
    );
    try {
      const seen: string[] = [];
      let cursor = "";
      for (let pages = 0; pages < 5; pages++) {
        const page = await graphAs().listFollowers({ userId: star, limit: 1, cursor });
        seen.push(...page.userIds);
        if (page.nextCursor === "") break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(seen, [newer, older], "newest first, both listed");
    } finally {
      await db.query("DELETE FROM graph.follows WHERE followee_id = $1", [star]);
    }
  });
});

describe("graph batch RPCs", () => {
  test("GetRelationships and GetCounts answer in request order and refuse more than 100 ids", async () => {
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    await mutate("follow", a.accessToken, b.user.id);
    await mutate("follow", c.accessToken, a.user.id);
    await mutate("mute", a.accessToken, c.user.id);
    const graph = graphAs(a.user.id);
    const rel = await graph.getRelationships({ userIds: [c.user.id, b.user.id] });
    assert.deepEqual(
      rel.relationships.map((r) => [r.userId, r.following, r.followedBy, r.muting]),
      [
        [c.user.id, false, true, true],
        [b.user.id, true, false, false],
      ],
    );
    const counts = await graphAs().getCounts({ userIds: [a.user.id, b.user.id] });
    assert.deepEqual(
      counts.counts.map((x) => [x.followerCount, x.followingCount]),
      [
        [1, 1],
        [1, 0],
      ],
    );
    const many = Array.from({ length: 101 }, () => b.user.id);
    await assert.rejects(graph.getRelationships({ userIds: many }), (err) => {
      assert.equal(fromError(err).code, "VALIDATION_FAILED");
      assert.equal(fromError(err).field, "userIds");
      return true;
    });
  });
});

/** A client of the graph service in this process, calling as `userId` (or as nobody). */
const graphAs = (userId?: string) => clientAs(nova, GraphService, userId, { timeoutMs: 5_000 });

/** A user-facing write RPC by name (their requests and answers have the same shape). */
const write = (g: ReturnType<typeof graphAs>, rpc: string) =>
  g[rpc as "follow"] as (req: { userId: string }) => Promise<{ changed: boolean }>;

async function rejectsWith(p: Promise<unknown>, code: string, field?: string) {
  await assert.rejects(p, (err) => {
    const e = fromError(err);
    assert.equal(e.code, code, String(err));
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

describe("the event contract (identity and feed consume it)", () => {
  test("each change writes exactly one event of its type, keyed by the subject; repeats write none", async () => {
    const [a, b] = [await register(url), await register(url)];
    const A = a.user.id;
    const B = b.user.id;
    for (const [name, token, target] of [
      ["follow", a.accessToken, B],
      ["follow", a.accessToken, B],
      ["follow", b.accessToken, A],
      ["mute", a.accessToken, B],
      ["mute", a.accessToken, B],
      ["unmute", a.accessToken, B],
      ["unmute", a.accessToken, B],
      ["block", a.accessToken, B],
      ["block", a.accessToken, B],
      ["unblock", a.accessToken, B],
      ["unblock", a.accessToken, B],
      ["follow", a.accessToken, B],
      ["unfollow", a.accessToken, B],
      ["unfollow", a.accessToken, B],
    ] as const) {
      const r = await mutate(name, token, target);
      assert.equal(r.body.errors, undefined, `${name}: ${JSON.stringify(r.body)}`);
    }
    const rows = (
      await db.query(
        `SELECT topic, key, envelope FROM graph.outbox
          WHERE envelope->'payload'->>'userId' = ANY($1) AND envelope->'payload'->>'targetId' = ANY($1) ORDER BY seq`,
        [[A, B]],
      )
    ).rows.map((r) => ({
      topic: r.topic,
      key: r.key,
      type: r.envelope.type,
      aggregate: [r.envelope.aggregate_type, r.envelope.aggregate_id],
      actor: r.envelope.actor_id,
      payload: r.envelope.payload,
    }));
    const ev = (type: string, subject: string, object: string, actor: string, reason?: string) => ({
      topic: "nova.graph.relationship",
      key: subject,
      type,
      aggregate: ["relationship", subject],
      actor,
      payload: reason ? { userId: subject, targetId: object, reason } : { userId: subject, targetId: object },
    });
    assert.deepEqual(rows, [
      ev("Followed", A, B, A),
      ev("Followed", B, A, B),
      ev("Muted", A, B, A),
      ev("Unmuted", A, B, A),
      ev("Blocked", A, B, A),
      // The block ended both follows: each Unfollowed is keyed by its follower; the blocker acted.
      ev("Unfollowed", A, B, A, "blocked"),
      ev("Unfollowed", B, A, A, "blocked"),
      ev("Unblocked", A, B, A),
      ev("Followed", A, B, A),
      ev("Unfollowed", A, B, A),
    ]);
  });
});

describe("the RPCs themselves", () => {
  test("every write and GetRelationships needs an end user; every RPC validates its input", async () => {
    const [a, b] = [await register(url), await register(url)];
    const anon = graphAs();
    const asA = graphAs(a.user.id);
    for (const rpc of ["follow", "unfollow", "block", "unblock", "mute", "unmute"] as const) {
      await rejectsWith(write(anon, rpc)({ userId: b.user.id }), "UNAUTHENTICATED");
      await rejectsWith(write(asA, rpc)({ userId: "x" }), "VALIDATION_FAILED", "userId");
      await rejectsWith(write(asA, rpc)({ userId: a.user.id }), "VALIDATION_FAILED", "userId");
    }
    await rejectsWith(anon.getRelationships({ userIds: [b.user.id] }), "UNAUTHENTICATED");
    await rejectsWith(asA.getRelationships({ userIds: [b.user.id, "nope"] }), "VALIDATION_FAILED", "userIds[1]");
    await rejectsWith(asA.getCounts({ userIds: Array(101).fill(b.user.id) }), "VALIDATION_FAILED", "userIds");
    for (const rpc of ["listFollowers", "listFollowing"] as const) {
      await rejectsWith(asA[rpc]({ userId: b.user.id, limit: 101, cursor: "" }), "VALIDATION_FAILED", "limit");
      await rejectsWith(asA[rpc]({ userId: "", limit: 10, cursor: "" }), "VALIDATION_FAILED", "userId");
      await rejectsWith(asA[rpc]({ userId: b.user.id, limit: 10, cursor: "%%" }), "VALIDATION_FAILED", "cursor");
    }
    // Blocking, muting or following a user who does not exist is NOT_FOUND; undoing it is a no-op.
    const ghost = "0190c7a4-0000-7000-8000-00000000dead";
    for (const rpc of ["follow", "block", "mute"] as const) {
      await rejectsWith(write(asA, rpc)({ userId: ghost }), "NOT_FOUND", "userId");
    }
    for (const rpc of ["unfollow", "unblock", "unmute"] as const) {
      assert.equal((await write(asA, rpc)({ userId: ghost })).changed, false);
    }
  });

  test("a write answers with the relationship and both users' counts after it", async () => {
    const [a, b] = [await register(url), await register(url)];
    const asA = graphAs(a.user.id);
    const f = await asA.follow({ userId: b.user.id.toUpperCase() });
    assert.equal(f.changed, true);
    assert.equal(f.relationship?.userId, b.user.id);
    assert.equal(f.relationship?.following, true);
    assert.deepEqual(
      f.counts.map((c) => [c.userId, c.followerCount, c.followingCount]),
      [
        [a.user.id, 0, 1],
        [b.user.id, 1, 0],
      ],
    );
    const again = await asA.follow({ userId: b.user.id });
    assert.equal(again.changed, false);
    assert.equal(again.counts[1]?.followerCount, 1);
    const blocked = await asA.block({ userId: b.user.id });
    assert.deepEqual(
      [blocked.relationship?.following, blocked.relationship?.blocking, blocked.counts.map((c) => c.followerCount)],
      [false, true, [0, 0]],
    );
  });
});

describe("exact under concurrency", () => {
  test("racing duplicate follows count once and write one event each", async () => {
    const star = await register(url);
    const fans = await registerMany(30);
    // Every fan follows three times at once; all 90 calls race.
    await Promise.all(fans.flatMap((f) => [1, 2, 3].map(() => mutate("follow", f.accessToken, star.user.id))));
    const [{ n }] = (
      await db.query(
        `SELECT count(*)::int AS n FROM graph.outbox
          WHERE envelope->>'type' = 'Followed' AND envelope->'payload'->>'targetId' = $1`,
        [star.user.id],
      )
    ).rows;
    assert.equal(n, 30, "one Followed per fan");
    const c = await graphAs(star.user.id).getCounts({ userIds: [star.user.id] });
    assert.equal(c.counts[0]?.followerCount, 30);
  });

  test("a follow racing a block never survives it, and the counts stay equal to the rows", async () => {
    const users = await registerMany(24);
    const pairs = Array.from({ length: 12 }, (_, i) => [users[2 * i], users[2 * i + 1]] as const);
    // x follows y while y follows x and blocks x, all at once.
    await Promise.all(
      pairs.flatMap(([x, y]) =>
        x && y
          ? [
              mutate("follow", x.accessToken, y.user.id),
              mutate("follow", y.accessToken, x.user.id),
              mutate("block", y.accessToken, x.user.id),
            ]
          : [],
      ),
    );
    const ids = users.map((u) => u.user.id);
    const survivors = await db.query(
      `SELECT f.follower_id FROM graph.follows f JOIN graph.blocks b
         ON (b.blocker_id = f.follower_id AND b.blocked_id = f.followee_id)
         OR (b.blocker_id = f.followee_id AND b.blocked_id = f.follower_id)
       WHERE f.follower_id = ANY($1::uuid[])`,
      [ids],
    );
    assert.equal(survivors.rows.length, 0, "no follow across a block");
    const blocks = await db.query("SELECT count(*)::int AS n FROM graph.blocks WHERE blocker_id = ANY($1::uuid[])", [
      ids,
    ]);
    assert.equal(blocks.rows[0].n, 12);
    const drift = await db.query(
      `SELECT u.id FROM unnest($1::uuid[]) AS u(id) LEFT JOIN graph.counts c ON c.user_id = u.id
        WHERE coalesce(c.follower_count, 0) <> (SELECT count(*) FROM graph.follows WHERE followee_id = u.id)
           OR coalesce(c.following_count, 0) <> (SELECT count(*) FROM graph.follows WHERE follower_id = u.id)`,
      [ids],
    );
    assert.deepEqual(drift.rows, [], "counts equal the rows");
    // Every Followed that the block undid has its Unfollowed: the events replay to the same state.
    const net = await db.query(
      `SELECT sum(CASE envelope->>'type' WHEN 'Followed' THEN 1 WHEN 'Unfollowed' THEN -1 ELSE 0 END)::int AS n
         FROM graph.outbox WHERE envelope->'payload'->>'userId' = ANY($1)`,
      [ids],
    );
    assert.equal(net.rows[0].n, 0);
  });
});

describe("hydration cost", () => {
  test("a followers page costs the same number of RPCs for 10 and 40 users; a write reads no replica", async () => {
    const metrics = `http://127.0.0.1:${nova.adminPort}/metrics`;
    const rpcs = (labels: Record<string, string> = {}) =>
      metricValue(metrics, "nova_rpc_client_handled_total", { caller: "gateway", ...labels });
    const [viewer, star] = [await register(url), await register(url)];
    const fans = await registerMany(40);
    const followed = async (f: { accessToken: string }) => {
      const r = await mutate("follow", f.accessToken, star.user.id);
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    };
    await pool(fans, 8, followed);
    await pool(fans.slice(0, 5), 5, (f) => mutate("follow", viewer.accessToken, f.user.id));
    const Q = `query($u: String!, $first: Int) { user(username: $u) { followers(first: $first) {
      edges { node { id username followerCount followingCount viewerRelationship { following followedBy } } } } } }`;
    const cost = async (first: number) => {
      const before = await rpcs();
      const r = await gql(url, Q, { token: viewer.accessToken, variables: { u: star.user.username, first } });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      assert.equal(r.body.data.user.followers.edges.length, first);
      return (await rpcs()) - before;
    };
    const ten = await cost(10);
    const forty = await cost(40);
    // user(username), ListFollowers, BatchGetUsers, GetCounts, GetRelationships.
    assert.ok(ten <= 5, `10 users: ${ten} RPCs`);
    assert.equal(forty, ten, `40 users: ${forty} RPCs, 10 users: ${ten}`);

    const reads = async () => (await rpcs({ method: "GetCounts" })) + (await rpcs({ method: "GetRelationships" }));
    const before = await reads();
    const f = await mutate("follow", viewer.accessToken, star.user.id);
    assert.equal(f.body.data.follow.followerCount, 41);
    assert.equal(f.body.data.follow.viewerRelationship.following, true);
    assert.equal(await reads(), before, "the write's own answer primed the loaders");
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
