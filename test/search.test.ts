/**
 * Search end to end: events from identity, graph and content build the
 * search projection (through the embedded log on the harness PostgreSQL),
 * queries go through the gateway (hydrated by the DataLoaders) or straight to
 * the SearchService over its in-process transport. Each assertion on the
 * projection waits for the consumer to catch up.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Client } from "@connectrpc/connect";
import fc from "fast-check";
import pg from "pg";
import { createDatabase } from "../scripts/lib/scratch.ts";
import { buildManifest } from "../src/gateway/persisted.ts";
import { ContentService } from "../src/gen/nova/content/v1/content_pb.ts";
import { SearchService } from "../src/gen/nova/search/v1/search_pb.ts";
import { Database } from "../src/platform/db/pool.ts";
import { fromError } from "../src/platform/errors.ts";
import { deliverBatch } from "../src/platform/events/consumer.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { type Nova, startNova } from "../src/runtime/app.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { indexConsumer } from "../src/services/search/consumers.ts";
import { clientAs, gql, register, services, spawnNova, startInProcess, tempDir } from "./helpers.ts";

type U = Awaited<ReturnType<typeof register>>;

/** Lower-case letters only: one word for every parser and stemmer. */
const word = (prefix: string, n = 8) =>
  prefix +
  [...randomBytes(n)]
    .map((b) => String.fromCharCode(97 + (b % 26)))
    .join("")
    .slice(0, n);

