/**
 * Data export end to end (issue 21 part 8), embedded mode with the harness's Mailpit: a user writes
 * a profile, posts with uploaded media, comments, likes, follows, plaintext, media and encrypted
 * messages; asks for their archive; it is built in the background and mailed; the mailed link
 * downloads a ZIP whose JSON and media bytes are what was written. A second request answers the
 * same archive; a tampered or expired link is refused; nobody else sees the archive.
 */
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { unzipSync } from "fflate";
import type { Nova } from "../src/runtime/app.ts";
import { fsSigningKeyFile } from "../src/services/media/store.ts";
import { gql, register, services, startInProcess, tempDir } from "./helpers.ts";
import { messagesTo, waitForMail } from "./mailpit.ts";
import { eventually, jpegOf, MESSAGES, SEND, uploadReady } from "./media-flow.ts";

let nova: Nova;
let url: string;
let origin: string;
let mailpit: string;
const dataDir = tempDir();

type User = Awaited<ReturnType<typeof register>>;

// biome-ignore lint/suspicious/noExplicitAny: test convenience
async function ok(token: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const r = await gql(url, query, { token, variables });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data;
}

const REQUEST = `mutation { requestDataExport { id status requestedAt readyAt url expiresAt byteSize } }`;
const ME = `{ me { dataExport { id status requestedAt readyAt url expiresAt byteSize } } }`;
const emailOf = (u: User) => `${u.user.username}@example.com`;

before(async () => {
  const s = await services();
  mailpit = s.mailpit;
  ({ nova, url } = await startInProcess({
    NOVA_DATA_DIR: dataDir,
    SMTP_URL: s.smtp,
    MAIL_FROM: "Nova <no-reply@nova.test>",
    PUBLIC_URL: "https://nova.test",
  }));
  origin = new URL(url).origin;
});

after(async () => {
  await nova?.stop();
});

/** What alice wrote, to be found again in her archive. */
interface Written {
  postTexts: string[];
  postMedia: string;
  messageMedia: string;
  commentText: string;
  likedPost: string;
  conversation: string;
  ciphertext: string;
}

