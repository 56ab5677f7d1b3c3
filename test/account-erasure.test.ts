/**
 * Account deletion end to end, embedded (issue 21 part 7): a user with everything — profile, posts
 * with uploaded media, comments, likes, bookmarks, follows both ways, a block, a mute, a muted word,
 * messages with media, notifications both ways, a push device, a report filed — and a second user
 * who interacted with them. The deletion is asked for (a wrong password is refused naming the
 * field), cancelled by a sign-in, asked for again, and the erasure job run past its grace period.
 * Then every table of every schema is scanned for the user's id, email and username, and every file
 * of the media store for their blobs: nothing is found but the one AccountErased event. The other
 * user's counts are back, and their conversation shows a deleted message. The story runs on the
 * embedded log (media on the filesystem) and again on Kafka with timelines in Redis and media in S3,
 * each in one process (every module in it). With two-factor on, the code is asked for and a wrong one
 * counts against the lockout.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generate } from "otplib";
import pg from "pg";
import { Database } from "../src/platform/db/pool.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { s3Store } from "../src/platform/storage/s3.ts";
import { eraseDueAccounts } from "../src/services/identity/erasure.ts";
import type { IdentityTables } from "../src/services/identity/queries.ts";
import { gql, register, services, startInProcess, tempDir } from "./helpers.ts";
import { eventually, jpegOf, uploadReady } from "./media-flow.ts";

let db: pg.Pool;
const PASSWORD = "correct horse battery";

/** A GraphQL call on `url` that must succeed; answers its data. */
function caller(url: string) {
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  return async (token: string | undefined, query: string, variables: Record<string, unknown> = {}): Promise<any> => {
    const r = await gql(url, query, { token, variables });
    assert.equal(r.body.errors, undefined, `${query}: ${JSON.stringify(r.body.errors)}`);
    return r.body.data;
  };
}

