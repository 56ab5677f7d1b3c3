/**
 * The content service's handlers on real PostgreSQL (the shared test database), called directly as
 * a signed-in user: the rows they write, the events they put in the outbox (checked against the
 * declared payload schemas) and the errors they answer. Graph and identity are a small fake (peers).
 * Each test makes its own users (fresh ids), so tests share the database without seeing each other.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { services } from "../../../test/helpers.ts";
import {
  BookmarkPostRequestSchema,
  CreateCommentRequestSchema,
  CreatePostRequestSchema,
  DeletePostRequestSchema,
  EditPostRequestSchema,
  GetPostsRequestSchema,
  LikePostRequestSchema,
  ListBookmarksRequestSchema,
  ListCommentsRequestSchema,
  UnlikePostRequestSchema,
} from "../../gen/nova/content/v1/content_pb.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { NovaError } from "../../platform/errors.ts";
import { createOutbox } from "../../platform/events/outbox.ts";
import { eventTables } from "../../platform/events/sets.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import { uuidv7 } from "../../platform/validate.ts";
import { type ContentContext, type ContentPeers, contentContext } from "./context.ts";
import {
  POST_EVENT_TYPES,
  POST_TOPIC,
  type PostEventPayload,
  type PostEventType,
  parsePostEvent,
  postEventSchemas,
} from "./events.ts";
import type { ContentTables } from "./queries.ts";
import { bookmarkPost } from "./rpc/bookmarkPost.ts";
import { createComment } from "./rpc/createComment.ts";
import { createPost } from "./rpc/createPost.ts";
import { deletePost } from "./rpc/deletePost.ts";
import { editPost } from "./rpc/editPost.ts";
import { getPosts } from "./rpc/getPosts.ts";
import { likePost } from "./rpc/likePost.ts";
import { listBookmarks } from "./rpc/listBookmarks.ts";
import { listComments } from "./rpc/listComments.ts";
import { unlikePost } from "./rpc/unlikePost.ts";
import type { MediaInput } from "./validation.ts";

const pool = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
const db = new Kysely<ContentTables>({ dialect: new PostgresDialect({ pool }) });

/** Graph and identity as content sees them: usernames that exist, and pairs in a block. */
const usernames = new Map<string, string>();
const blocks = new Set<string>();
/** How many times content asked the graph about blocks (list reads must not). */
let graphAsked = 0;
const peers: ContentPeers = {
  async blockedBetween(viewerId, authorIds) {
    graphAsked++;
    return new Set(authorIds.filter((a) => blocks.has(`${viewerId}:${a}`) || blocks.has(`${a}:${viewerId}`)));
  },
  async resolveUsernames(names) {
    return new Map(names.flatMap((n) => (usernames.has(n) ? [[n, usernames.get(n) as string] as const] : [])));
  },
  async mediaOf(ids) {
    return new Map(
      ids.flatMap((id) =>
        mediaRows.has(id) ? [[id, mediaRows.get(id) as { ownerId: string; state: string }] as const] : [],
      ),
    );
  },
  async attachMedia(ids) {
    attached.push(...ids);
  },
};
/** What content asked the media service to mark attached. */
const attached: string[] = [];
/** The media service as content sees it: media id -> owner and state. */
const mediaRows = new Map<string, { ownerId: string; state: string }>();

let ctx: ContentContext;
const changed: string[][] = [];
before(async () => {
  // The harness's database normally has these already (every suite that starts Nova migrates); a no-op then.
  await migrate(pool, [{ schema: "content", dir: new URL("./migrations/", import.meta.url) }, eventTables("content")]);
  ctx = contentContext({
    db: { writer: db, reader: db },
    outbox: createOutbox({ service: "content", schema: "content" }),
    peers,
    changed: (ids) => {
      changed.push(ids);
    },
  });
});
after(() => db.destroy());

// Factories: a user is an id (and a username when a test mentions one); the rest go through the handlers.

function newUser(username?: string): string {
  const id = uuidv7();
  if (username) usernames.set(username, id);
  return id;
}

const as = <T>(userId: string, fn: () => Promise<T>) => runWithCall({ user: { userId, sessionId: "s" } }, fn);

async function makePost(author: string, text = "hello", media: MediaInput[] = []) {
  const res = await as(author, () => createPost(ctx, create(CreatePostRequestSchema, { text, media })));
  assert.ok(res.post);
  return res.post;
}

