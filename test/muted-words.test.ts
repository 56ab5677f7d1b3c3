/**
 * Muted words through the GraphQL gateway in the embedded topology: the matching rule on its own,
 * then a viewer's muted word hiding a followed author's post from their feed, explore, the
 * hashtag page and their notifications — and nothing else: the author's profile, other viewers,
 * signed-out readers. Removing the word, or its expiry, brings the post back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mutedWordTest } from "../src/gateway/muted-words.ts";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, startInProcess, unique } from "./helpers.ts";

let nova: Nova;
let url: string;

before(async () => {
  ({ nova, url } = await startInProcess());
});
after(() => nova.stop());

type U = Awaited<ReturnType<typeof register>>;

async function data(u: U | undefined, query: string, variables: Record<string, unknown> = {}) {
  const r = await gql(url, query, { token: u?.accessToken, variables });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data;
}

async function eventually<T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ids = (conn: { edges: { node: { id: string } }[] }) => conn.edges.map((e) => e.node.id);
const FEED = `{ feed(first: 50) { edges { node { id } } } }`;
const EXPLORE = `{ explore(first: 50) { edges { node { id } } } }`;
const TAG = `query($t: String!) { hashtagPosts(tag: $t, first: 50) { edges { node { id } } } }`;
const PROFILE = `query($u: String!) { user(username: $u) { posts(first: 50) { edges { node { id } } } } }`;
const NOTES = `{ notifications(first: 50) { edges { node { type post { id } } } } }`;
const ADD = `mutation($p: String!, $e: DateTime) { addMutedWord(phrase: $p, expiresAt: $e) { id phrase expiresAt } }`;

describe("the matching rule", () => {
  test("whole words, any case, any script; phrases match across whitespace", () => {
    const cat = mutedWordTest(["cat"]);
    assert.ok(cat);
    for (const t of ["a cat!", "#cat", "CAT videos", "the cat's toy", "(cat)"]) assert.ok(cat(t), t);
    for (const t of ["catalog", "concat", "cats_and_dogs", "c a t"]) assert.equal(cat(t), false, t);
    const phrase = mutedWordTest(["hot dog", "café", "a.b"]);
    assert.ok(phrase);
    for (const t of ["HOT   dog stand", "CAFÉ au lait", "see a.b here"]) assert.ok(phrase(t), t);
    for (const t of ["hotdog", "cafés", "axb"]) assert.equal(phrase(t), false, t);
    assert.equal(mutedWordTest([]), undefined);
  });
});

describe("a viewer's muted words", () => {
  test("hide matching posts from feed, explore, hashtag page and notifications; nothing else; removed, they come back", async () => {
    const [viewer, author, other] = (await Promise.all([1, 2, 3].map(() => register(url)))) as [U, U, U];
    const tag = unique("spoil");
    await data(viewer, `mutation($id: ID!) { follow(userId: $id) { id } }`, { id: author.user.id });
    const post = async (text: string) =>
      (await data(author, `mutation($t: String!) { createPost(input: { text: $t }) { id } }`, { t: text })).createPost
        .id;
    const muted = await post(`the ending of #${tag} @${viewer.user.username}`);
    const plain = await post(`a plain post @${viewer.user.username}`);
    await eventually("both posts in the feed", async () => {
      const f = ids((await data(viewer, FEED)).feed);
      return f.includes(muted) && f.includes(plain) ? true : undefined;
    });

    const word = (await data(viewer, ADD, { p: `  ${tag.toUpperCase()} ` })).addMutedWord;
    assert.equal(word.phrase, tag.toUpperCase());
    assert.deepEqual((await data(viewer, "{ mutedWords { phrase expiresAt } }")).mutedWords, [
      { phrase: tag.toUpperCase(), expiresAt: null },
    ]);
    const feed = ids((await data(viewer, FEED)).feed);
    assert.ok(feed.includes(plain) && !feed.includes(muted), "feed");
    assert.ok(!ids((await data(viewer, EXPLORE)).explore).includes(muted), "explore");
    assert.deepEqual(ids((await data(viewer, TAG, { t: tag })).hashtagPosts), [], "hashtag page");
    type Note = { node: { type: string; post: { id: string } | null } };
    const notes = await eventually("the plain post's mention", async () => {
      const n: Note[] = (await data(viewer, NOTES)).notifications.edges;
      return n.some((e) => e.node.post?.id === plain) ? n : undefined;
    });
    assert.deepEqual(
      notes.map((e) => [e.node.type, e.node.post?.id]),
      [["MENTION", plain]],
      "notifications: the muted post's mention is left out",
    );
    // Not hidden where the viewer went to look, nor for anyone else.
    assert.ok(ids((await data(viewer, PROFILE, { u: author.user.username })).user.posts).includes(muted), "profile");
    assert.deepEqual(ids((await data(other, TAG, { t: tag })).hashtagPosts), [muted], "another viewer");
    assert.deepEqual(ids((await data(undefined, TAG, { t: tag })).hashtagPosts), [muted], "signed out");

    assert.equal(
      (await data(viewer, `mutation($id: ID!) { removeMutedWord(id: $id) }`, { id: word.id })).removeMutedWord,
      true,
    );
    assert.equal(
      (await data(viewer, `mutation($id: ID!) { removeMutedWord(id: $id) }`, { id: word.id })).removeMutedWord,
      false,
    );
    assert.deepEqual(ids((await data(viewer, TAG, { t: tag })).hashtagPosts), [muted], "back after removal");
  });

  test("an expiry brings the post back when it passes; muting again sets a new expiry", async () => {
    const viewer = await register(url);
    const author = await register(url);
    const tag = unique("brief");
    const id = (
      await data(author, `mutation($t: String!) { createPost(input: { text: $t }) { id } }`, { t: `#${tag}` })
    ).createPost.id;
    const soon = new Date(Date.now() + 1500).toISOString();
    await data(viewer, ADD, { p: tag, e: soon });
    assert.deepEqual(ids((await data(viewer, TAG, { t: tag })).hashtagPosts), []);
    await eventually("the word expired", async () =>
      ids((await data(viewer, TAG, { t: tag })).hashtagPosts).includes(id) ? true : undefined,
    );
    assert.deepEqual((await data(viewer, "{ mutedWords { phrase } }")).mutedWords, []);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const again = (await data(viewer, ADD, { p: tag, e: later })).addMutedWord;
    assert.equal(Date.parse(again.expiresAt), Date.parse(later));
    assert.deepEqual(ids((await data(viewer, TAG, { t: tag })).hashtagPosts), []);
  });

  test("bad input names the field; at most 100 words", async () => {
    const viewer = await register(url);
    const errorOf = async (variables: Record<string, unknown>) =>
      (await gql(url, ADD, { token: viewer.accessToken, variables })).body.errors?.[0]?.extensions;
    for (const [v, field] of [
      [{ p: "   " }, "phrase"],
      [{ p: "x".repeat(101) }, "phrase"],
      [{ p: "line\nbreak" }, "phrase"],
      [{ p: "ok", e: "2001-01-01T00:00:00Z" }, "expiresAt"],
    ] as const) {
      const e = await errorOf(v);
      assert.deepEqual([e?.code, e?.field], ["BAD_USER_INPUT", field], JSON.stringify(v));
    }
    const anon = await gql(url, ADD, { variables: { p: "x" } });
    assert.equal(anon.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    for (let i = 0; i < 100; i++) await data(viewer, ADD, { p: `word${i}` });
    await data(viewer, ADD, { p: "WORD7" }); // the same word again is not one more
    const e = await errorOf({ p: "one too many" });
    assert.deepEqual([e?.code, e?.field], ["LIMIT_REACHED", "phrase"]);
    const bad = await gql(url, `mutation { removeMutedWord(id: "nope") }`, { token: viewer.accessToken });
    assert.equal(bad.body.errors?.[0]?.extensions?.field, "id");
  });
});
