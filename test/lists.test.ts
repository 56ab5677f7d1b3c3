/**
 * The lists a user expects, through the GraphQL gateway in the embedded topology: my blocked and
 * muted accounts (paged, newest first, mine only), who liked a post (paged, blocks either way
 * hidden from the viewer, mutes not), and a post's edit history.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, startInProcess } from "./helpers.ts";

let nova: Nova;
let url: string;

before(async () => {
  ({ nova, url } = await startInProcess());
});
after(() => nova.stop());

type U = Awaited<ReturnType<typeof register>>;

async function ok(u: U | undefined, query: string, variables: Record<string, unknown> = {}) {
  const r = await gql(url, query, { token: u?.accessToken, variables });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data;
}

const PAGE = `edges { cursor node { id username } } pageInfo { hasNextPage endCursor }`;
const relate = (u: U, how: string, target: U) =>
  ok(u, `mutation($id: ID!) { ${how}(userId: $id) { id } }`, { id: target.user.id });
const names = (conn: { edges: { node: { username: string } }[] }) => conn.edges.map((e) => e.node.username);

describe("my blocked and muted accounts", () => {
  test("newest first, paged, only my own; signed out is refused", async () => {
    const [me0, b10, b20, b30, m10] = (await Promise.all([1, 2, 3, 4, 5].map(() => register(url)))) as [U, U, U, U, U];
    for (const b of [b10, b20, b30]) await relate(me0, "block", b);
    await relate(me0, "mute", m10);
    const first = (await ok(me0, `query { blockedUsers(first: 2) { ${PAGE} } }`)).blockedUsers;
    assert.deepEqual(names(first), [b30.user.username, b20.user.username]);
    assert.equal(first.pageInfo.hasNextPage, true);
    const rest = (
      await ok(me0, `query($a: String) { blockedUsers(first: 2, after: $a) { ${PAGE} } }`, {
        a: first.pageInfo.endCursor,
      })
    ).blockedUsers;
    assert.deepEqual(names(rest), [b10.user.username]);
    assert.equal(rest.pageInfo.hasNextPage, false);
    assert.deepEqual(names((await ok(me0, `query { mutedUsers { ${PAGE} } }`)).mutedUsers), [m10.user.username]);
    // Someone else's lists are their own: b1 blocks nobody.
    assert.deepEqual(names((await ok(b10, `query { blockedUsers { ${PAGE} } }`)).blockedUsers), []);
    await relate(me0, "unblock", b20);
    assert.deepEqual(names((await ok(me0, `query { blockedUsers { ${PAGE} } }`)).blockedUsers), [
      b30.user.username,
      b10.user.username,
    ]);
    const anon = await gql(url, `query { blockedUsers { ${PAGE} } }`);
    assert.equal(anon.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    const bad = await gql(url, `query { mutedUsers(after: "nope") { ${PAGE} } }`, { token: me0.accessToken });
    assert.equal(bad.body.errors?.[0]?.extensions?.field, "after");
  });
});

describe("who liked a post", () => {
  test("newest like first, paged; a viewer does not see likers in a block with them, either way", async () => {
    const [author, l1, l2, l3, viewer] = (await Promise.all([1, 2, 3, 4, 5].map(() => register(url)))) as [
      U,
      U,
      U,
      U,
      U,
    ];
    const post = (await ok(author, `mutation { createPost(input: { text: "likeable" }) { id } }`)).createPost.id;
    for (const l of [l1, l2, l3] as U[])
      await ok(l, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: post });
    const Q = `query($id: ID!, $n: Int, $a: String) { post(id: $id) { likeCount likers(first: $n, after: $a) { ${PAGE} } } }`;
    const all = (await ok(undefined, Q, { id: post })).post;
    assert.equal(all.likeCount, 3);
    assert.deepEqual(
      names(all.likers),
      [l3, l2, l1].map((u) => (u as U).user.username),
    );
    const p1 = (await ok(undefined, Q, { id: post, n: 2 })).post.likers;
    const p2 = (await ok(undefined, Q, { id: post, n: 2, a: p1.pageInfo.endCursor })).post.likers;
    assert.deepEqual([...names(p1), ...names(p2)], names(all.likers));
    // The viewer blocks l1, and l2 blocks the viewer: neither is shown to the viewer; a mute hides nothing here.
    await relate(viewer as U, "block", l1 as U);
    await relate(l2 as U, "block", viewer as U);
    await relate(viewer as U, "mute", l3 as U);
    assert.deepEqual(names((await ok(viewer, Q, { id: post })).post.likers), [(l3 as U).user.username]);
    // An unlike leaves the list.
    await ok(l3, `mutation($id: ID!) { unlikePost(postId: $id) { id } }`, { id: post });
    assert.deepEqual(
      names((await ok(undefined, Q, { id: post })).post.likers),
      [l2, l1].map((u) => (u as U).user.username),
    );
  });
});

describe("a post's edit history", () => {
  test("the texts it had before each edit, oldest first", async () => {
    const author = await register(url);
    const id = (await ok(author, `mutation { createPost(input: { text: "first" }) { id } }`)).createPost.id;
    const E = `query($id: ID!) { post(id: $id) { text editedAt edits { text replacedAt } } }`;
    assert.deepEqual((await ok(undefined, E, { id })).post.edits, []);
    for (const t of ["second", "third"]) {
      await ok(author, `mutation($id: ID!, $t: String!) { editPost(id: $id, text: $t) { id } }`, { id, t });
    }
    const p = (await ok(undefined, E, { id })).post;
    assert.equal(p.text, "third");
    assert.deepEqual(
      p.edits.map((e: { text: string }) => e.text),
      ["first", "second"],
    );
    assert.ok(p.edits.every((e: { replacedAt: string }) => !Number.isNaN(Date.parse(e.replacedAt))));
  });
});
