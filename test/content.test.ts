/**
 * The content service through the gateway (and its RPCs directly where the
 * GraphQL API has no field), in the embedded topology on real PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { ContentService } from "../src/gen/nova/content/v1/content_pb.ts";
import { Database } from "../src/platform/db/pool.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import type { Nova } from "../src/runtime/app.ts";
import { purgeDeleted } from "../src/services/content/purge.ts";
import type { ContentTables } from "../src/services/content/queries.ts";
import { clientAs, gql, register, services, startInProcess } from "./helpers.ts";

let nova: Nova;
let url: string;
let db: pg.Pool;
/** The content service in this process, as nobody (reads the GraphQL API has no field for). */
let content: ReturnType<typeof clientAs<typeof ContentService>>;

before(async () => {
  ({ nova, url } = await startInProcess());
  db = new pg.Pool({ connectionString: (await services()).postgres, max: 4 });
  content = clientAs(nova, ContentService);
});
after(async () => {
  await db.end();
  await nova.stop();
});

type U = Awaited<ReturnType<typeof register>>;
const contentAs = (u: U, admin = false) => clientAs(nova, ContentService, u.user.id, { admin });

const POST = `id text hashtags media { url mimeType width height } author { username } editedAt likeCount commentCount
  bookmarkCount viewerHasLiked viewerHasBookmarked`;

async function createPost(u: U, text: string, media: unknown[] = []) {
  const r = await gql(url, `mutation($i: CreatePostInput!) { createPost(input: $i) { ${POST} } }`, {
    token: u.accessToken,
    variables: { i: { text, media } },
  });
  return r;
}

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

async function eventsOf(postId: string): Promise<{ type: string; payload: Record<string, unknown> }[]> {
  return (
    await db.query(
      "SELECT envelope->>'type' AS type, envelope->'payload' AS payload FROM content.outbox WHERE key = $1 ORDER BY seq",
      [postId],
    )
  ).rows;
}

