/** Text inputs through GraphQL: NUL and lone surrogates are BAD_USER_INPUT naming the field, and nothing is stored. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, startInProcess } from "./helpers.ts";

let nova: Nova;
let url: string;

before(async () => {
  ({ nova, url } = await startInProcess());
});
after(() => nova.stop());

function refused(r: { body: { errors?: { extensions?: Record<string, unknown> }[] } }, field: string): void {
  const e = r.body.errors?.[0]?.extensions;
  assert.equal(e?.code, "BAD_USER_INPUT", JSON.stringify(r.body));
  assert.equal(e?.field, field, JSON.stringify(r.body));
}

test("a NUL in the login identifier is BAD_USER_INPUT naming identifier (variable and literal)", async () => {
  const r = await gql(url, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {
    variables: { i: { identifier: "a\u0000b", password: "correct horse battery" } },
  });
  refused(r, "identifier");
  const lit = await gql(url, 'mutation { login(input: {identifier: "a\\u0000b", password: "x"}) { accessToken } }');
  refused(lit, "identifier");
});

test("a lone surrogate in post, comment, message and profile text is BAD_USER_INPUT naming the field; nothing is stored", async () => {
  const a = await register(url);
  const b = await register(url);
  const bad = "a\ud800b";
  const post = await gql(url, "mutation($t: String!) { createPost(input: {text: $t}) { id } }", {
    token: a.accessToken,
    variables: { t: bad },
  });
  refused(post, "text");
  const posts = await gql(url, "query($u: String!) { user(username: $u) { posts { edges { node { id } } } } }", {
    token: a.accessToken,
    variables: { u: a.user.username },
  });
  assert.deepEqual(posts.body.data.user.posts.edges, []);

  const ok = await gql(url, 'mutation { createPost(input: {text: "fine"}) { id } }', { token: a.accessToken });
  const postId = ok.body.data.createPost.id as string;
  const comment = await gql(url, "mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }", {
    token: b.accessToken,
    variables: { i: { postId, text: bad } },
  });
  refused(comment, "text");

  for (const field of ["displayName", "bio"]) {
    const r = await gql(url, "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }", {
      token: a.accessToken,
      variables: { i: { [field]: bad } },
    });
    refused(r, field);
  }
  const me = await gql(url, "{ me { displayName bio } }", { token: a.accessToken });
  assert.deepEqual(me.body.data.me, { displayName: "", bio: "" }, "not silently stored as U+FFFD");

  const conv = await gql(url, "mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }", {
    token: a.accessToken,
    variables: { m: [b.user.id] },
  });
  const conversationId = conv.body.data?.createConversation?.id as string;
  assert.ok(conversationId, JSON.stringify(conv.body));
  const msg = await gql(
    url,
    'mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t, clientMessageId: "m1") { id } }',
    {
      token: a.accessToken,
      variables: { c: conversationId, t: bad },
    },
  );
  refused(msg, "text");
});
