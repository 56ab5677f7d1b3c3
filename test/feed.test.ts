/**
 * The home feed end to end through the gateway, on both timeline stores:
 * PostgreSQL (embedded mode) and Redis sorted sets (with REDIS_URL). Events
 * travel through the embedded log, so each assertion waits for the feed to
 * catch up.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import pg from "pg";
import type { Nova } from "../src/runtime/app.ts";
import { gql, metricValue, register, services, startInProcess } from "./helpers.ts";

type U = Awaited<ReturnType<typeof register>>;

for (const store of ["postgres", "redis"] as const) {
  describe(`home feed (${store} timelines)`, () => {
    let nova: Nova;
    let url: string;
    let db: pg.Pool;
    let redis: Redis | undefined;

    before(async () => {
      const s = await services();
      ({ nova, url } = await startInProcess({
        FEED_CELEBRITY_THRESHOLD: "3",
        // The inactivity test back-dates last_seen_at behind the process's back.
        FEED_ACTIVITY_RECHECK_S: "0",
        ...(store === "redis" ? { REDIS_URL: s.redis } : {}),
      }));
      db = new pg.Pool({ connectionString: s.postgres, max: 2 });
      if (store === "redis") redis = new Redis(s.redis);
    });
    after(async () => {
      redis?.disconnect();
      await db.end();
      await nova.stop();
    });

    const post = async (u: U, text: string): Promise<string> => {
      const r = await gql(url, "mutation($t: String!) { createPost(input: { text: $t }) { id } }", {
        token: u.accessToken,
        variables: { t: text },
      });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      return r.body.data.createPost.id;
    };
    const act = (name: string, u: U, id: string, arg = "userId") =>
      gql(url, `mutation($id: ID!) { ${name}(${arg}: $id) { id } }`, { token: u.accessToken, variables: { id } });
    const feed = async (u: U, first = 50, after?: string) => {
      const r = await gql(
        url,
        `query($f: Int, $a: String) { feed(first: $f, after: $a) { edges { cursor node { id text author { username } likeCount viewerHasLiked } } pageInfo { hasNextPage endCursor } } }`,
        { token: u.accessToken, variables: { f: first, a: after } },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      return r.body.data.feed as {
        edges: { cursor: string; node: { id: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    };
    const ids = async (u: U) => (await feed(u)).edges.map((e) => e.node.id);
    async function eventually(what: string, cond: () => Promise<boolean>, ms = 15_000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await cond()) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`timed out: ${what}`);
    }
    /** Whether the stored timeline (not the read-time merge) holds the post. */
    const stored = async (u: U, postId: string) =>
      store === "redis"
        ? (await redis?.zscore(`nova:feed:timeline:${u.user.id}:v1`, postId)) !== null
        : (await db.query("SELECT 1 FROM feed.timeline WHERE user_id = $1 AND post_id = $2", [u.user.id, postId])).rows
            .length > 0;

    test("follow then post: it appears; unfollow: it is gone", async () => {
      const [a, b] = [await register(url), await register(url)];
      await feed(a); // a is an active reader
      await act("follow", a, b.user.id);
      const p = await post(b, "hello followers");
      await eventually("the post in a's feed", async () => (await ids(a)).includes(p));
      assert.ok(await stored(a, p), "fanned out on write");
      await act("unfollow", a, b.user.id);
      await eventually("the post gone after unfollow", async () => !(await ids(a)).includes(p));
    });

    if (store === "postgres") {
      test("explore: visitors see ranked public posts with no viewer state, page by page; a viewer's block hides the author", async () => {
        const [a, b, c] = [await register(url), await register(url), await register(url)];
        const p = await post(a, "worth exploring");
        await act("likePost", b, p, "postId");
        /** Explore's pages until `p` (or the end, bounded); every post once. */
        const explore = async (token?: string) => {
          const seen = new Set<string>();
          let after: string | null = null;
          for (let i = 0; i < 40; i++) {
            const r = await gql(
              url,
              "query($a: String) { explore(first: 50, after: $a) { edges { node { id likeCount viewerHasLiked } } pageInfo { hasNextPage endCursor } } }",
              { variables: { a: after }, ...(token ? { token } : {}) },
            );
            assert.equal(r.status, 200);
            assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
            const page = r.body.data.explore;
            for (const e of page.edges as { node: { id: string; likeCount: number; viewerHasLiked: boolean } }[]) {
              assert.ok(!seen.has(e.node.id), `${e.node.id} on two pages`);
              seen.add(e.node.id);
              if (e.node.id === p) return e.node;
            }
            if (!page.pageInfo.hasNextPage) return undefined;
            after = page.pageInfo.endCursor;
          }
          return undefined;
        };
        await eventually("the liked post in signed-out explore", async () => (await explore())?.likeCount === 1);
        assert.equal((await explore())?.viewerHasLiked, false, "no viewer state signed out");
        assert.equal((await explore(b.accessToken))?.viewerHasLiked, true, "the liker sees their like");
        await act("block", c, a.user.id);
        await eventually("hidden from the blocker", async () => (await explore(c.accessToken)) === undefined);
        assert.ok(await explore(), "still there for visitors");
      });
    }

    test("block removes posts both ways; mute removes them and unmute brings them back; delete removes", async () => {
      const [a, b] = [await register(url), await register(url)];
      await feed(a);
      await feed(b);
      await act("follow", a, b.user.id);
      await act("follow", b, a.user.id);
      const pa = await post(a, "from a");
      const pb = await post(b, "from b");
      await eventually("both feeds", async () => (await ids(a)).includes(pb) && (await ids(b)).includes(pa));
      await act("mute", a, b.user.id);
      await eventually("muted gone", async () => !(await ids(a)).includes(pb));
      await act("unmute", a, b.user.id);
      await eventually("unmuted back", async () => (await ids(a)).includes(pb));
      await act("block", a, b.user.id);
      await eventually("gone both ways", async () => !(await ids(a)).includes(pb) && !(await ids(b)).includes(pa));
      const [c, d] = [await register(url), await register(url)];
      await feed(c);
      await act("follow", c, d.user.id);
      const pd = await post(d, "soon deleted");
      await eventually("in c's feed", async () => (await ids(c)).includes(pd));
      await gql(url, "mutation($id: ID!) { deletePost(id: $id) }", { token: d.accessToken, variables: { id: pd } });
      await eventually("deleted gone", async () => !(await ids(c)).includes(pd) && !(await stored(c, pd)));
    });

    test("a celebrity's post is not fanned out but merged at read time", async () => {
      const star = await register(url);
      const fans = await Promise.all([1, 2, 3, 4].map(() => register(url)));
      for (const f of fans) {
        await feed(f);
        await act("follow", f, star.user.id);
      }
      // 4 followers > threshold 3.
      await eventually("the star counted as a celebrity", async () => {
        const r = await db.query("SELECT followers FROM feed.authors WHERE author_id = $1", [star.user.id]);
        return (r.rows[0]?.followers ?? 0) > 3;
      });
      const p = await post(star, "to the masses");
      const fan = fans[0] as U;
      await eventually("merged into the fan's feed", async () => (await ids(fan)).includes(p));
      assert.equal(await stored(fan, p), false, "not written to the fan's stored timeline");
    });

    test("an inactive follower is skipped by fan-out and the timeline is rebuilt on return", async () => {
      const [a, b] = [await register(url), await register(url)];
      await feed(a);
      await act("follow", a, b.user.id);
      await eventually("the follow in the projection", async () => {
        const r = await db.query("SELECT 1 FROM feed.follows WHERE follower_id = $1 AND followee_id = $2", [
          a.user.id,
          b.user.id,
        ]);
        return r.rows.length > 0;
      });
      await db.query("UPDATE feed.activity SET last_seen_at = now() - interval '8 days' WHERE user_id = $1", [
        a.user.id,
      ]);
      const p = await post(b, "while you were away");
      await eventually("the post in the projection", async () => {
        const r = await db.query("SELECT 1 FROM feed.posts WHERE post_id = $1", [p]);
        return r.rows.length > 0;
      });
      assert.equal(await stored(a, p), false, "inactive follower skipped");
      assert.ok((await ids(a)).includes(p), "rebuilt on return");
      assert.ok(await stored(a, p), "the rebuilt timeline holds it");
    });

    test("paging while new posts arrive gives no duplicates and no gaps", async () => {
      const [a, b] = [await register(url), await register(url)];
      await feed(a);
      await act("follow", a, b.user.id);
      const before: string[] = [];
      for (let i = 0; i < 18; i++) before.push(await post(b, `old ${i}`));
      await eventually("all in the feed", async () => (await ids(a)).length >= 18);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const f = await feed(a, 5, cursor);
        seen.push(...f.edges.map((e) => e.node.id));
        await post(b, `new while paging ${page}`);
        if (!f.pageInfo.hasNextPage) break;
        cursor = f.pageInfo.endCursor ?? undefined;
      }
      assert.equal(new Set(seen).size, seen.length, "no duplicates");
      for (const p of before) assert.ok(seen.includes(p), "no gaps");
      // Each edge's cursor (the feed service's) continues after its post, and is the same as ever: its id's base64url.
      const first = (await feed(a, 4)).edges;
      for (const e of first) assert.equal(e.cursor, Buffer.from(e.node.id).toString("base64url"));
      const after = (await feed(a, 2, first[1]?.cursor)).edges.map((e) => e.node.id);
      assert.deepEqual(after, [first[2]?.node.id, first[3]?.node.id]);
      const bad = await gql(url, "{ feed(first: 51) { edges { cursor } } }", { token: a.accessToken });
      assert.equal(bad.body.errors?.[0]?.extensions?.field, "first");
    });

    test("one page costs a constant number of backend RPCs: the same for 20 and 50 posts", async () => {
      const [a, b, c] = [await register(url), await register(url), await register(url)];
      await feed(a);
      await act("follow", a, b.user.id);
      await act("follow", a, c.user.id);
      for (let i = 0; i < 30; i++) await post(i % 2 ? b : c, `p${i}`);
      await eventually("30 posts", async () => {
        const n = (await ids(a)).length;
        return n >= 30;
      });
      const metrics = `http://127.0.0.1:${nova.adminPort}/metrics`;
      const rpcs = async () => metricValue(metrics, "nova_rpc_client_handled_total", { caller: "gateway" });
      const cost = async (first: number) => {
        const before = await rpcs();
        const f = await feed(a, first);
        assert.ok(f.edges.length >= Math.min(first, 30));
        return (await rpcs()) - before;
      };
      const twenty = await cost(20);
      const fifty = await cost(50);
      // 6, plus PrepareTimeline when GetTimeline asks (here every read: FEED_ACTIVITY_RECHECK_S is 0), plus
      // the viewer's muted words (ListMutedWords, once a page).
      assert.ok(twenty <= 8, `20 posts: ${twenty} RPCs`);
      assert.equal(fifty, twenty, `50 posts: ${fifty} RPCs, 20 posts: ${twenty}`);
    });
  });
}