describe("posts", () => {
  test("create parses hashtags and mentions; Mentioned goes only to users who exist", async () => {
    const [a, b] = [await register(url), await register(url)];
    const r = await createPost(a, `Hello #Nova and #nova, #Ünïcode! cc @${b.user.username} @nobody_here_xyz`);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    const p = r.body.data.createPost;
    assert.deepEqual(p.hashtags, ["nova", "ünïcode"]);
    assert.equal(p.author.username, a.user.username);
    assert.deepEqual(p.media, []);
    const events = await eventsOf(p.id);
    assert.deepEqual(
      events.map((e) => e.type),
      ["PostCreated", "Mentioned"],
    );
    assert.equal(events[1]?.payload.mentionedId, b.user.id);
  });

  test("bad input names the field", async () => {
    const a = await register(url);
    const cases: [string, unknown[], string][] = [
      ["x".repeat(2001), [], "text"],
      ["", [], "text"],
      [
        "ok",
        [{ url: "http://insecure.example.com/a.jpg", mimeType: "image/png", width: 1, height: 1 }],
        "media[0].url",
      ],
      ["ok", [{ url: "not a url", mimeType: "image/png", width: 1, height: 1 }], "media[0].url"],
      ["ok", [{ url: "https://x.example/a", mimeType: "text/html", width: 1, height: 1 }], "media[0].mimeType"],
      ["ok", [{ url: "https://x.example/a", mimeType: "image/png", width: 0, height: 1 }], "media[0].width"],
      [
        "ok",
        Array.from({ length: 11 }, () => ({ url: "https://x.example/a", mimeType: "image/png", width: 1, height: 1 })),
        "media",
      ],
      ["bell \u0007", [], "text"],
      // Client-supplied URL items (deprecated) are no longer accepted for new posts.
      ["ok", [{ url: "https://cdn.example.com/a.jpg", mimeType: "image/jpeg", width: 800, height: 600 }], "media"],
    ];
    for (const [text, media, field] of cases) {
      assert.deepEqual(errorOf(await createPost(a, text, media)), { code: "BAD_USER_INPUT", field }, field);
    }
    const badId = await gql(url, `{ post(id: "nope") { id } }`);
    assert.deepEqual(errorOf(badId), { code: "BAD_USER_INPUT", field: "postId" });
  });

  test("only the author edits; the history keeps the old text; PostEdited is written", async () => {
    const [a, b] = [await register(url), await register(url)];
    const p = (await createPost(a, "first #one")).body.data.createPost;
    const edit = (u: U, text: string) =>
      gql(url, `mutation($id: ID!, $t: String!) { editPost(id: $id, text: $t) { text hashtags editedAt } }`, {
        token: u.accessToken,
        variables: { id: p.id, t: text },
      });
    assert.deepEqual(errorOf(await edit(b, "hijack")), { code: "FORBIDDEN", field: "postId" });
    const ok = await edit(a, "second #two");
    assert.equal(ok.body.data.editPost.text, "second #two");
    assert.deepEqual(ok.body.data.editPost.hashtags, ["two"]);
    assert.ok(ok.body.data.editPost.editedAt);
    const history = await content.listPostEdits({ postId: p.id });
    assert.deepEqual(
      history.edits.map((e) => e.text),
      ["first #one"],
    );
    assert.deepEqual(
      (await eventsOf(p.id)).map((e) => e.type),
      ["PostCreated", "PostEdited"],
    );
  });

  test("a soft delete hides the post everywhere at once; an admin may delete; the purge removes it later", async () => {
    const [a, b, mod] = [await register(url), await register(url), await register(url)];
    const p = (await createPost(a, "to be deleted")).body.data.createPost;
    await gql(url, `mutation($id: ID!) { bookmarkPost(postId: $id) { id } }`, {
      token: b.accessToken,
      variables: { id: p.id },
    });
    const del = (u: U) =>
      gql(url, `mutation($id: ID!) { deletePost(id: $id) }`, { token: u.accessToken, variables: { id: p.id } });
    assert.deepEqual(errorOf(await del(b)), { code: "FORBIDDEN", field: "postId" });
    await contentAs(mod, true).deletePost({ postId: p.id });
    assert.equal((await gql(url, `{ post(id: "${p.id}") { id } }`)).body.data.post, null);
    const posts = await gql(url, `query($u: String!) { user(username: $u) { posts { edges { node { id } } } } }`, {
      variables: { u: a.user.username },
    });
    assert.deepEqual(posts.body.data.user.posts.edges, []);
    const marks = await gql(url, `{ me { bookmarks { edges { node { id } } } } }`, { token: b.accessToken });
    assert.deepEqual(marks.body.data.me.bookmarks.edges, []);
    const like = await gql(url, `mutation($id: ID!) { likePost(postId: $id) { id } }`, {
      token: b.accessToken,
      variables: { id: p.id },
    });
    assert.equal(errorOf(like).code, "NOT_FOUND");
    const deleted = await db.query("SELECT deleted_by::text AS by FROM content.posts WHERE id = $1", [p.id]);
    assert.equal(deleted.rows[0].by, mod.user.id, "deleted_by records the admin");

    // Before the retention the purge keeps it; after it, the rows are gone and PostPurged is written.
    const database = new Database({
      writerUrl: (await services()).postgres,
      poolMax: 2,
      applicationName: "test-purge",
    });
    try {
      const outbox = createOutbox({ service: "content", schema: "content" });
      const writer = database.kysely<ContentTables>().writer;
      await purgeDeleted(writer, outbox, 3_600_000);
      assert.equal((await db.query("SELECT count(*)::int AS n FROM content.posts WHERE id = $1", [p.id])).rows[0].n, 1);
      await db.query("UPDATE content.posts SET deleted_at = now() - interval '31 days' WHERE id = $1", [p.id]);
      assert.ok((await purgeDeleted(writer, outbox, 30 * 86_400_000)) >= 1);
      assert.equal((await db.query("SELECT count(*)::int AS n FROM content.posts WHERE id = $1", [p.id])).rows[0].n, 0);
      assert.equal(
        (await db.query("SELECT count(*)::int AS n FROM content.bookmarks WHERE post_id = $1", [p.id])).rows[0].n,
        0,
      );
      assert.deepEqual(
        (await eventsOf(p.id)).map((e) => e.type),
        ["PostCreated", "PostDeleted", "PostPurged"],
      );
    } finally {
      await database.close();
    }
  });
});