async function eventually(what: string, cond: () => Promise<boolean>, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what}`);
}

const SEARCH = `query($q: String!, $t: SearchType!, $f: Int, $a: String) {
  search(query: $q, type: $t, first: $f, after: $a) {
    edges { cursor node { __typename ... on User { id username displayName } ... on Post { id text author { id } }
      ... on Hashtag { tag postCount } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe("search", () => {
  let nova: Nova;
  let url: string;
  let db: pg.Pool;
  let rpc: Client<typeof SearchService>;

  const start = async () => {
    ({ nova, url } = await startInProcess());
    const search = nova.instances.get("search")?.services;
    assert.ok(search, "the search module runs");
    rpc = clientAs(nova, SearchService);
  };

  before(async () => {
    const s = await services();
    db = new pg.Pool({ connectionString: s.postgres, max: 3 });
    await start();
  });
  after(async () => {
    await nova?.stop();
    await db.end();
  });

  const post = async (u: U, text: string): Promise<string> => {
    const r = await gql(url, "mutation($t: String!) { createPost(input: { text: $t }) { id } }", {
      token: u.accessToken,
      variables: { t: text },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    return r.body.data.createPost.id;
  };
  const act = (name: string, u: U, id: string) =>
    gql(url, `mutation($id: ID!) { ${name}(userId: $id) { id } }`, { token: u.accessToken, variables: { id } });
  const search = async (q: string, type: string, opts: { token?: string; first?: number; after?: string } = {}) => {
    const r = await gql(url, SEARCH, {
      token: opts.token,
      variables: { q, t: type, f: opts.first ?? 20, a: opts.after },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    return r.body.data.search as {
      edges: { cursor: string; node: { __typename: string; id?: string; tag?: string; postCount?: number } }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
  const ids = async (q: string, type: string, token?: string) =>
    (await search(q, type, { token, first: 50 })).edges.map((e) => e.node.id ?? e.node.tag);

  test("users: exact name first, then prefixes, then similar names; typos and accents tolerated", async () => {
    const b = word("kw", 9);
    // A typo of b inside another username (two letters swapped).
    const typo = `${b.slice(0, 6)}${b[7]}${b[6]}${b.slice(8)}`;
    const exact = await register(url, b);
    const prefixed = await register(url, `${b}_fan`);
    const similar = await register(url, `zz_${typo}`);
    const named = await register(url, word("dn", 10));
    await gql(url, "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }", {
      token: named.accessToken,
      variables: { i: { displayName: `Zoë Ångström ${b}` } },
    });
    await eventually("all four users indexed", async () => (await ids(b, "USERS")).length >= 4);
    const found = await ids(b, "USERS");
    const pos = (u: U) => found.indexOf(u.user.id);
    assert.equal(pos(exact), 0, "the exact username first");
    assert.ok(pos(prefixed) > 0 && pos(named) > 0, "prefix matches next");
    assert.ok(pos(similar) > pos(prefixed) && pos(similar) > pos(named), "the similar name after the prefix matches");
    // A typo still finds the user; accents are folded; word prefixes of a display name match.
    assert.ok((await ids(typo, "USERS")).includes(exact.user.id), "typo tolerated");
    assert.ok((await ids(`zoe angstrom`, "USERS")).includes(named.user.id), "accents folded");
    assert.ok((await ids(`angstr`, "USERS")).includes(named.user.id), "word prefix of a display name");
    // Paging by 1 walks the same order.
    const walked: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await search(b, "USERS", { first: 1, after: cursor });
      walked.push(...page.edges.map((e) => e.node.id as string));
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor ?? undefined;
    }
    assert.deepEqual(walked, found);
  });

  test("posts: more relevant first, newer first at equal relevance; stemmed; deleted and blocked posts hidden", async () => {
    const t = word("pz", 8);
    const [author, reader, blocker] = [await register(url), await register(url), await register(url)];
    const strong = await post(author, `${t} ${t} ${t}: the whole story about ${t}`);
    const older = await post(author, `once upon a time, ${t}`);
    const newer = await post(author, `once upon a time, ${t}`);
    const stem = await post(author, `${t} runners were running`);
    await eventually("four posts indexed", async () => (await ids(t, "POSTS")).length === 4);
    const found = await ids(t, "POSTS");
    assert.equal(found[0], strong, "three mentions rank first");
    assert.ok(found.indexOf(newer) < found.indexOf(older), "equal relevance: the newer first");
    assert.deepEqual(await ids(`${t} runs`, "POSTS"), [stem], "English stemming: runs ~ running");
    assert.deepEqual(await ids(`"${t} runners" -was`, "POSTS"), [stem], "operators of the web syntax work");
    // Deleted: gone from search (and from the projection).
    await gql(url, "mutation($id: ID!) { deletePost(id: $id) }", {
      token: author.accessToken,
      variables: { id: older },
    });
    // The gateway drops it at once (content no longer has it); the projection follows with PostDeleted.
    assert.ok(!(await ids(t, "POSTS")).includes(older));
    await eventually(
      "deleted post gone from the projection",
      async () => !(await rpc.searchPosts({ query: t, limit: 50 })).postIds.includes(older),
    );
    const row = await db.query("SELECT 1 FROM search.posts WHERE post_id = $1", [older]);
    assert.equal(row.rows.length, 0);
    // Blocks, both ways: the author blocks `blocker`, `reader` blocks the author.
    await act("block", author, blocker.user.id);
    await act("block", reader, author.user.id);
    await eventually("blocks in the projection", async () => {
      const r = await db.query(
        "SELECT count(*)::int AS n FROM search.blocks WHERE blocked_id = $1 OR blocker_id = $1",
        [author.user.id],
      );
      return r.rows[0].n === 2;
    });
    const direct = async (userId: string) => clientAs(nova, SearchService, userId).searchPosts({ query: t, limit: 50 });
    assert.equal((await direct(blocker.user.id)).postIds.length, 0, "blocked by the author");
    assert.equal((await direct(reader.user.id)).postIds.length, 0, "blocking the author");
    assert.equal((await ids(t, "POSTS", reader.accessToken)).length, 0, "through the gateway too");
    assert.equal((await ids(author.user.username, "USERS", blocker.accessToken)).includes(author.user.id), false);
    assert.equal((await ids(t, "POSTS")).length, 3, "signed out: all live posts");
    await act("unblock", reader, author.user.id);
    await eventually("unblocked: back", async () => (await ids(t, "POSTS", reader.accessToken)).length === 3);
  });

  test("post search pages keep one order while new posts arrive", async () => {
    const t = word("pg", 8);
    const author = await register(url);
    for (let i = 0; i < 12; i++) await post(author, `${t} ${"more ".repeat(i % 3)}${i}`);
    await eventually("12 posts indexed", async () => (await ids(t, "POSTS")).length === 12);
    const first = await ids(t, "POSTS");
    const walked: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const p = await search(t, "POSTS", { first: 5, after: cursor });
      walked.push(...p.edges.map((e) => e.node.id as string));
      // A better match arrives between pages: it is not slipped into later pages.
      await post(author, `${t} ${t} ${t} ${t} newest`);
      if (!p.pageInfo.hasNextPage) break;
      cursor = p.pageInfo.endCursor ?? undefined;
    }
    assert.deepEqual(walked, first, "no duplicates, no gaps, same order");
    const stale = await gql(url, SEARCH, { variables: { q: `${t} other`, t: "POSTS", f: 5, a: cursor } });
    assert.equal(stale.body.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", "a cursor of another query is refused");
    // Named as the client sent it: the list's `after` argument.
    assert.equal(stale.body.errors?.[0]?.extensions?.field, "after");
  });

  test("trending: three authors once each beat one author six times", async () => {
    // A database of its own: trending ranks every hashtag of the last 24 hours, other suites' and runs' too.
    const s = await services();
    const scratch = await createDatabase(s.postgres, "nova_trend");
    const own = await startInProcess({ DATABASE_URL: scratch.url(s.postgres) });
    try {
      const [a, b, c] = [await register(own.url), await register(own.url), await register(own.url)];
      const say = async (u: U, text: string) => {
        const r = await gql(own.url, "mutation($t: String!) { createPost(input: { text: $t }) { id } }", {
          token: u.accessToken,
          variables: { t: text },
        });
        assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      };
      const spam = word("sp", 8);
      for (let i = 0; i < 6; i++) await say(a, `again #${spam}`);
      for (const u of [a, b, c]) await say(u, `together #${spam}x`);
      await eventually("trending", async () => {
        const r = await gql(own.url, "{ trendingHashtags(first: 50) { tag score postCount } }");
        const list = r.body.data.trendingHashtags as { tag: string; postCount: number }[];
        const many = list.findIndex((x) => x.tag === `${spam}x`);
        const one = list.findIndex((x) => x.tag === spam);
        return many >= 0 && one > many && list[one]?.postCount === 6;
      });
    } finally {
      await own.nova.stop();
      await scratch.drop();
    }
  });

  test("hashtags: search, posts by hashtag paged stably while posts arrive, counts", async () => {
    const tag = word("tg", 8);
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    const posts: string[] = [];
    for (let i = 0; i < 23; i++) posts.push(await post(a, `number ${i} #${tag}`));
    posts.push(await post(b, `#${tag} from b`));
    await eventually("24 posts counted", async () => {
      const h = (await search(tag, "HASHTAGS")).edges[0]?.node;
      return h?.tag === tag && h.postCount === 24;
    });
    const prefix = (await search(`#${tag.slice(0, 6)}`, "HASHTAGS")).edges.map((e) => e.node.tag);
    assert.ok(prefix.includes(tag), "prefix with '#'");
    const fuzzy = (await search(`${tag.slice(0, 7)}q`, "HASHTAGS")).edges.map((e) => e.node.tag);
    assert.ok(fuzzy.includes(tag), "similar hashtag");
    const walked: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await gql(
        url,
        `query($t: String!, $a: String) { hashtagPosts(tag: $t, first: 10, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
        { variables: { t: `#${tag.toUpperCase()}`, a: cursor } },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      walked.push(...r.body.data.hashtagPosts.edges.map((e: { node: { id: string } }) => e.node.id));
      await post(c, `late #${tag}`);
      if (!r.body.data.hashtagPosts.pageInfo.hasNextPage) break;
      cursor = r.body.data.hashtagPosts.pageInfo.endCursor;
    }
    assert.deepEqual(walked, [...posts].sort().reverse(), "every post once, newest first");
    // Autocomplete.
    const sug = await gql(url, "query($p: String!) { searchSuggestions(prefix: $p) { kind text user { id } } }", {
      variables: { p: `#${tag.slice(0, 5)}` },
    });
    assert.ok(sug.body.data.searchSuggestions.some((s: { text: string }) => s.text === `#${tag}`));
    const usr = await gql(url, "query($p: String!) { searchSuggestions(prefix: $p) { kind text user { id } } }", {
      variables: { p: `@${a.user.username.slice(0, 8)}` },
    });
    assert.ok(usr.body.data.searchSuggestions.some((s: { user: { id: string } | null }) => s.user?.id === a.user.id));
  });

  test("input rules: 1 to 200 characters, no control characters, a coded error naming the field", async () => {
    for (const [q, why] of [
      ["", "is required"],
      ["   ", "is required"],
      ["x".repeat(201), "at most 200"],
      ["bad\u0000byte", "control"],
      ["two\nlines", "control"],
      ["bell\u0007", "control"],
    ] as const) {
      const r = await gql(url, SEARCH, { variables: { q, t: "POSTS" } });
      // NUL is refused at the edge, before execution (platform/validate.ts), as every edge refusal: 400.
      assert.equal(r.status, q.includes("\u0000") ? 400 : 200);
      assert.equal(
        r.body.errors?.[0]?.extensions?.code,
        "BAD_USER_INPUT",
        `${JSON.stringify(q)}: ${JSON.stringify(r.body)}`,
      );
      assert.equal(r.body.errors[0].extensions.field, "query");
      assert.match(r.body.errors[0].message, new RegExp(why));
    }
    const ok = await gql(url, SEARCH, { variables: { q: "é".repeat(200), t: "USERS" } });
    assert.equal(ok.body.errors, undefined, "200 characters are fine");
    const first = await gql(url, SEARCH, { variables: { q: "x", t: "USERS", f: 51 } });
    assert.equal(first.body.errors?.[0]?.extensions?.field, "first");
  });

  test("property: no input makes a search fail with anything but a field error or results", async () => {
    const kinds = ["searchUsers", "searchPosts", "searchHashtags", "suggestions", "postsByHashtag"] as const;
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 260 }),
      fc.string({ unit: "grapheme", maxLength: 60 }),
      fc
        .array(
          fc.constantFrom(
            "&",
            "|",
            "!",
            "<->",
            ":*",
            "(",
            ")",
            "'",
            '"',
            "\\",
            "%",
            "_",
            "-",
            "OR",
            "#",
            "@",
            " ",
            "a",
            "é",
            "🙂",
          ),
          {
            maxLength: 30,
          },
        )
        .map((xs) => xs.join("")),
    );
    const viewer = clientAs(nova, SearchService, (await register(url)).user.id);
    /** One search RPC of `kind` as the viewer. */
    const search = (kind: (typeof kinds)[number], q: string, cursor: string | null) => {
      const page = { cursor: cursor ?? "", limit: 5 };
      switch (kind) {
        case "suggestions":
          return viewer.suggestions({ prefix: q, limit: 5 });
        case "postsByHashtag":
          return viewer.postsByHashtag({ tag: q, ...page });
        default:
          return viewer[kind]({ query: q, ...page });
      }
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...kinds),
        text,
        fc.option(fc.string({ maxLength: 40 })),
        async (kind, q, cursor) => {
          try {
            await search(kind, q, cursor);
          } catch (err) {
            const e = fromError(err);
            assert.equal(e.code, "VALIDATION_FAILED", `${kind}(${JSON.stringify(q)}): ${e.code} ${e.message}`);
            assert.ok(e.field && ["query", "prefix", "tag", "cursor"].includes(e.field), `field ${e.field}`);
          }
        },
      ),
      { numRuns: 400 },
    );
    // And through the gateway: results or BAD_USER_INPUT; text the edge refuses (NUL, a lone surrogate) is a 400 there.
    await fc.assert(
      fc.asyncProperty(text, fc.constantFrom("USERS", "POSTS", "HASHTAGS"), async (q, t) => {
        const r = await gql(url, SEARCH, { variables: { q, t, f: 3 } });
        assert.ok(r.status === 200 || r.status === 400, `status ${r.status}`);
        if (r.status === 400) assert.equal(r.body.errors?.[0]?.extensions?.field, "query", JSON.stringify(r.body));
        if (r.body.errors) assert.equal(r.body.errors[0].extensions.code, "BAD_USER_INPUT", JSON.stringify(r.body));
        else assert.ok(Array.isArray(r.body.data.search.edges));
      }),
      // The edge's refusals always run (found once in 400 random runs: a NUL answered 400, not 200).
      {
        numRuns: 100,
        examples: [
          ["\u0000", "USERS"],
          ["a\ud800b", "POSTS"],
        ],
      },
    );
  });

  /** The rows of the projection that concern these users (their profiles, posts, hashtags, blocks). */
  async function snapshot(userIds: string[], tags: string[]) {
    const q = async (text: string, params: unknown[]) => (await db.query(text, params)).rows;
    return {
      users: await q(
        "SELECT user_id, username, display_name, created_at FROM search.users WHERE user_id = ANY($1) ORDER BY user_id",
        [userIds],
      ),
      posts: await q(
        "SELECT post_id, author_id, text, language::text, created_at, tsv::text FROM search.posts WHERE author_id = ANY($1) ORDER BY post_id",
        [userIds],
      ),
      postTags: await q(
        "SELECT tag, post_id, author_id, created_at FROM search.post_hashtags WHERE author_id = ANY($1) ORDER BY tag, post_id",
        [userIds],
      ),
      tags: await q("SELECT tag, post_count FROM search.hashtags WHERE tag = ANY($1) ORDER BY tag", [tags]),
      blocks: await q(
        "SELECT blocker_id, blocked_id FROM search.blocks WHERE blocker_id = ANY($1) OR blocked_id = ANY($1) ORDER BY 1, 2",
        [userIds],
      ),
    };
  }

  test("nova search reindex: rebuilds from the sources, equals the incremental projection, misses nothing written meanwhile", async () => {
    const s = await services();
    const tag = word("rx", 8);
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    await gql(url, "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }", {
      token: b.accessToken,
      variables: { i: { displayName: "Renée Reindex" } },
    });
    const p1 = await post(a, `first #${tag} #${tag}two`);
    await post(b, `second #${tag}`);
    const p3 = await post(c, `third #${tag}two`);
    await gql(url, "mutation($id: ID!, $t: String!) { editPost(id: $id, text: $t) { id } }", {
      token: a.accessToken,
      variables: { id: p1, t: `first, edited #${tag}` },
    });
    await gql(url, "mutation($id: ID!) { deletePost(id: $id) }", { token: c.accessToken, variables: { id: p3 } });
    await act("block", a, c.user.id);
    const users = [a, b, c].map((u) => u.user.id);
    const tags = [tag, `${tag}two`];
    await eventually("the incremental projection caught up", async () => {
      const snap = await snapshot(users, tags);
      return (
        snap.posts.length === 2 &&
        snap.blocks.length === 1 &&
        snap.tags.length === 1 &&
        snap.users[1]?.display_name === "Renée Reindex"
      );
    });
    const incremental = await snapshot(users, tags);
    assert.deepEqual(incremental.tags, [{ tag, post_count: 2 }]);
    // A projection row the sources do not have: the rebuild must drop it.
    const ghost = "00000000-0000-7000-8000-000000000001";
    await db.query(
      `INSERT INTO search.posts (post_id, author_id, text, language, created_at, touched_at)
       VALUES ($1, $2, 'ghost', 'english', now(), now() - interval '1 hour') ON CONFLICT DO NOTHING`,
      [ghost, a.user.id],
    );
    // The rebuild's first phase waits on this lock (the parking consumer does not touch search.users),
    // so a post is written while it runs however fast the rebuild and however slow the machine.
    const hold = await db.connect();
    await hold.query("BEGIN");
    await hold.query("LOCK TABLE search.users IN EXCLUSIVE MODE");
    const cli = spawnNova(["search", "reindex", "--wait-ms", "60000"], {
      DATABASE_URL: s.postgres,
      NOVA_DATA_DIR: tempDir(),
    });
    let during = "";
    try {
      // Written while the rebuild runs: parked, then replayed.
      await eventually("the rebuild running", async () => {
        const r = await db.query("SELECT 1 FROM search.reindex_jobs WHERE state = 'running' AND phase <> 'replay'");
        return r.rows.length > 0;
      });
      during = await post(b, `during the rebuild #${tag}`);
      await eventually("the post written meanwhile parked", async () => {
        const r = await db.query("SELECT 1 FROM search.reindex_buffer WHERE envelope->'payload'->>'postId' = $1", [
          during,
        ]);
        return r.rows.length > 0;
      });
    } finally {
      await hold.query("COMMIT");
      hold.release();
    }
    const exit = await cli.exited;
    assert.equal(exit.code, 0, cli.output());
    assert.match(cli.output(), /posts\s+\[#+\.*\] \d+\/\d+/, "a progress bar");
    for (const phase of ["users", "posts", "blocks"])
      assert.match(
        cli.output(),
        new RegExp(`${phase}\\s+\\[#{30}\\] (\\d+)/\\1 `),
        `the ${phase} bar ends at its total`,
      );
    const summary = JSON.parse(cli.output().trim().split("\n").pop() as string);
    assert.equal(summary.state, "done");
    assert.ok(summary.posts >= 2 && summary.users >= 3, JSON.stringify(summary));
    assert.ok(summary.replayed >= 1, `the post written meanwhile was parked and replayed: ${JSON.stringify(summary)}`);
    await eventually("the post written during the rebuild is searchable", async () =>
      (await ids(`during the rebuild`, "POSTS")).includes(during),
    );
    const rebuilt = await snapshot(users, tags);
    assert.deepEqual(rebuilt.users, incremental.users);
    assert.deepEqual(rebuilt.blocks, incremental.blocks);
    assert.deepEqual(
      rebuilt.posts.filter((p) => p.post_id !== during),
      incremental.posts,
    );
    assert.deepEqual(rebuilt.tags, [{ tag, post_count: 3 }]);
    assert.equal((await db.query("SELECT 1 FROM search.posts WHERE post_id = $1", [ghost])).rows.length, 0);
    const state = await db.query("SELECT job_id FROM search.reindex_state");
    assert.equal(state.rows[0].job_id, null, "handed back to the consumer");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM search.reindex_buffer")).rows[0].n, 0);
    // The consumer applies directly again.
    const after = await post(a, `after the rebuild #${tag}`);
    await eventually("applied directly", async () => (await ids(`after the rebuild`, "POSTS")).includes(after));
  });

  test("the projection catches up after a restart from the event log: no gap, no duplicate", async () => {
    const s = await services();
    const tag = word("cu", 8);
    const author = await register(url);
    const before = await post(author, `before #${tag}`);
    await eventually("indexed", async () => (await ids(tag, "POSTS")).includes(before));
    await nova.stop();
    // Writes while no search module runs: content alone (with identity, graph, media and the relay).
    const writers = await startNova({
      mode: "embedded",
      targets: resolveTargets(["identity", "graph", "content", "media", "relay"]),
      config: loadConfig({
        DATABASE_URL: s.postgres,
        NOVA_DATA_DIR: tempDir(),
        LOG_LEVEL: "warn",
        PORT: "0",
        ADMIN_PORT: "0",
      }),
    });
    const authorWrites = clientAs(writers, ContentService, author.user.id);
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await authorWrites.createPost({ text: `while away ${i} #${tag}`, media: [] });
      written.push(r.post?.id as string);
    }
    await writers.stop();
    await start();
    await eventually("caught up", async () => (await ids(tag, "POSTS")).length === 6);
    assert.deepEqual((await ids(tag, "POSTS")).sort(), [before, ...written].sort());
    const h = await db.query("SELECT post_count FROM search.hashtags WHERE tag = $1", [tag]);
    assert.equal(h.rows[0].post_count, 6);
    // Redelivering the same events (at-least-once) changes nothing.
    const events = await db.query(
      "SELECT topic, envelope FROM content.outbox WHERE envelope->'payload'->>'postId' = ANY($1) ORDER BY seq",
      [[before, ...written]],
    );
    const pools = new Database({ writerUrl: s.postgres, poolMax: 2, applicationName: "search-test" });
    const outcomes = await deliverBatch(
      pools.kysely<unknown>().writer,
      indexConsumer(() => "english"),
      events.rows.map((r) => ({ topic: r.topic, raw: r.envelope })),
      { log: createLogger({ level: "silent" }) },
    ).finally(() => pools.close());
    assert.ok(
      outcomes.every((o) => o === "duplicate"),
      JSON.stringify(outcomes),
    );
    assert.equal(
      (await db.query("SELECT post_count FROM search.hashtags WHERE tag = $1", [tag])).rows[0].post_count,
      6,
    );
  });

  test("the client operations (src/gateway/operations) run within the gateway's limits at their largest pages", async () => {
    const u = await register(url);
    const ops = Object.values(buildManifest().operations);
    const doc = (name: string) => ops.find((o) => o.name === name)?.document ?? assert.fail(`no operation ${name}`);
    for (const [name, variables] of [
      ["Search", { query: "a", type: "POSTS", first: 50 }],
      ["Search", { query: "a", type: "USERS", first: 50 }],
      ["HashtagPosts", { tag: "nova", first: 50 }],
      ["TrendingHashtags", { first: 50 }],
      ["SearchSuggestions", { prefix: "a", first: 20 }],
    ] as const) {
      const r = await gql(url, doc(name), { token: u.accessToken, variables });
      assert.equal(r.body.errors, undefined, `${name}: ${JSON.stringify(r.body.errors)}`);
    }
  });
});