async function bytesAt(path: string): Promise<Buffer> {
  const res = await fetch(new URL(path, origin));
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

async function write(alice: User, bob: User, carol: User): Promise<Written> {
  await ok(alice.accessToken, `mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }`, {
    i: { displayName: "Alice Export", bio: "all my data, please" },
  });
  const postMedia = await uploadReady(url, alice.accessToken, await jpegOf(320, 200, "#aa3366"), "POST");
  const withMedia = await ok(alice.accessToken, `mutation($i: CreatePostInput!) { createPost(input: $i) { id } }`, {
    i: { text: "a photo for the archive", attachments: [{ mediaId: postMedia, alt: "pink" }] },
  });
  await ok(alice.accessToken, `mutation($i: CreatePostInput!) { createPost(input: $i) { id } }`, {
    i: { text: "just words" },
  });
  const bobsPost = (
    await ok(bob.accessToken, `mutation($i: CreatePostInput!) { createPost(input: $i) { id } }`, {
      i: { text: "bob was here" },
    })
  ).createPost.id as string;
  const COMMENT = `mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }`;
  await ok(alice.accessToken, COMMENT, { i: { postId: bobsPost, text: "nice one, bob" } });
  await ok(bob.accessToken, COMMENT, { i: { postId: withMedia.createPost.id, text: "bob's comment, not hers" } });
  await ok(alice.accessToken, `mutation($p: ID!) { likePost(postId: $p) { id } }`, { p: bobsPost });
  await ok(alice.accessToken, `mutation($u: ID!) { follow(userId: $u) { id } }`, { u: bob.user.id });
  await ok(carol.accessToken, `mutation($u: ID!) { follow(userId: $u) { id } }`, { u: alice.user.id });

  const conversation = (
    await ok(alice.accessToken, `mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }`, {
      m: [bob.user.id],
    })
  ).createConversation.id as string;
  const messageMedia = await uploadReady(url, alice.accessToken, await jpegOf(240, 240, "#22aa88"), "MESSAGE");
  await ok(alice.accessToken, SEND, { c: conversation, t: "hi bob", k: "m1", a: [{ mediaId: messageMedia }] });
  const publicKey = Buffer.from(
    generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x as string,
    "base64url",
  ).toString("base64");
  const key = (
    await ok(bob.accessToken, `mutation($k: String!) { uploadPublicKey(publicKey: $k) { id } }`, { k: publicKey })
  ).uploadPublicKey.id as string;
  const ciphertext = Buffer.from("opaque sealed bytes").toString("base64");
  await ok(alice.accessToken, SEND, { c: conversation, t: "", k: "m2", x: ciphertext, key });
  await ok(bob.accessToken, SEND, { c: conversation, t: "hi alice", k: "m3" });
  return {
    postTexts: ["a photo for the archive", "just words"],
    postMedia,
    messageMedia,
    commentText: "nice one, bob",
    likedPost: bobsPost,
    conversation,
    ciphertext,
  };
}

/** The mailed link's path and query (the mail names PUBLIC_URL; the test's gateway is elsewhere). */
function linkIn(text: string): string {
  const m = /https:\/\/nova\.test(\/media\/exports\/\S+)/.exec(text);
  assert.ok(m?.[1], `no download link in:\n${text}`);
  return m[1];
}

function parse(files: Record<string, Uint8Array>, name: string) {
  const f = files[name];
  assert.ok(f, `${name} in the archive (${Object.keys(files).join(", ")})`);
  return JSON.parse(Buffer.from(f).toString("utf8"));
}

describe("data export through GraphQL, the media store and Mailpit", () => {
  test("the archive holds what the user wrote, mailed with a signed link; one at a time; links are checked", async () => {
    const [alice, bob, carol] = [await register(url), await register(url), await register(url)];
    const w = await write(alice, bob, carol);

    const first = (await ok(alice.accessToken, REQUEST)).requestDataExport;
    assert.equal(first.status, "PENDING");
    assert.equal(first.url, null);
    // Asked again while it is being built: the same archive.
    const again = (await ok(alice.accessToken, REQUEST)).requestDataExport;
    assert.equal(again.id, first.id);

    const [mail] = await waitForMail(mailpit, emailOf(alice), { subject: /archive is ready/, timeoutMs: 60_000 });
    assert.ok(mail);
    const link = linkIn(mail.Text);
    assert.match(mail.HTML, /<a href="https:\/\/nova\.test\/media\/exports\//);

    const res = await fetch(new URL(link, origin));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/zip");
    assert.match(res.headers.get("content-disposition") ?? "", /attachment/);
    const zip = Buffer.from(await res.arrayBuffer());
    const files = unzipSync(new Uint8Array(zip));

    const profile = parse(files, "profile.json");
    assert.equal(profile.id, alice.user.id);
    assert.equal(profile.username, alice.user.username);
    assert.equal(profile.email, emailOf(alice));
    assert.equal(profile.displayName, "Alice Export");
    assert.equal(profile.bio, "all my data, please");

    const posts = parse(files, "posts.json");
    assert.deepEqual(
      posts.map((p: { text: string }) => p.text),
      w.postTexts,
    );
    assert.deepEqual(posts[0].attachments, [{ mediaId: w.postMedia, alt: "pink" }]);

    const comments = parse(files, "comments.json");
    assert.deepEqual(
      comments.map((c: { text: string; postId: string }) => [c.text, c.postId]),
      [[w.commentText, w.likedPost]],
    );
    const likes = parse(files, "likes.json");
    assert.deepEqual(
      likes.map((l: { postId: string }) => l.postId),
      [w.likedPost],
    );
    assert.ok(!Number.isNaN(Date.parse(likes[0].likedAt)));
    assert.deepEqual(parse(files, "following.json"), [{ userId: bob.user.id, username: bob.user.username }]);
    assert.deepEqual(parse(files, "followers.json"), [{ userId: carol.user.id, username: carol.user.username }]);

    const conversations = parse(files, "messages.json");
    assert.equal(conversations.length, 1);
    assert.equal(conversations[0].id, w.conversation);
    const msgs = conversations[0].messages;
    assert.deepEqual(
      msgs.map((m: { senderId: string; text?: string; encrypted: boolean; ciphertext?: string }) => [
        m.senderId,
        m.encrypted,
        m.text ?? null,
        m.ciphertext ?? null,
      ]),
      [
        [alice.user.id, false, "hi bob", null],
        [alice.user.id, true, null, w.ciphertext],
        [bob.user.id, false, "hi alice", null],
      ],
    );
    assert.deepEqual(msgs[0].attachments, [{ mediaId: w.messageMedia, alt: "" }]);

    // The media files are the bytes the media store serves for the originals.
    const postVariants = await ok(alice.accessToken, `query($id: ID!) { media(id: $id) { variants { name url } } }`, {
      id: w.postMedia,
    });
    const postOriginal = postVariants.media.variants.find((v: { name: string }) => v.name === "original").url;
    assert.deepEqual(Buffer.from(files[`media/${w.postMedia}.webp`] ?? []), await bytesAt(postOriginal));
    const seen = await ok(alice.accessToken, MESSAGES, { c: w.conversation });
    const withMedia = seen.conversation.messages.edges.find(
      (e: { node: { media: unknown[] } }) => e.node.media.length > 0,
    );
    const messageOriginal = withMedia.node.media[0].variants.find((v: { name: string }) => v.name === "original").url;
    assert.deepEqual(Buffer.from(files[`media/${w.messageMedia}.webp`] ?? []), await bytesAt(messageOriginal));
    assert.ok(files["README.txt"]);
    assert.deepEqual(Object.keys(files).filter((n) => n.startsWith("media/")).length, 2);

    // me { dataExport }: READY, 7 days, a working link of its own; nobody else sees it.
    const me = (await ok(alice.accessToken, ME)).me.dataExport;
    assert.equal(me.id, first.id);
    assert.equal(me.status, "READY");
    assert.equal(me.byteSize, zip.length);
    assert.equal(Date.parse(me.expiresAt) - Date.parse(me.readyAt), 7 * 86_400_000);
    assert.equal((await bytesAt(me.url)).length, zip.length);
    const other = await ok(bob.accessToken, `query($u: String!) { user(username: $u) { dataExport { id } } }`, {
      u: alice.user.username,
    });
    assert.equal(other.user.dataExport, null);
    assert.equal((await ok(bob.accessToken, ME)).me.dataExport, null);

    // A second request while it is READY and unexpired: the same archive, nothing new built or mailed.
    const second = (await ok(alice.accessToken, REQUEST)).requestDataExport;
    assert.equal(second.id, first.id);
    assert.equal(second.status, "READY");
    await sleep(1_500);
    const mails = (await messagesTo(mailpit, emailOf(alice))).filter((m) => /archive is ready/.test(m.Subject));
    assert.equal(mails.length, 1);

    // Tampered links: another signature, a later expiry, another user's key: 403 and no bytes.
    const u = new URL(link, origin);
    const signature = u.searchParams.get("signature") ?? "";
    const expires = u.searchParams.get("expires") ?? "";
    const tampered = [
      `${u.pathname}?expires=${expires}&signature=${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`,
      `${u.pathname}?expires=${Number(expires) + 1}&signature=${signature}`,
      `${u.pathname.replace(alice.user.id, bob.user.id)}?expires=${expires}&signature=${signature}`,
      u.pathname,
    ];
    for (const path of tampered) {
      const r = await fetch(new URL(path, origin));
      assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
      const body = (await r.json()) as { errors: { extensions: { code: string } }[] };
      assert.ok(["FORBIDDEN", "NOT_FOUND"].includes(body.errors[0]?.extensions.code ?? ""), JSON.stringify(body));
    }
    // An expired link, signed with the store's own key (so only its expiry is wrong): refused.
    const key = readFileSync(fsSigningKeyFile({ dataDir }));
    const sign = (exp: string) =>
      createHmac("sha256", key)
        .update(`${u.pathname.slice("/media/".length)}\n${exp}`)
        .digest("base64url");
    const past = String(Math.floor(Date.now() / 1000) - 60);
    const expired = await fetch(new URL(`${u.pathname}?expires=${past}&signature=${sign(past)}`, origin));
    assert.equal(expired.status, 403);
    const refusal = (await expired.json()) as { errors: { extensions: { field: string } }[] };
    assert.equal(refusal.errors[0]?.extensions.field, "signature");
    // The same key and a future expiry do open it: the refusal above was the expiry's.
    const future = String(Math.floor(Date.now() / 1000) + 60);
    assert.equal(
      (await fetch(new URL(`${u.pathname}?expires=${future}&signature=${sign(future)}`, origin))).status,
      200,
    );
  });

  test("signed out: requestDataExport is UNAUTHENTICATED", async () => {
    const r = await gql(url, REQUEST);
    assert.equal(r.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });

  test("a user with nothing written gets an archive of empty lists", async () => {
    const dave = await register(url);
    await ok(dave.accessToken, REQUEST);
    const ready = await eventually("dave's archive READY", async () => {
      const d = (await ok(dave.accessToken, ME)).me.dataExport;
      return d?.status === "READY" ? d : undefined;
    });
    const files = unzipSync(new Uint8Array(await bytesAt(ready.url)));
    for (const name of ["posts", "comments", "likes", "following", "followers", "messages"]) {
      assert.deepEqual(parse(files, `${name}.json`), [], name);
    }
    assert.equal(parse(files, "profile.json").username, dave.user.username);
  });
});