async function makeComment(author: string, postId: string, text = "nice", parentId = "") {
  const res = await as(author, () =>
    createComment(ctx, create(CreateCommentRequestSchema, { postId, text, parentId })),
  );
  assert.ok(res.comment);
  return res.comment;
}

const like = (user: string, postId: string) => as(user, () => likePost(ctx, create(LikePostRequestSchema, { postId })));
const bookmark = (user: string, postId: string) =>
  as(user, () => bookmarkPost(ctx, create(BookmarkPostRequestSchema, { postId })));

interface OutboxEvent {
  topic: string;
  key: string;
  type: string;
  actorId: string | null;
  payload: Record<string, unknown>;
}

/** The post's events in the outbox, in the order written. */
async function eventsOf(postId: string): Promise<OutboxEvent[]> {
  const r = await sql<{
    topic: string;
    key: string;
    envelope: { type: string; actor_id: string | null; payload: Record<string, unknown> };
  }>`
    SELECT topic, key, envelope FROM content.outbox WHERE key = ${postId} ORDER BY seq`.execute(db);
  return r.rows.map((row) => ({
    topic: row.topic,
    key: row.key,
    type: row.envelope.type,
    actorId: row.envelope.actor_id,
    payload: row.envelope.payload,
  }));
}

/** The payload of an event, checked against its declared schema with no key beyond it. */
function payloadOf<T extends PostEventType>(e: OutboxEvent, type: T): PostEventPayload<T> {
  assert.equal(e.type, type);
  assert.equal(e.topic, POST_TOPIC);
  const parsed = postEventSchemas[type].strict().parse(e.payload) as PostEventPayload<T>;
  assert.deepEqual(parsed, e.payload, "the payload is exactly its declared keys");
  return parsed;
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NovaError, String(err));
    return { code: err.code, field: err.field };
  }
  assert.fail("expected an error");
}

describe("posts", () => {
  test("CreatePost writes the post, zero counters, PostCreated and a Mentioned per existing user", async () => {
    const author = newUser();
    const friendName = `f${uuidv7().slice(-12)}`;
    const friend = newUser(friendName);
    const photo = uuidv7();
    mediaRows.set(photo, { ownerId: author, state: "READY" });
    const res = await as(author, () =>
      createPost(
        ctx,
        create(CreatePostRequestSchema, {
          text: `hi #Nova @${friendName} @nobody_here_xyz`,
          attachments: [{ mediaId: photo, alt: "a photo" }],
        }),
      ),
    );
    const post = res.post as NonNullable<typeof res.post>;

    const row = await db
      .selectFrom("content.posts")
      .select(["author_id", "text", "hashtags", "media", "attachments", "deleted_at"])
      .select(sql<string[]>`mention_ids::text[]`.as("mention_ids"))
      .where("id", "=", post.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.author_id, author);
    assert.deepEqual(row.hashtags, ["nova"]);
    assert.deepEqual(row.mention_ids, [friend]);
    assert.deepEqual(row.media, []);
    assert.deepEqual(row.attachments, [{ mediaId: photo, alt: "a photo" }]);
    assert.ok(attached.includes(photo), "the media was marked attached (AttachMedia) before the post was written");
    const counts = await db.selectFrom("content.post_counts").selectAll().where("post_id", "=", post.id).execute();
    assert.deepEqual(counts, [{ post_id: post.id, like_count: 0, comment_count: 0, bookmark_count: 0 }]);

    const [created, mentioned, ...rest] = await eventsOf(post.id);
    assert.equal(rest.length, 0);
    assert.ok(created && mentioned);
    assert.deepEqual(payloadOf(created, "PostCreated"), {
      postId: post.id,
      authorId: author,
      text: post.text,
      hashtags: ["nova"],
      mentionIds: [friend],
      mediaCount: 1,
      createdAt: post.createdAt,
    });
    assert.equal(created.key, post.id);
    assert.equal(created.actorId, author);
    assert.deepEqual(payloadOf(mentioned, "Mentioned"), { postId: post.id, authorId: author, mentionedId: friend });
  });

  test("invalid input is refused naming its field, and nothing is written", async () => {
    const author = newUser();
    const write = (text: string, media: MediaInput[] = []) =>
      errorOf(as(author, () => createPost(ctx, create(CreatePostRequestSchema, { text, media }))));
    assert.deepEqual(await write(""), { code: "VALIDATION_FAILED", field: "text" });
    assert.deepEqual(
      await write("ok", [{ url: "http://insecure.example.com/a.png", mimeType: "image/png", width: 1, height: 1 }]),
      {
        code: "VALIDATION_FAILED",
        field: "media[0].url",
      },
    );
    // Well-formed client-supplied URL items are refused too: new posts carry uploaded media only.
    assert.deepEqual(
      await write("ok", [{ url: "https://cdn.example.com/a.jpg", mimeType: "image/jpeg", width: 8, height: 6 }]),
      { code: "VALIDATION_FAILED", field: "media" },
    );
    const n = await db
      .selectFrom("content.posts")
      .select(sql<number>`count(*)::int`.as("n"))
      .where("author_id", "=", author);
    assert.equal((await n.executeTakeFirstOrThrow()).n, 0);
  });

  test("only the author edits: another user is refused and nothing changes; the author's edit writes PostEdited", async () => {
    const [author, other] = [newUser(), newUser()];
    const post = await makePost(author, "first #one");
    const edit = (user: string, text: string) =>
      as(user, () => editPost(ctx, create(EditPostRequestSchema, { postId: post.id, text })));

    assert.deepEqual(await errorOf(edit(other, "hijack")), { code: "FORBIDDEN", field: "postId" });
    const unchanged = await db
      .selectFrom("content.posts")
      .select("text")
      .where("id", "=", post.id)
      .executeTakeFirstOrThrow();
    assert.equal(unchanged.text, "first #one");
    assert.deepEqual(
      (await eventsOf(post.id)).map((e) => e.type),
      ["PostCreated"],
    );

    const edited = await edit(author, "second #two");
    assert.equal(edited.post?.text, "second #two");
    const history = await db.selectFrom("content.post_edits").select("text").where("post_id", "=", post.id).execute();
    assert.deepEqual(history, [{ text: "first #one" }]);
    const events = await eventsOf(post.id);
    assert.deepEqual(payloadOf(events[1] as OutboxEvent, "PostEdited"), {
      postId: post.id,
      authorId: author,
      text: "second #two",
      hashtags: ["two"],
    });
    assert.ok(
      changed.some((ids) => ids.includes(post.id)),
      "the edit drops the post's cached views",
    );
  });
});