/** Rows of every table of every schema whose text holds one of `needles` (the erasure event aside). */
async function rowsNaming(needles: string[]): Promise<string[]> {
  const tables = await db.query<{ s: string; t: string }>(`SELECT table_schema AS s, table_name AS t
    FROM information_schema.tables WHERE table_type = 'BASE TABLE'
      AND table_schema NOT IN ('pg_catalog', 'information_schema')`);
  const found: string[] = [];
  for (const { s, t } of tables.rows) {
    const q = `"${s}"."${t}"`;
    // The one event that may still name the account: AccountErased in identity's outbox (and the DLQs, were it parked).
    const keep = t === "outbox" || t === "dlq" ? `AND x.envelope->>'type' IS DISTINCT FROM 'AccountErased'` : "";
    const r = await db.query<{ row: string }>(
      `SELECT x::text AS row FROM ${q} x WHERE x::text ILIKE ANY($1::text[]) ${keep} LIMIT 5`,
      [needles.map((n) => `%${n}%`)],
    );
    for (const row of r.rows) found.push(`${s}.${t}: ${row.row.slice(0, 300)}`);
  }
  return found;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

before(async () => {
  db = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
});

after(async () => {
  await db?.end();
});

/**
 * The whole story on a running Nova at `url`; `blobs` lists every key (or file) of its media store.
 */
async function eraseEverything(url: string, blobs: () => Promise<string[]>) {
  const ok = caller(url);

  const a = await register(url);
  const b = await register(url);
  const c = await register(url);
  const d = await register(url);
  const A = a.accessToken;
  const B = b.accessToken;
  const aEmail = `${a.user.username}@example.com`;

  // Everything a user can have.
  await ok(A, `mutation { updateProfile(input: { displayName: "Erasable", bio: "about me" }) { id } }`);
  await ok(A, `mutation($id: ID!) { follow(userId: $id) { id } }`, { id: b.user.id });
  await ok(B, `mutation($id: ID!) { follow(userId: $id) { id } }`, { id: a.user.id });
  await ok(A, `mutation($id: ID!) { block(userId: $id) { id } }`, { id: c.user.id });
  await ok(A, `mutation($id: ID!) { mute(userId: $id) { id } }`, { id: d.user.id });
  await ok(A, `mutation { addMutedWord(phrase: "spoilers") { id } }`);
  const postMedia = await uploadReady(url, A, await jpegOf(64, 48), "POST");
  const aPost = (
    await ok(A, `mutation($input: CreatePostInput!) { createPost(input: $input) { id } }`, {
      input: { text: `mine #erasure @${b.user.username}`, attachments: [{ mediaId: postMedia, alt: "a photo" }] },
    })
  ).createPost.id as string;
  const bMedia = await uploadReady(url, B, await jpegOf(40, 40, "#669933"), "POST");
  const bPost = (
    await ok(B, `mutation($input: CreatePostInput!) { createPost(input: $input) { id } }`, {
      input: { text: "theirs #erasure", attachments: [{ mediaId: bMedia }] },
    })
  ).createPost.id as string;
  await ok(B, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: aPost });
  await ok(B, `mutation($input: CreateCommentInput!) { createComment(input: $input) { id } }`, {
    input: { postId: aPost, text: "nice" },
  });
  await ok(A, `mutation($id: ID!) { likePost(postId: $id) { id } }`, { id: bPost });
  await ok(A, `mutation($id: ID!) { bookmarkPost(postId: $id) { id } }`, { id: bPost });
  const aComment = (
    await ok(A, `mutation($input: CreateCommentInput!) { createComment(input: $input) { id } }`, {
      input: { postId: bPost, text: `a comment by @${a.user.username}` },
    })
  ).createComment.id as string;
  await ok(B, `mutation($input: CreateCommentInput!) { createComment(input: $input) { id } }`, {
    input: { postId: bPost, text: "a reply", parentId: aComment },
  });
  await ok(B, `mutation($id: ID!) { likeComment(commentId: $id) { id } }`, { id: aComment });
  const conv = (await ok(A, `mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }`, { m: [b.user.id] }))
    .createConversation.id as string;
  const messageMedia = await uploadReady(url, A, await jpegOf(32, 32, "#993366"), "MESSAGE");
  const SEND = `mutation($c: ID!, $t: String!, $k: String!, $at: [MessageAttachmentInput!]) {
      sendMessage(conversationId: $c, text: $t, clientMessageId: $k, attachments: $at) { id } }`;
  const aMessage = (
    await ok(A, SEND, { c: conv, t: `hello from ${a.user.username}`, k: "a-1", at: [{ mediaId: messageMedia }] })
  ).sendMessage.id as string;
  const bMessage = (await ok(B, SEND, { c: conv, t: "hello back", k: "b-1" })).sendMessage.id as string;
  await ok(A, `mutation($c: ID!) { markConversationRead(conversationId: $c) { id } }`, { c: conv });
  await ok(
    A,
    `mutation { registerPushToken(input: { platform: APNS, token: "${"ab".repeat(32)}", deviceId: "phone-1" }) { deviceId } }`,
  );
  await ok(A, `mutation($input: ReportInput!) { report(input: $input) { __typename } }`, {
    input: { subjectKind: "POST", subjectId: bPost, category: "SPAM", comment: `filed by ${a.user.username}` },
  });
  // B reports A's account too: a record about A that moderation keeps, by pseudonym only.
  await ok(B, `mutation($input: ReportInput!) { report(input: $input) { __typename } }`, {
    input: { subjectKind: "ACCOUNT", subjectId: a.user.id, category: "SPAM" },
  });
  // A asked to follow a private account (a pending request), and has a data export built.
  const e = await register(url);
  await ok(e.accessToken, `mutation { updateProfile(input: { isPrivate: true }) { id } }`);
  await ok(A, `mutation($id: ID!) { follow(userId: $id) { id } }`, { id: e.user.id });
  assert.equal(
    (await db.query("SELECT 1 FROM graph.follow_requests WHERE requester_id = $1", [a.user.id])).rowCount,
    1,
  );
  await ok(A, `mutation { requestDataExport { id } }`);
  await eventually("A's data export", async () =>
    (await ok(A, `{ me { dataExport { status } } }`)).me.dataExport?.status === "READY" ? true : undefined,
  );
  assert.ok(
    (await blobs()).some((f) => f.includes(`exports/${a.user.id}/`)),
    "the archive is in the store",
  );
  // Notifications both ways: A was followed (by B), B's post was liked and commented on by A.
  const NOTES = `{ notifications(first: 20) { edges { node { type } } } }`;
  await eventually("A's notifications", async () =>
    (await ok(A, NOTES)).notifications.edges.length > 0 ? true : undefined,
  );
  await eventually("B's notifications of A's like", async () =>
    (await ok(B, NOTES)).notifications.edges.some((e: { node: { type: string } }) => e.node.type === "LIKE")
      ? true
      : undefined,
  );
  // The search index has A's profile and post.
  await eventually("A in search", async () =>
    (await db.query("SELECT 1 FROM search.users WHERE user_id = $1", [a.user.id])).rowCount ? true : undefined,
  );
  assert.ok((await rowsNaming([a.user.id])).length > 20, "the account is all over the schemas before");

  // A wrong password is refused, naming the field.
  const REQUEST = `mutation($p: String!) { requestAccountDeletion(password: $p) { scheduledAt sessionsEnded } }`;
  const wrong = await gql(url, REQUEST, { token: A, variables: { p: "not my password" } });
  assert.equal(wrong.body.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  assert.equal(wrong.body.errors?.[0]?.extensions?.field, "password");
  const asked = (await ok(A, REQUEST, { p: PASSWORD })).requestAccountDeletion;
  const due = Date.parse(asked.scheduledAt);
  assert.ok(Math.abs(due - (Date.now() + 86_400_000)) < 60_000, `erased a day on: ${asked.scheduledAt}`);
  assert.equal((await ok(A, `{ me { deletionScheduledAt } }`)).me.deletionScheduledAt, asked.scheduledAt);

  // Signing in during the grace period cancels it, and says so.
  const SIGN_IN = `mutation($i: LoginInput!) { signIn(input: $i) { accessToken deletionCancelled } }`;
  const back = (await ok(undefined, SIGN_IN, { i: { identifier: a.user.username, password: PASSWORD } })).signIn;
  assert.equal(back.deletionCancelled, true);
  assert.equal((await ok(back.accessToken, `{ me { deletionScheduledAt } }`)).me.deletionScheduledAt, null);
  const again = (await ok(undefined, SIGN_IN, { i: { identifier: a.user.username, password: PASSWORD } })).signIn;
  assert.equal(again.deletionCancelled, false);
  assert.equal((await ok(again.accessToken, REQUEST, { p: PASSWORD })).requestAccountDeletion.sessionsEnded >= 2, true);

  // The job: nothing is due before the grace period ends; after it, A is erased.
  const s = await services();
  const database = new Database({ writerUrl: s.postgres, poolMax: 2, applicationName: "test-erasure" });
  try {
    const writer = database.kysely<IdentityTables>().writer;
    const outbox = createOutbox({ service: "identity", schema: "identity" });
    assert.deepEqual(await eraseDueAccounts(writer, outbox, Date.now()), []);
    assert.deepEqual(await eraseDueAccounts(writer, outbox, Date.now() + 2 * 86_400_000), [a.user.id]);
  } finally {
    await database.close();
  }

  // Every service erases on AccountErased; then nothing names A anywhere.
  const needles = [a.user.id, aEmail, a.user.username];
  let left: string[] = [];
  await eventually(
    "every service erased the account",
    async () => {
      left = await rowsNaming(needles);
      return left.length === 0 ? true : undefined;
    },
    60_000,
  ).catch(() => assert.fail(`rows still naming the account:\n${left.join("\n")}`));
  const erased = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM identity.outbox WHERE envelope->>'type' = 'AccountErased'
        AND envelope->'payload'->>'userId' = $1`,
    [a.user.id],
  );
  assert.equal(erased.rows[0]?.n, 1, "one AccountErased names the account");

  // No blob of A's media in the store (B's things are untouched).
  const files = await blobs();
  assert.ok(
    files.some((f) => f.includes(bMedia)),
    "B's media is still there",
  );
  for (const id of [postMedia, messageMedia, a.user.id]) {
    assert.deepEqual(
      files.filter((f) => f.includes(id)),
      [],
      `no blob of ${id}`,
    );
  }

  // B's counts are as if A never was.
  const bView = await ok(
    B,
    `query($u: String!, $p: ID!) { user(username: $u) { followerCount followingCount }
        post(id: $p) { likeCount commentCount bookmarkCount } }`,
    { u: b.user.username, p: bPost },
  );
  assert.deepEqual(bView.user, { followerCount: 0, followingCount: 0 });
  assert.deepEqual(bView.post, { likeCount: 0, commentCount: 1, bookmarkCount: 0 });
  const idCounts = await db.query("SELECT follower_count, following_count FROM identity.users WHERE id = $1", [
    b.user.id,
  ]);
  assert.deepEqual(idCounts.rows[0], { follower_count: 0, following_count: 0 });
  // A's post is gone for B (and B's like and comment on it with it).
  const gone = await gql(url, `query($p: ID!) { post(id: $p) { id } }`, { token: B, variables: { p: aPost } });
  assert.equal(gone.body.data?.post ?? null, null);

  // B's conversation shows A's message as a deleted message, and B's own as it was.
  const msgs = (
    await ok(
      B,
      `query($c: ID!) { conversation(id: $c) { messages(first: 10) { edges { node {
        id text deleted media { url } sender { id } } } } } }`,
      { c: conv },
    )
  ).conversation.messages.edges.map((e: { node: unknown }) => e.node);
  assert.deepEqual(
    msgs.find((m: { id: string }) => m.id === aMessage),
    { id: aMessage, text: "", deleted: true, media: [], sender: null },
  );
  assert.deepEqual(
    msgs.find((m: { id: string }) => m.id === bMessage),
    { id: bMessage, text: "hello back", deleted: false, media: [], sender: { id: b.user.id } },
  );
  // A's tokens are dead.
  const me = await gql(url, `{ me { id } }`, { token: again.accessToken });
  assert.ok(me.status === 401 || me.body.errors?.length, JSON.stringify(me.body));
}

describe("account erasure: a deleted account leaves nothing behind but one AccountErased", () => {
  test("embedded: the embedded log, timelines in PostgreSQL, media on the filesystem", async () => {
    const dataDir = tempDir("nova-erasure-");
    const { nova, url } = await startInProcess({ NOVA_DATA_DIR: dataDir, ACCOUNT_ERASE_AFTER_DAYS: "1" });
    try {
      await eraseEverything(url, async () => filesUnder(join(dataDir, "media")));
    } finally {
      await nova.stop();
    }
  });

  test("with two-factor on, the code is asked for and counted; completing a sign-in cancels", async () => {
    const { nova, url } = await startInProcess({ ACCOUNT_ERASE_AFTER_DAYS: "1" });
    try {
      const ok = caller(url);
      const u = await register(url);
      const { secret } = (
        await ok(u.accessToken, `mutation($p: String!) { beginTwoFactorEnrollment(password: $p) { secret } }`, {
          p: PASSWORD,
        })
      ).beginTwoFactorEnrollment;
      const recovery = (
        await ok(u.accessToken, `mutation($c: String!) { confirmTwoFactorEnrollment(code: $c) }`, {
          c: await generate({ secret }),
        })
      ).confirmTwoFactorEnrollment as string[];
      const REQUEST = `mutation($p: String!, $c: String) { requestAccountDeletion(password: $p, code: $c) { scheduledAt } }`;
      const refused = async (vars: { p: string; c?: string }, field: string) => {
        const r = await gql(url, REQUEST, { token: u.accessToken, variables: vars });
        assert.equal(r.body.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(r.body));
        assert.equal(r.body.errors?.[0]?.extensions?.field, field);
      };
      await refused({ p: PASSWORD }, "code");
      await refused({ p: PASSWORD, c: "000000" }, "code");
      await refused({ p: "not my password", c: recovery[0] }, "password");
      // The wrong code and the wrong password count against the sign-in lockout.
      const failed = await db.query("SELECT failed_logins FROM identity.users WHERE id = $1", [u.user.id]);
      assert.equal(failed.rows[0]?.failed_logins, 2);
      assert.ok((await ok(u.accessToken, REQUEST, { p: PASSWORD, c: recovery[0] })).requestAccountDeletion.scheduledAt);
      const step = (
        await ok(
          undefined,
          `mutation($i: LoginInput!) { signIn(input: $i) { twoFactorRequired challenge deletionCancelled } }`,
          {
            i: { identifier: u.user.username, password: PASSWORD },
          },
        )
      ).signIn;
      assert.equal(step.twoFactorRequired, true);
      assert.equal(step.deletionCancelled, false, "not before the second step");
      const done = (
        await ok(
          undefined,
          `mutation($ch: String!, $c: String!) { completeSignIn(challenge: $ch, code: $c) {
          deletionCancelled user { deletionScheduledAt } } }`,
          { ch: step.challenge, c: recovery[1] },
        )
      ).completeSignIn;
      assert.deepEqual(done, { deletionCancelled: true, user: { deletionScheduledAt: null } });
    } finally {
      await nova.stop();
    }
  });

  test("on Kafka, with timelines in Redis and media in S3 (SeaweedFS)", async () => {
    const s = await services();
    const bucket = `nova-erasure-${randomBytes(4).toString("hex")}`;
    const { nova, url } = await startInProcess({
      ACCOUNT_ERASE_AFTER_DAYS: "1",
      KAFKA_BROKERS: s.kafka,
      REDIS_URL: s.redis,
      S3_ENDPOINT: s.s3.endpoint,
      S3_REGION: s.s3.region,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: s.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s.s3.secretAccessKey,
    });
    try {
      await eraseEverything(url, async () => {
        const store = s3Store({ ...s.s3, bucket, forcePathStyle: true });
        const keys: string[] = [];
        for await (const k of store.list("")) keys.push(k);
        store.close();
        return keys;
      });
    } finally {
      await nova.stop();
    }
  });
});
