/**
 * The comment half of issue 20 part 7, embedded, through GraphQL (events travel through the Postgres
 * log, so assertions wait for the inbox consumer): a mention in a comment, a reply to my comment and a
 * like on my comment notify, grouped per comment, each behind its preference; a deleted comment takes
 * its notifications with it; a mention across a block is refused by name.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, startInProcess } from "./helpers.ts";

type U = Awaited<ReturnType<typeof register>>;

let nova: Nova;
let url: string;

before(async () => {
  ({ nova, url } = await startInProcess());
});
after(async () => {
  await nova.stop();
});

interface Node {
  type: string;
  actorCount: number;
  actors: { username: string }[];
  post: { id: string } | null;
  comment: { id: string; text: string } | null;
}

const LIST = `{ notifications(first: 50) { edges { node { type actorCount actors { username } post { id }
  comment { id text } } } } }`;

async function inbox(u: U): Promise<Node[]> {
  const r = await gql(url, LIST, { token: u.accessToken });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.notifications.edges.map((e: { node: Node }) => e.node);
}

/** Waits until `u`'s inbox satisfies `cond` (the inbox consumer is asynchronous). */
async function eventually(u: U, what: string, cond: (n: Node[]) => boolean): Promise<Node[]> {
  const end = Date.now() + 60_000;
  for (;;) {
    const n = await inbox(u);
    if (cond(n)) return n;
    if (Date.now() > end) assert.fail(`timed out: ${what}: ${JSON.stringify(n)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const as = (u: U, query: string, variables: Record<string, unknown>) =>
  gql(url, query, { token: u.accessToken, variables });
const post = async (u: U, text: string) =>
  (await as(u, `mutation($i: CreatePostInput!) { createPost(input: $i) { id } }`, { i: { text } })).body.data.createPost
    .id as string;
const comment = async (u: U, postId: string, text: string, parentId?: string) => {
  const r = await as(u, `mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }`, {
    i: { postId, text, parentId },
  });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.createComment.id as string;
};
const likeComment = (u: U, id: string) =>
  as(u, `mutation($id: ID!) { likeComment(commentId: $id) { likeCount } }`, { id });
const prefer = (u: U, input: Record<string, boolean>) =>
  as(
    u,
    `mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { reply commentLike } }`,
    {
      i: input,
    },
  );

describe("comment notifications", () => {
  test("a mention in a comment, replies to my comment and likes of it notify, grouped per comment", async () => {
    const [author, bob, carol, dave] = [
      await register(url),
      await register(url),
      await register(url),
      await register(url),
    ];
    const p = await post(author, "a post");

    // Bob comments on the author's post and mentions Carol: the author is told of a comment, Carol of a mention.
    const bobs = await comment(bob, p, `what do you think @${carol.user.username}?`);
    const carolInbox = await eventually(carol, "mention", (n) => n.some((x) => x.type === "MENTION"));
    const mention = carolInbox.find((x) => x.type === "MENTION");
    assert.deepEqual(mention?.comment?.id, bobs);
    assert.deepEqual(mention?.post?.id, p);
    await eventually(author, "comment", (n) => n.some((x) => x.type === "COMMENT"));

    // Carol and Dave reply to Bob's comment: one REPLY notification for Bob, about his comment, two actors.
    await comment(carol, p, "I agree", bobs);
    const davesReply = await comment(dave, p, "me too", bobs);
    const replies = await eventually(bob, "two replies", (n) =>
      n.some((x) => x.type === "REPLY" && x.actorCount === 2),
    );
    const reply = replies.find((x) => x.type === "REPLY");
    assert.equal(reply?.comment?.id, bobs, "the comment replied to");
    assert.deepEqual(reply?.actors.map((a) => a.username).sort(), [carol.user.username, dave.user.username].sort());
    // Replying to someone's comment on the post author's own post: the author hears of the comment once.
    assert.equal(replies.filter((x) => x.type === "COMMENT").length, 0, "Bob is not the post's author");

    // A like of Bob's comment notifies Bob; a second like by the same user (after unliking) does not add an actor.
    await likeComment(author, bobs);
    await likeComment(dave, davesReply); // his own reply: nobody is told
    const liked = await eventually(bob, "comment like", (n) => n.some((x) => x.type === "COMMENT_LIKE"));
    const like = liked.find((x) => x.type === "COMMENT_LIKE");
    assert.deepEqual([like?.comment?.id, like?.actorCount, like?.actors[0]?.username], [bobs, 1, author.user.username]);
    assert.equal((await inbox(dave)).length, 0, "liking one's own comment tells nobody");
  });

  test("each type has its preference; a deleted comment's notifications go with it", async () => {
    const [author, bob, carol] = [await register(url), await register(url), await register(url)];
    const p = await post(author, "another post");
    const bobs = await comment(bob, p, "first");

    const off = await prefer(bob, { reply: false, commentLike: false });
    assert.deepEqual(off.body.data.updateNotificationPreferences, { reply: false, commentLike: false });
    await comment(carol, p, "a reply", bobs);
    await likeComment(carol, bobs);
    // The author's COMMENT for Carol's reply proves the events were consumed; Bob got nothing.
    await eventually(author, "both comments", (n) => n.some((x) => x.type === "COMMENT" && x.actorCount === 2));
    assert.deepEqual(await inbox(bob), []);

    await prefer(bob, { reply: true, commentLike: true });
    const carols = await comment(carol, p, `@${bob.user.username} look`);
    await eventually(bob, "a mention", (n) => n.some((x) => x.type === "MENTION" && x.comment?.id === carols));
    await as(carol, `mutation($id: ID!) { deleteComment(id: $id) }`, { id: carols });
    assert.deepEqual(
      (await inbox(bob)).filter((x) => x.type === "MENTION"),
      [],
      "a deleted comment's mention is gone",
    );
  });

  test("mentioning someone across a block in a comment is refused by name", async () => {
    const [author, bob, carol] = [await register(url), await register(url), await register(url)];
    const p = await post(author, "a third post");
    await as(carol, `mutation($id: ID!) { block(userId: $id) { id } }`, { id: bob.user.id });
    const r = await as(bob, `mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }`, {
      i: { postId: p, text: `hi @${carol.user.username}` },
    });
    assert.deepEqual(
      [r.body.errors?.[0]?.extensions?.code, r.body.errors?.[0]?.extensions?.field],
      ["FORBIDDEN", "text"],
    );
  });
});