describe("comments, likes and bookmarks", () => {
  test("CreateComment: the row, the counter and CommentCreated; a reply to a reply attaches to the top-level comment", async () => {
    const [author, commenter] = [newUser(), newUser()];
    const post = await makePost(author);
    const top = await makeComment(commenter, post.id, "first");
    const reply = await makeComment(author, post.id, "reply", top.id);
    const deeper = await makeComment(commenter, post.id, "deeper", reply.id);
    assert.equal(reply.parentId, top.id);
    assert.equal(deeper.parentId, top.id);

    const rows = await db
      .selectFrom("content.comments")
      .select(["id", "author_id", "parent_id", "text"])
      .where("post_id", "=", post.id)
      .orderBy("id")
      .execute();
    assert.deepEqual(rows, [
      { id: top.id, author_id: commenter, parent_id: null, text: "first" },
      { id: reply.id, author_id: author, parent_id: top.id, text: "reply" },
      { id: deeper.id, author_id: commenter, parent_id: top.id, text: "deeper" },
    ]);
    const counts = await db.selectFrom("content.post_counts").select("comment_count").where("post_id", "=", post.id);
    assert.equal((await counts.executeTakeFirstOrThrow()).comment_count, 3);

    const comments = (await eventsOf(post.id)).filter((e) => e.type === "CommentCreated");
    assert.deepEqual(
      comments.map((e) => payloadOf(e, "CommentCreated")),
      [
        {
          postId: post.id,
          commentId: top.id,
          authorId: commenter,
          postAuthorId: author,
          parentId: null,
          parentAuthorId: null,
          mentionIds: [],
          text: "first",
        },
        {
          postId: post.id,
          commentId: reply.id,
          authorId: author,
          postAuthorId: author,
          parentId: top.id,
          parentAuthorId: commenter,
          mentionIds: [],
          text: "reply",
        },
        {
          postId: post.id,
          commentId: deeper.id,
          authorId: commenter,
          postAuthorId: author,
          parentId: top.id,
          // The author of the reply answered, though the reply attaches to the top-level comment.
          parentAuthorId: author,
          mentionIds: [],
          text: "deeper",
        },
      ],
    );
  });

  test("LikePost is idempotent: one row, one count, one PostLiked; UnlikePost writes PostUnliked", async () => {
    const [author, fan] = [newUser(), newUser()];
    const post = await makePost(author);
    assert.equal((await like(fan, post.id)).counts.likeCount, 1);
    assert.equal((await like(fan, post.id)).counts.likeCount, 1, "a second like changes nothing");
    const likes = await db.selectFrom("content.post_likes").select("user_id").where("post_id", "=", post.id).execute();
    assert.deepEqual(likes, [{ user_id: fan }]);

    const unliked = await as(fan, () => unlikePost(ctx, create(UnlikePostRequestSchema, { postId: post.id })));
    assert.equal(unliked.counts.likeCount, 0);
    const [, liked, unlikedEvent, ...rest] = await eventsOf(post.id);
    assert.equal(rest.length, 0);
    assert.deepEqual(payloadOf(liked as OutboxEvent, "PostLiked"), { postId: post.id, userId: fan, authorId: author });
    assert.deepEqual(payloadOf(unlikedEvent as OutboxEvent, "PostUnliked"), {
      postId: post.id,
      userId: fan,
      authorId: author,
    });
    assert.equal(liked?.actorId, fan);
  });

  test("BookmarkPost: one row and one count, no event; ListBookmarks lists it", async () => {
    const [author, reader] = [newUser(), newUser()];
    const post = await makePost(author);
    assert.equal((await bookmark(reader, post.id)).counts.bookmarkCount, 1);
    assert.equal((await bookmark(reader, post.id)).counts.bookmarkCount, 1);
    const rows = await db.selectFrom("content.bookmarks").select("user_id").where("post_id", "=", post.id).execute();
    assert.deepEqual(rows, [{ user_id: reader }]);
    assert.deepEqual(
      (await eventsOf(post.id)).map((e) => e.type),
      ["PostCreated"],
    );
    const list = await as(reader, () => listBookmarks(ctx, create(ListBookmarksRequestSchema, {})));
    assert.deepEqual(list.postIds, [post.id]);
  });

  test("a user in a block with the author can neither like nor comment (NOT_FOUND, as if the post did not exist)", async () => {
    const [author, blocked] = [newUser(), newUser()];
    const post = await makePost(author);
    blocks.add(`${author}:${blocked}`);
    assert.deepEqual(await errorOf(like(blocked, post.id)), { code: "NOT_FOUND", field: "postId" });
    assert.deepEqual(await errorOf(makeComment(blocked, post.id)), { code: "NOT_FOUND", field: "postId" });
    assert.deepEqual(
      (await eventsOf(post.id)).map((e) => e.type),
      ["PostCreated"],
    );
  });
});

