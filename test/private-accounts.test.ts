/**
 * Private accounts (issue 20 part 3) and their notifications (part 7, follow requests), embedded,
 * through GraphQL: a follow of a private account is a request the owner approves or denies (with
 * FOLLOW_REQUEST and FOLLOW_REQUEST_APPROVED, each with its preference); unfollowing withdraws it, a
 * block ends it; turning private keeps the followers and turning public accepts the pending requests.
 * Then the visibility table: for every read path, a private account's post (and its comments, likes,
 * followers, following) is hidden from a stranger and signed out, and shown to an approved follower and
 * the owner — explore never shows it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
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
/** `n` (at most 5) new users, registered side by side. */
const people = (n: number) =>
  Promise.all(Array.from({ length: n }, () => register(url))) as Promise<U[] & Record<0 | 1 | 2 | 3 | 4, U>>;

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

const ids = (conn: { edges: { node: { id: string } }[] } | null | undefined) =>
  (conn?.edges ?? []).map((e) => e.node.id);

const REL = `query($u: String!) { user(username: $u) { isPrivate viewerFollowRequested followerCount
  viewerRelationship { following requested requestedBy } } }`;
const relOf = async (viewer: U, of: U) => (await data(viewer, REL, { u: of.user.username })).user;
const pair = (rpc: string) => `mutation($id: ID!) { ${rpc}(userId: $id) { id } }`;
const act = (rpc: string, u: U, target: U) => data(u, pair(rpc), { id: target.user.id });
const setPrivate = async (u: U, isPrivate: boolean) =>
  (await data(u, `mutation($p: Boolean!) { updateProfile(input: { isPrivate: $p }) { isPrivate } }`, { p: isPrivate }))
    .updateProfile.isPrivate;
const requests = async (u: U) =>
  ids((await data(u, `{ followRequests(first: 50) { edges { node { id } } } }`)).followRequests);

type Note = { type: string; actorCount: number; actors: { id: string }[]; post: { id: string } | null };
const NOTES = `{ notifications(first: 50) { edges { node { type actorCount actors { id } post { id } } } } }`;
const notes = async (u: U): Promise<Note[]> =>
  (await data(u, NOTES)).notifications.edges.map((e: { node: Note }) => e.node);
const noteOf = (u: U, type: string, cond: (n: Note) => boolean = () => true) =>
  eventually(`${type} for ${u.user.username}`, async () => (await notes(u)).find((n) => n.type === type && cond(n)));