describe("blocks", () => {
  test("a user blocked by the author cannot see, like or comment on the author's posts", async () => {
    const [a, b] = [await register(url), await register(url)];
    const p = (await createPost(a, "mine")).body.data.createPost;
    await gql(url, `mutation($id: ID!) { block(userId: $id) { id } }`, {
      token: a.accessToken,
      variables: { id: b.user.id },
    });
    const seen = await gql(url, `{ post(id: "${p.id}") { id } }`, { token: b.accessToken });
    assert.equal(seen.body.data.post, null);
    const like = await gql(url, `mutation($id: ID!) { likePost(postId: $id) { id } }`, {
      token: b.accessToken,
      variables: { id: p.id },
    });
    assert.equal(errorOf(like).code, "NOT_FOUND");
    const c = await gql(url, `mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }`, {
      token: b.accessToken,
      variables: { i: { postId: p.id, text: "hi" } },
    });
    assert.equal(errorOf(c).code, "NOT_FOUND");
    const list = await gql(url, `query($u: String!) { user(username: $u) { posts { edges { node { id } } } } }`, {
      token: b.accessToken,
      variables: { u: a.user.username },
    });
    assert.deepEqual(list.body.data.user.posts.edges, []);
    // Anyone else still sees it.
    assert.equal((await gql(url, `{ post(id: "${p.id}") { id } }`)).body.data.post.id, p.id);
  });
  test("a block stops the next like, comment, mention, message and follow at once, though both had just read the posts", async () => {
    const [a, b] = [await register(url), await register(url)];
    const q = (u: U, query: string, variables: Record<string, unknown> = {}) =>
      gql(url, query, { token: u.accessToken, variables });
    const pa = (await createPost(a, "from a")).body.data.createPost;
    const pb = (await createPost(b, "from b")).body.data.createPost;
    const conv = (await q(b, `mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }`, { m: [a.user.id] }))
      .body.data.createConversation;
    // Both read (and b likes) before the block, so any cached "no block" answer is warm.
    assert.equal((await q(b, `{ post(id: "${pa.id}") { id } }`)).body.data.post.id, pa.id);
    assert.equal((await q(a, `{ post(id: "${pb.id}") { id } }`)).body.data.post.id, pb.id);
    assert.equal(
      (await q(b, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: pa.id })).body.errors,
      undefined,
    );
    await q(b, `mutation($id: ID!) { unlikePost(postId: $id) { id } }`, { id: pa.id });
    const blocked = await q(a, `mutation($id: ID!) { block(userId: $id) { id } }`, { id: b.user.id });
    assert.equal(blocked.body.errors, undefined, JSON.stringify(blocked.body));
    const like = await q(b, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: pa.id });
    assert.equal(errorOf(like).code, "NOT_FOUND", "like");
    const comment = await q(b, `mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }`, {
      i: { postId: pa.id, text: "still here" },
    });
    assert.equal(errorOf(comment).code, "NOT_FOUND", "comment");
    assert.deepEqual(errorOf(await createPost(b, `hey @${a.user.username}`)), { code: "FORBIDDEN", field: "text" });
    const msg = await q(
      b,
      `mutation($c: ID!) { sendMessage(conversationId: $c, text: "hi", clientMessageId: "k1") { id } }`,
      {
        c: conv.id,
      },
    );
    assert.deepEqual(errorOf(msg), { code: "FORBIDDEN", field: "conversationId" });
    const follow = await q(b, `mutation($id: ID!) { follow(userId: $id) { id } }`, { id: a.user.id });
    assert.deepEqual(errorOf(follow), { code: "FORBIDDEN", field: "userId" });
    // Reads hide within a second, both ways.
    const t0 = performance.now();
    const hidden = async () =>
      (await q(b, `{ post(id: "${pa.id}") { id } }`)).body.data.post === null &&
      (await q(a, `{ post(id: "${pb.id}") { id } }`)).body.data.post === null;
    while (!(await hidden()) && performance.now() - t0 < 3_000) await new Promise((r) => setTimeout(r, 20));
    const ms = performance.now() - t0;
    assert.ok(await hidden(), "the posts are hidden");
    assert.ok(ms <= 1_000, `the posts were still shown ${ms.toFixed(0)} ms after the block`);
  });
});