describe("list reads", () => {
  // Visibility of a list is decided once, in the gateway's rules step (over relationships it
  // hydrates anyway): GetPosts and ListComments answer what is live and ask the graph nothing.
  test("GetPosts and ListComments leave blocks to the gateway: the graph is not asked; deleted posts are left out", async () => {
    const [author, viewer, commenter] = [newUser(), newUser(), newUser()];
    const [kept, gone] = [await makePost(author), await makePost(author)];
    await makeComment(commenter, kept.id, "from someone the viewer blocks");
    await as(author, () => deletePost(ctx, create(DeletePostRequestSchema, { postId: gone.id })));
    blocks.add(`${viewer}:${author}`);
    blocks.add(`${viewer}:${commenter}`);
    const asked = graphAsked;
    const got = await as(viewer, () => getPosts(ctx, create(GetPostsRequestSchema, { postIds: [gone.id, kept.id] })));
    assert.deepEqual(
      got.posts.map((p) => p.id),
      [kept.id],
    );
    assert.equal(graphAsked, asked, "GetPosts asked the graph");
    blocks.delete(`${viewer}:${author}`);
    const before = graphAsked;
    const listed = await as(viewer, () => listComments(ctx, create(ListCommentsRequestSchema, { postId: kept.id })));
    assert.deepEqual(
      listed.comments.map((c) => c.authorId),
      [commenter],
    );
    assert.equal(graphAsked, before + 1, "ListComments asks only whether the viewer may see the post");
  });
});