describe("follow requests", () => {
  test("a follow of a private account is a request: approved (both told), denied, withdrawn, ended by a block", async () => {
    const [owner, asker, denied, shy, blocked] = await people(5);
    assert.equal(await setPrivate(owner, true), true);
    assert.equal((await relOf(asker, owner)).isPrivate, true);

    await act("follow", asker, owner);
    assert.deepEqual(await relOf(asker, owner), {
      isPrivate: true,
      viewerFollowRequested: true,
      followerCount: 0,
      viewerRelationship: { following: false, requested: true, requestedBy: false },
    });
    await act("follow", asker, owner); // a repeat is no second request
    assert.deepEqual((await relOf(owner, asker)).viewerRelationship, {
      following: false,
      requested: false,
      requestedBy: true,
    });
    assert.deepEqual(await requests(owner), [asker.user.id]);
    const asked = await noteOf(owner, "FOLLOW_REQUEST");
    assert.deepEqual(asked.actors, [{ id: asker.user.id }]);

    await act("approveFollowRequest", owner, asker);
    assert.deepEqual(await requests(owner), []);
    const now = await relOf(asker, owner);
    assert.deepEqual(
      [now.viewerRelationship, now.viewerFollowRequested, now.followerCount],
      [{ following: true, requested: false, requestedBy: false }, false, 1],
    );
    const approved = await noteOf(asker, "FOLLOW_REQUEST_APPROVED");
    assert.deepEqual(approved.actors, [{ id: owner.user.id }]);

    // Denied: gone, and asked again it is a new request.
    await act("follow", denied, owner);
    await act("denyFollowRequest", owner, denied);
    await act("denyFollowRequest", owner, denied); // nothing left to deny: not an error
    assert.deepEqual((await relOf(denied, owner)).viewerRelationship, {
      following: false,
      requested: false,
      requestedBy: false,
    });
    // Withdrawn by unfollowing; ended by a block (either side).
    await act("follow", shy, owner);
    await act("unfollow", shy, owner);
    assert.equal((await relOf(shy, owner)).viewerFollowRequested, false);
    await act("follow", blocked, owner);
    await act("block", owner, blocked);
    assert.deepEqual(await requests(owner), []);

    // Bad input names the field; the list is the owner's own.
    const bad = await gql(url, pair("approveFollowRequest"), { token: owner.accessToken, variables: { id: "nope" } });
    assert.deepEqual(
      [bad.body.errors?.[0]?.extensions?.code, bad.body.errors?.[0]?.extensions?.field],
      ["BAD_USER_INPUT", "userId"],
    );
    const anon = await gql(url, `{ followRequests { edges { cursor } } }`);
    assert.equal(anon.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });

  test("each notification has its preference", async () => {
    const [owner, first, quiet, later, marker] = await people(5);
    await setPrivate(owner, true);
    const PREFS = `mutation($i: NotificationPreferencesInput!) {
      updateNotificationPreferences(input: $i) { followRequest followRequestApproved follow } }`;
    assert.deepEqual((await data(owner, PREFS, { i: { followRequest: false } })).updateNotificationPreferences, {
      followRequest: false,
      followRequestApproved: true,
      follow: true,
    });
    await act("follow", quiet, owner);
    assert.deepEqual(await requests(owner), [quiet.user.id], "the request is made, only not told");
    // The approval's events share the request's key (the requester), so once the approval is told the
    // request was applied, while the preference was off.
    await act("approveFollowRequest", owner, quiet);
    await noteOf(quiet, "FOLLOW_REQUEST_APPROVED");
    await data(owner, PREFS, { i: { followRequest: true } });
    await act("follow", later, owner);
    const told = await noteOf(owner, "FOLLOW_REQUEST");
    assert.deepEqual(
      [told.actorCount, told.actors],
      [1, [{ id: later.user.id }]],
      "the request made while off is not told",
    );

    await data(first, PREFS, { i: { followRequestApproved: false } });
    await act("follow", first, owner);
    await act("approveFollowRequest", owner, first);
    // A later event of the same key (first follows someone): once it is told, the approval was applied.
    await act("follow", first, marker);
    await noteOf(marker, "FOLLOW");
    assert.equal(
      (await notes(first)).some((n) => n.type === "FOLLOW_REQUEST_APPROVED"),
      false,
    );
  });

  test("turning private keeps the followers; turning public accepts every pending request", async () => {
    const [owner, old, a, b] = await people(4);
    await act("follow", old, owner);
    await setPrivate(owner, true);
    assert.equal((await relOf(old, owner)).viewerRelationship.following, true, "kept");
    await act("follow", a, owner);
    await act("follow", b, owner);
    assert.deepEqual(new Set(await requests(owner)), new Set([a.user.id, b.user.id]));
    assert.equal(await setPrivate(owner, false), false);
    assert.deepEqual(await requests(owner), []);
    for (const u of [a, b]) assert.equal((await relOf(u, owner)).viewerRelationship.following, true);
    assert.equal((await relOf(a, owner)).followerCount, 3);
    const c = (await register(url)) as U;
    await act("follow", c, owner);
    assert.equal((await relOf(c, owner)).viewerRelationship.following, true, "a public account is followed at once");
  });
});

describe("what a private account shows", () => {
  test("each read path hides it from strangers and signed out, and shows it to approved followers and the owner", async () => {
    const [owner, follower, stranger, publicAuthor] = await people(4);
    // Letters only: one word for the search parser and stemmer as for the hashtag rule.
    const tag = `quiet${[...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join("")}`;
    await setPrivate(owner, true);
    // Read once before the post exists: a first read racing the fan-out can miss it (feed README).
    for (const u of [owner, follower]) await data(u, `{ feed(first: 1) { edges { cursor } } }`);
    await act("follow", follower, owner);
    await act("approveFollowRequest", owner, follower);
    await act("follow", stranger, owner); // asked, never approved

    const text = `a quiet #${tag} for @${follower.user.username} and @${stranger.user.username}`;
    const post = (await data(owner, `mutation($t: String!) { createPost(input: { text: $t }) { id } }`, { t: text }))
      .createPost.id as string;
    await data(follower, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: post });
    const comment = (
      await data(follower, `mutation($p: ID!) { createComment(input: { postId: $p, text: "hi" }) { id } }`, { p: post })
    ).createComment.id as string;
    // A public post liked the same way: explore's control (it is ranked there, the private one never shown).
    const control = (await data(publicAuthor, `mutation { createPost(input: { text: "out in the open" }) { id } }`))
      .createPost.id as string;
    await data(follower, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: control });

    const u = owner.user.username;
    const has = (list: string[], id = post) => list.includes(id);
    /** Each read path: whether `viewer` (undefined: signed out) sees the private post (or its list). */
    const PATHS: Record<string, (viewer?: U) => Promise<boolean>> = {
      "post by id": async (v) =>
        (await data(v, `query($id: ID!) { post(id: $id) { id } }`, { id: post })).post !== null,
      "profile posts": async (v) =>
        has(
          ids(
            (
              await data(
                v,
                `query($u: String!) { user(username: $u) { posts(first: 50) { edges { node { id } } } } }`,
                { u },
              )
            ).user.posts,
          ),
        ),
      feed: async (v) => (v ? has(ids((await data(v, `{ feed(first: 50) { edges { node { id } } } }`)).feed)) : false),
      explore: async (v) => has(ids((await data(v, `{ explore(first: 50) { edges { node { id } } } }`)).explore)),
      comments: async (v) =>
        has(
          ids(
            (
              await data(v, `query($id: ID!) { post(id: $id) { comments(first: 50) { edges { node { id } } } } }`, {
                id: post,
              })
            ).post?.comments,
          ),
          comment,
        ),
      "likes list": async (v) =>
        has(
          ids(
            (
              await data(v, `query($id: ID!) { post(id: $id) { likers(first: 50) { edges { node { id } } } } }`, {
                id: post,
              })
            ).post?.likers,
          ),
          follower.user.id,
        ),
      followers: async (v) =>
        has(
          ids(
            (await data(v, `query($u: String!) { user(username: $u) { followers { edges { node { id } } } } }`, { u }))
              .user.followers,
          ),
          follower.user.id,
        ),
      following: async (v) => {
        // The owner follows the public author, so the list has someone to show.
        return has(
          ids(
            (await data(v, `query($u: String!) { user(username: $u) { following { edges { node { id } } } } }`, { u }))
              .user.following,
          ),
          publicAuthor.user.id,
        );
      },
      "search posts": async (v) =>
        has(
          ids(
            (
              await data(
                v,
                `query($q: String!) { search(query: $q, type: POSTS, first: 50) { edges { node { ... on Post { id } } } } }`,
                { q: tag },
              )
            ).search,
          ),
        ),
      "hashtag posts": async (v) =>
        has(
          ids(
            (
              await data(v, `query($t: String!) { hashtagPosts(tag: $t, first: 50) { edges { node { id } } } }`, {
                t: tag,
              })
            ).hashtagPosts,
          ),
        ),
      notifications: async (v) => (v ? (await notes(v)).some((n) => n.post?.id === post) : false),
      "a like or comment as a write": async (v) => {
        if (!v) return false;
        const r = await gql(url, `mutation($p: ID!) { createComment(input: { postId: $p, text: "me too" }) { id } }`, {
          token: v.accessToken,
          variables: { p: post },
        });
        if (r.body.errors) assert.equal(r.body.errors[0].extensions.code, "NOT_FOUND");
        return !r.body.errors;
      },
    };
    type Cell = "shown" | "hidden";
    /** Rows: read paths; columns: who looks. Signed out, writes, feed and notifications need a viewer: hidden. */
    const TABLE: [path: string, stranger: Cell, signedOut: Cell, follower: Cell, owner: Cell][] = [
      ["post by id", "hidden", "hidden", "shown", "shown"],
      ["profile posts", "hidden", "hidden", "shown", "shown"],
      ["feed", "hidden", "hidden", "shown", "shown"],
      ["explore", "hidden", "hidden", "hidden", "hidden"],
      ["comments", "hidden", "hidden", "shown", "shown"],
      ["likes list", "hidden", "hidden", "shown", "shown"],
      ["followers", "hidden", "hidden", "shown", "shown"],
      ["following", "hidden", "hidden", "shown", "shown"],
      ["search posts", "hidden", "hidden", "shown", "shown"],
      ["hashtag posts", "hidden", "hidden", "shown", "shown"],
      // The stranger and the follower are both mentioned; the owner is told of the follower's like.
      ["notifications", "hidden", "hidden", "shown", "shown"],
      ["a like or comment as a write", "hidden", "hidden", "shown", "shown"],
    ];
    await act("follow", owner, publicAuthor);

    // What is eventual (feed fan-out, search index, explore ranking, notifications) is waited for as seen
    // by those who may see it; then every cell is read once.
    const eventual = ["feed", "search posts", "hashtag posts", "notifications"];
    for (const path of eventual) {
      for (const v of [owner, follower])
        await eventually(`${path} for ${v.user.username}`, async () => ((await PATHS[path]?.(v)) ? true : undefined));
    }
    await eventually("the control post in explore", async () =>
      has(ids((await data(owner, `{ explore(first: 50) { edges { node { id } } } }`)).explore), control)
        ? true
        : undefined,
    );
    const who: [string, U | undefined][] = [
      ["stranger", stranger],
      ["signed out", undefined],
      ["follower", follower],
      ["owner", owner],
    ];
    for (const [path, ...cells] of TABLE) {
      const read = PATHS[path];
      assert.ok(read, path);
      for (const [i, [name, viewer]] of who.entries()) {
        assert.equal((await read(viewer)) ? "shown" : "hidden", cells[i], `${path} for the ${name}`);
      }
    }
  });
});