describe("lists across a block or a mute (the gateway's rules step decides)", () => {
  test("a block hides the other's comments and the bookmarked post; a mute hides neither, nor the muted user's profile posts", async () => {
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    const q = (u: U, query: string, variables: Record<string, unknown> = {}) =>
      gql(url, query, { token: u.accessToken, variables });
    const pc = (await createPost(c, "c's post")).body.data.createPost;
    const pb = (await createPost(b, "b's post")).body.data.createPost;
    for (const u of [a, b]) {
      const r = await q(u, `mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }`, {
        i: { postId: pc.id, text: `from ${u.user.username}` },
      });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    }
    await q(a, `mutation($id: ID!) { bookmarkPost(postId: $id) { id } }`, { id: pb.id });
    const view = async () => {
      const r = await q(
        a,
        `query($p: ID!, $b: String!) { post(id: $p) { comments { edges { node { author { username } } } } }
          me { bookmarks { edges { node { id } } } } user(username: $b) { posts { edges { node { id } } } } }`,
        { p: pc.id, b: b.user.username },
      );
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      return {
        commenters: r.body.data.post.comments.edges.map(
          (e: { node: { author: { username: string } } }) => e.node.author.username,
        ),
        bookmarks: r.body.data.me.bookmarks.edges.map((e: { node: { id: string } }) => e.node.id),
        profile: r.body.data.user?.posts.edges.map((e: { node: { id: string } }) => e.node.id) ?? null,
      };
    };
    const everything = { commenters: [a.user.username, b.user.username], bookmarks: [pb.id], profile: [pb.id] };
    assert.deepEqual(await view(), everything);
    await q(a, `mutation($id: ID!) { mute(userId: $id) { id } }`, { id: b.user.id });
    assert.deepEqual(await view(), everything, "a mute hides none of what the viewer opened");
    await q(a, `mutation($id: ID!) { unmute(userId: $id) { id } }`, { id: b.user.id });
    await q(b, `mutation($id: ID!) { block(userId: $id) { id } }`, { id: a.user.id });
    const blocked = await view();
    assert.deepEqual(blocked.commenters, [a.user.username]);
    assert.deepEqual(blocked.bookmarks, []);
    assert.deepEqual(blocked.profile ?? [], []);
  });
});

describe("comments", () => {
  test("replies are one level deep; the post's author may delete a comment; counts follow", async () => {
    const [a, b] = [await register(url), await register(url)];
    const p = (await createPost(a, "talk")).body.data.createPost;
    const comment = (u: U, text: string, parentId?: string) =>
      gql(
        url,
        `mutation($i: CreateCommentInput!) { createComment(input: $i) { id parentId text author { username } } }`,
        {
          token: u.accessToken,
          variables: { i: { postId: p.id, text, parentId } },
        },
      );
    const c1 = (await comment(b, "top")).body.data.createComment;
    const c2 = (await comment(a, "reply", c1.id)).body.data.createComment;
    const c3 = (await comment(b, "reply to reply", c2.id)).body.data.createComment;
    assert.equal(c2.parentId, c1.id);
    assert.equal(c3.parentId, c1.id, "a reply to a reply attaches to the top-level comment");
    assert.deepEqual(errorOf(await comment(b, "x".repeat(1001))), { code: "BAD_USER_INPUT", field: "text" });
    const liked = await gql(url, `mutation($id: ID!) { likeComment(commentId: $id) { likeCount } }`, {
      token: a.accessToken,
      variables: { id: c1.id },
    });
    assert.equal(liked.body.data.likeComment.likeCount, 1);
    const del = await gql(url, `mutation($id: ID!) { deleteComment(id: $id) }`, {
      token: a.accessToken,
      variables: { id: c3.id },
    });
    assert.equal(del.body.data.deleteComment, true);
    const view = await gql(
      url,
      `{ post(id: "${p.id}") { commentCount comments(first: 10) { edges { node { text } } pageInfo { hasNextPage } } } }`,
    );
    assert.equal(view.body.data.post.commentCount, 2);
    assert.deepEqual(
      view.body.data.post.comments.edges.map((e: { node: { text: string } }) => e.node.text),
      ["top", "reply"],
    );
  });
});