test("parsePostEvent types a received envelope and leaves unknown types alone", () => {
  const [p, u, a] = [uuidv7(), uuidv7(), uuidv7()];
  const env = {
    id: uuidv7(),
    type: "PostLiked",
    aggregate_type: "post",
    aggregate_id: p,
    occurred_at: new Date().toISOString(),
    actor_id: u,
    schema_version: 1,
    traceparent: null,
    payload: { postId: p, userId: u, authorId: a },
  };
  const e = parsePostEvent(env);
  assert.equal(e?.type, "PostLiked");
  if (e?.type === "PostLiked") assert.equal(e.payload.authorId, a);
  assert.equal(parsePostEvent({ ...env, type: "PostPinned" }), undefined);
  // A payload off its schema throws, naming the field: missing, or an id that is not one.
  assert.throws(() => parsePostEvent({ ...env, payload: { postId: p } }), /: payload\.userId: /);
  assert.throws(
    () => parsePostEvent({ ...env, payload: { postId: p, userId: "u", authorId: a } }),
    /^PayloadError: PostLiked \S+: payload\.userId: must be an id \(UUID\)$/,
  );
});

test("the README's event list for nova.content.post is the declared one", () => {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const m = /\*\*Events\*\* \(topic `nova\.content\.post`\):([\s\S]*?)\n\n/.exec(readme);
  assert.ok(m?.[1], "README names content's events");
  const listed = [...m[1].matchAll(/\b(Post[A-Z]\w+|Comment[A-Z]\w+|Mentioned)\b/g)].map((x) => x[1]);
  assert.deepEqual([...listed].sort(), [...POST_EVENT_TYPES].sort());
});

describe("posts with uploaded media", () => {
  test("uploaded media: only the author's own READY media, at most 10, alt text at most 1,500 characters", async () => {
    const [author, other] = [newUser(), newUser()];
    const mine = [uuidv7(), uuidv7()];
    for (const id of mine) mediaRows.set(id, { ownerId: author, state: "READY" });
    const processing = uuidv7();
    mediaRows.set(processing, { ownerId: author, state: "PROCESSING" });
    const theirs = uuidv7();
    mediaRows.set(theirs, { ownerId: other, state: "READY" });
    const write = (attachments: { mediaId: string; alt?: string }[], text = "") =>
      errorOf(
        as(author, () =>
          createPost(
            ctx,
            create(CreatePostRequestSchema, {
              text,
              attachments: attachments.map((a) => ({ mediaId: a.mediaId, alt: a.alt ?? "" })),
            }),
          ),
        ),
      );
    assert.deepEqual(await write([{ mediaId: mine[0] as string }, { mediaId: theirs }]), {
      code: "FORBIDDEN",
      field: "attachments[1].mediaId",
    });
    assert.deepEqual(await write([{ mediaId: processing }]), {
      code: "MEDIA_NOT_READY",
      field: "attachments[0].mediaId",
    });
    assert.deepEqual(await write([{ mediaId: uuidv7() }]), { code: "NOT_FOUND", field: "attachments[0].mediaId" });
    assert.deepEqual(await write([{ mediaId: mine[0] as string }, { mediaId: mine[0] as string }]), {
      code: "VALIDATION_FAILED",
      field: "attachments[1].mediaId",
    });
    assert.deepEqual(await write(Array.from({ length: 11 }, () => ({ mediaId: uuidv7() }))), {
      code: "VALIDATION_FAILED",
      field: "attachments",
    });
    assert.deepEqual(await write([{ mediaId: mine[0] as string, alt: "a".repeat(1_501) }]), {
      code: "VALIDATION_FAILED",
      field: "attachments[0].alt",
    });
    const none = await db
      .selectFrom("content.posts")
      .select(sql<number>`count(*)::int`.as("n"))
      .where("author_id", "=", author)
      .executeTakeFirstOrThrow();
    assert.equal(none.n, 0);

    // A carousel with alt texts, marked sensitive; no text needed.
    const res = await as(author, () =>
      createPost(
        ctx,
        create(CreatePostRequestSchema, {
          text: "",
          sensitive: true,
          attachments: [
            { mediaId: mine[1] as string, alt: "a red door" },
            { mediaId: mine[0] as string, alt: "é".repeat(1_500) },
          ],
        }),
      ),
    );
    assert.deepEqual(
      res.post?.attachments.map((a) => [a.mediaId, a.alt.length]),
      [
        [mine[1], 10],
        [mine[0], 1_500],
      ],
    );
    assert.equal(res.post?.sensitive, true);
  });
});
