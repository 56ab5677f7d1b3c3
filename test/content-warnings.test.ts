/**
 * Content warnings and sensitive media (issue 20 part 4), embedded, through GraphQL on real PostgreSQL:
 * the author sets a warning (which makes the post sensitive) and changes it by an edit, a moderator
 * marks a post sensitive with a warning, and each viewer's `mediaBlurred` follows their preference
 * (blurred by default, always signed out); every bad input names its field and stores nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, services, startInProcess } from "./helpers.ts";

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

type U = Awaited<ReturnType<typeof register>>;

const CREATE = `mutation($i: CreatePostInput!) { createPost(input: $i) { id sensitive contentWarning } }`;
const EDIT = `mutation($id: ID!, $text: String!, $cw: String, $s: Boolean) {
  editPost(id: $id, text: $text, contentWarning: $cw, sensitive: $s) { id text sensitive contentWarning edits { text } } }`;
const POST = `query($id: ID!) { post(id: $id) { id sensitive contentWarning mediaBlurred } }`;
const PREFER = `mutation($show: Boolean) { updateProfile(input: { showSensitiveMedia: $show }) { id showSensitiveMedia } }`;

const errorOf = (r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) => ({
  code: r.body.errors?.[0]?.extensions?.code,
  field: r.body.errors?.[0]?.extensions?.field,
});

async function createPost(u: U, i: Record<string, unknown>) {
  const r = await gql(url, CREATE, { token: u.accessToken, variables: { i } });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.createPost as { id: string; sensitive: boolean; contentWarning: string | null };
}

const view = async (id: string, u?: U) =>
  (await gql(url, POST, { token: u?.accessToken, variables: { id } })).body.data.post as {
    sensitive: boolean;
    contentWarning: string | null;
    mediaBlurred: boolean;
  };

describe("content warnings and sensitive media", () => {
  let author: U;
  let reader: U;
  before(async () => {
    author = await register(url);
    reader = await register(url);
  });

  test("a warning makes the post sensitive; media is blurred unless the viewer chose otherwise, always signed out", async () => {
    const warned = await createPost(author, { text: "the finale", contentWarning: "  spoilers: the finale " });
    assert.deepEqual([warned.sensitive, warned.contentWarning], [true, "spoilers: the finale"]);
    const plain = await createPost(author, { text: "a sunny day" });
    assert.deepEqual([plain.sensitive, plain.contentWarning], [false, null]);

    assert.equal((await view(warned.id)).mediaBlurred, true, "signed out");
    assert.equal((await view(warned.id, reader)).mediaBlurred, true, "the default is blurred");
    assert.equal((await view(plain.id)).mediaBlurred, false, "nothing to blur");

    const chose = await gql(url, PREFER, { token: reader.accessToken, variables: { show: true } });
    assert.equal(chose.body.data.updateProfile.showSensitiveMedia, true);
    assert.equal((await view(warned.id, reader)).mediaBlurred, false, "the reader chose to see it");
    assert.equal((await view(warned.id, author)).mediaBlurred, true, "another viewer's choice is theirs");
    assert.equal((await view(warned.id)).mediaBlurred, true, "still blurred signed out");

    // The preference is the user's own, like the email: null for anyone else.
    const seen = await gql(url, `query($u: String!) { user(username: $u) { showSensitiveMedia } }`, {
      token: author.accessToken,
      variables: { u: reader.user.username },
    });
    assert.equal(seen.body.data.user.showSensitiveMedia, null);

    await gql(url, PREFER, { token: reader.accessToken, variables: { show: false } });
    assert.equal((await view(warned.id, reader)).mediaBlurred, true, "turned back");
  });

  test("an edit changes the warning and the flag without touching the text's history", async () => {
    const p = await createPost(author, { text: "hello", contentWarning: "loud" });
    const edit = (vars: Record<string, unknown>) =>
      gql(url, EDIT, { token: author.accessToken, variables: { id: p.id, text: "hello", ...vars } });

    const renamed = (await edit({ cw: "very loud" })).body.data.editPost;
    assert.deepEqual([renamed.contentWarning, renamed.sensitive, renamed.edits], ["very loud", true, []]);

    assert.deepEqual(errorOf(await edit({ s: false })), { code: "BAD_USER_INPUT", field: "sensitive" });
    const cleared = (await edit({ cw: "", s: false })).body.data.editPost;
    assert.deepEqual([cleared.contentWarning, cleared.sensitive], [null, false]);
    const flagged = (await edit({ s: true })).body.data.editPost;
    assert.deepEqual([flagged.contentWarning, flagged.sensitive], [null, true]);

    const other = await gql(url, EDIT, { token: reader.accessToken, variables: { id: p.id, text: "x", cw: "" } });
    assert.deepEqual(errorOf(other), { code: "FORBIDDEN", field: "postId" });
  });

  test("bad warnings are refused by name and store nothing", async () => {
    const before = await db.query("SELECT count(*)::int AS n FROM content.posts WHERE author_id = $1", [
      author.user.id,
    ]);
    for (const cw of ["x".repeat(201), "two\nlines", "nul\u0000"]) {
      const r = await gql(url, CREATE, {
        token: author.accessToken,
        variables: { i: { text: "t", contentWarning: cw } },
      });
      assert.deepEqual(errorOf(r), { code: "BAD_USER_INPUT", field: "contentWarning" }, JSON.stringify(cw));
    }
    const after = await db.query("SELECT count(*)::int AS n FROM content.posts WHERE author_id = $1", [author.user.id]);
    assert.equal(after.rows[0].n, before.rows[0].n);

    const p = await createPost(author, { text: "kept" });
    const r = await gql(url, EDIT, {
      token: author.accessToken,
      variables: { id: p.id, text: "kept", cw: "y".repeat(201) },
    });
    assert.deepEqual(errorOf(r), { code: "BAD_USER_INPUT", field: "contentWarning" });
    assert.deepEqual(await view(p.id), { id: p.id, sensitive: false, contentWarning: null, mediaBlurred: false });
  });

  test("a moderator marks a post sensitive with a warning; a warning on another action is refused", async () => {
    const mod = await register(url);
    await db.query("UPDATE identity.users SET role = 'moderator' WHERE id = $1", [mod.user.id]);
    const login = await gql(url, `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, {
      variables: { i: { identifier: mod.user.username, password: "correct horse battery" } },
    });
    const token = login.body.data.login.accessToken as string;
    const p = await createPost(author, { text: "a graphic photo" });
    const moderate = (i: Record<string, unknown>) =>
      gql(url, `mutation($i: ModerationActionInput!) { moderate(input: $i) { id action } }`, {
        token,
        variables: { i: { subjectKind: "POST", subjectId: p.id, reason: "graphic", ...i } },
      });

    assert.deepEqual(errorOf(await moderate({ action: "WARN", contentWarning: "graphic" })), {
      code: "BAD_USER_INPUT",
      field: "contentWarning",
    });
    assert.deepEqual(errorOf(await moderate({ action: "MARK_SENSITIVE", contentWarning: "z".repeat(201) })), {
      code: "BAD_USER_INPUT",
      field: "contentWarning",
    });
    assert.equal((await view(p.id)).sensitive, false, "a refused action changes nothing");

    const ok = await moderate({ action: "MARK_SENSITIVE", contentWarning: "graphic violence" });
    assert.equal(ok.body.errors, undefined, JSON.stringify(ok.body.errors));
    assert.deepEqual(await view(p.id, reader), {
      id: p.id,
      sensitive: true,
      contentWarning: "graphic violence",
      mediaBlurred: true,
    });
  });
});