describe("likes and bookmarks", () => {
  test("cached counters move with every like, bookmark and comment", async () => {
    const author = await register(url);
    const fan = await register(url);
    const p = (await createPost(author, "counted")).body.data.createPost;
    const read = async () => (await content.getCounts({ postIds: [p.id] })).counts[0];
    assert.equal((await read())?.likeCount, 0); // now cached
    assert.equal((await read())?.likeCount, 0);
    await contentAs(fan).likePost({ postId: p.id });
    assert.equal((await read())?.likeCount, 1);
    await contentAs(fan).bookmarkPost({ postId: p.id });
    assert.equal((await read())?.bookmarkCount, 1);
    const c = await contentAs(fan).createComment({ postId: p.id, text: "hi" });
    assert.equal((await read())?.commentCount, 1);
    await contentAs(fan).deleteComment({ commentId: c.comment?.id ?? "" });
    assert.equal((await read())?.commentCount, 0);
    await contentAs(fan).unlikePost({ postId: p.id });
    assert.deepEqual(
      { ...(await read()), $typeName: undefined },
      { $typeName: undefined, postId: p.id, likeCount: 0, commentCount: 0, bookmarkCount: 1 },
    );
  });

  test("50 users doing 1,000 concurrent like/unlike operations: the counts equal the rows", async () => {
    const author = await register(url);
    const p = (await createPost(author, "popular")).body.data.createPost;
    // One at a time: 50 password hashes at once exceed identity's deadline on a busy machine, and the
    // concurrency under test is the likes', not the sign-ups'.
    const users: U[] = [];
    for (let i = 0; i < 50; i++) users.push(await register(url));
    const clients = users.map((u) => contentAs(u));
    const ops = Array.from({ length: 1_000 }, (_, i) => {
      const c = clients[i % users.length] as (typeof clients)[number];
      const like = (i * 7919) % 3 !== 0;
      return (): Promise<unknown> => (like ? c.likePost({ postId: p.id }) : c.unlikePost({ postId: p.id }));
    });
    // 1,000 operations, 50 in flight at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < ops.length) await (ops[next++] as () => Promise<unknown>)();
      }),
    );
    const truth = (await db.query("SELECT count(*)::int AS n FROM content.post_likes WHERE post_id = $1", [p.id]))
      .rows[0].n;
    const counted = await content.getCounts({ postIds: [p.id] });
    assert.equal(counted.counts[0]?.likeCount, truth);
    assert.ok(truth > 0);
    const liked = (
      await db.query(
        "SELECT count(*)::int AS n FROM content.outbox WHERE key = $1 AND envelope->>'type' = 'PostLiked'",
        [p.id],
      )
    ).rows[0].n;
    const unliked = (
      await db.query(
        "SELECT count(*)::int AS n FROM content.outbox WHERE key = $1 AND envelope->>'type' = 'PostUnliked'",
        [p.id],
      )
    ).rows[0].n;
    assert.equal(liked - unliked, truth, "one event per real change");
  });

  test("likes and bookmarks are idempotent; viewer state and bookmarks list follow", async () => {
    const [a, b] = [await register(url), await register(url)];
    const p1 = (await createPost(a, "one")).body.data.createPost;
    const p2 = (await createPost(a, "two")).body.data.createPost;
    const m = (name: string, id: string) =>
      gql(
        url,
        `mutation($id: ID!) { ${name}(postId: $id) { likeCount bookmarkCount viewerHasLiked viewerHasBookmarked } }`,
        {
          token: b.accessToken,
          variables: { id },
        },
      );
    await m("likePost", p1.id);
    const twice = await m("likePost", p1.id);
    assert.deepEqual(twice.body.data.likePost, {
      likeCount: 1,
      bookmarkCount: 0,
      viewerHasLiked: true,
      viewerHasBookmarked: false,
    });
    await m("bookmarkPost", p1.id);
    await m("bookmarkPost", p2.id);
    await m("bookmarkPost", p2.id);
    const un = await m("unlikePost", p1.id);
    assert.equal(un.body.data.unlikePost.likeCount, 0);
    const marks = await gql(
      url,
      `{ me { bookmarks(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`,
      {
        token: b.accessToken,
      },
    );
    assert.deepEqual(
      marks.body.data.me.bookmarks.edges.map((e: { node: { id: string } }) => e.node.id),
      [p2.id],
    );
    const rest = await gql(
      url,
      `query($c: String) { me { bookmarks(first: 5, after: $c) { edges { node { id } } } } }`,
      {
        token: b.accessToken,
        variables: { c: marks.body.data.me.bookmarks.pageInfo.endCursor },
      },
    );
    assert.deepEqual(
      rest.body.data.me.bookmarks.edges.map((e: { node: { id: string } }) => e.node.id),
      [p1.id],
    );
    const other = await gql(url, `query($u: String!) { user(username: $u) { bookmarks { edges { node { id } } } } }`, {
      token: a.accessToken,
      variables: { u: b.user.username },
    });
    assert.equal(errorOf(other).code, "FORBIDDEN");
  });
});
