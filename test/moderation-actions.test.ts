/**
 * Moderators' actions in the embedded topology on real PostgreSQL: report -> queue -> action ->
 * the effect on every service (identity's sessions and sign-in, the gateway's cached sessions,
 * content's removal and sensitive mark, the hidden profile, posts, comments and feed) -> the audit
 * row; the rules (who may act on whom) and every bad input.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { ContentService } from "../src/gen/nova/content/v1/content_pb.ts";
import { ActionKind, ModerationService, SubjectKind } from "../src/gen/nova/moderation/v1/moderation_pb.ts";
import { fromError } from "../src/platform/errors.ts";
import { uuidv7 } from "../src/platform/validate.ts";
import type { Nova } from "../src/runtime/app.ts";
import { clientAs, gql, register, services, startInProcess } from "./helpers.ts";

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

const MODERATE = `mutation($i: ModerationActionInput!) { moderate(input: $i) { id action reason until subjectId
  user { id } actor { id } } }`;
const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`;

const moderate = (u: U, i: Record<string, unknown>) => gql(url, MODERATE, { token: u.accessToken, variables: { i } });
const login = (u: U) =>
  gql(url, LOGIN, { variables: { i: { identifier: u.user.username, password: "correct horse battery" } } });

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

async function withRole(role: "moderator" | "admin"): Promise<U> {
  const u = await register(url);
  await db.query("UPDATE identity.users SET role = $2 WHERE id = $1", [u.user.id, role]);
  const r = await login(u);
  return { ...u, accessToken: r.body.data.login.accessToken };
}

async function postOf(u: U, text = "a post"): Promise<string> {
  return (await clientAs(nova, ContentService, u.user.id).createPost({ text })).post?.id as string;
}

/** Polls `check` until it holds (every 20 ms, at most `ms`): the milliseconds it took. */
async function until(check: () => Promise<boolean>, ms = 10_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

const me = (u: U) => gql(url, "{ me { id } }", { token: u.accessToken });
const profile = (viewer: U, username: string) =>
  gql(url, "query($u: String!) { user(username: $u) { id } }", {
    token: viewer.accessToken,
    variables: { u: username },
  });
const post = (viewer: U, id: string) =>
  gql(url, "query($id: ID!) { post(id: $id) { id sensitive comments(first: 50) { edges { node { id } } } } }", {
    token: viewer.accessToken,
    variables: { id },
  });
const feed = (viewer: U) => gql(url, "{ feed(first: 50) { edges { node { id } } } }", { token: viewer.accessToken });
const feedIds = async (viewer: U) =>
  ((await feed(viewer)).body.data?.feed.edges ?? []).map((e: { node: { id: string } }) => e.node.id) as string[];

describe("suspension and its lift", () => {
  test("report -> queue -> suspend: sessions end at once, sign-in refused, content hidden; audited; lift restores", async () => {
    const mod = await withRole("moderator");
    const [author, reporter, follower] = [await register(url), await register(url), await register(url)];
    await gql(url, "mutation($id: ID!) { follow(userId: $id) { id } }", {
      token: follower.accessToken,
      variables: { id: author.user.id },
    });
    const postId = await postOf(author, "buy followers here");
    const other = await postOf(reporter, "my post");
    const comment = await clientAs(nova, ContentService, author.user.id).createComment({ postId: other, text: "spam" });
    const commentId = comment.comment?.id as string;
    await until(async () => (await feedIds(follower)).includes(postId));

    const filed = await gql(url, "mutation($i: ReportInput!) { report(input: $i) { report { id } } }", {
      token: reporter.accessToken,
      variables: { i: { subjectKind: "POST", subjectId: postId, category: "SPAM" } },
    });
    assert.equal(filed.body.errors, undefined, JSON.stringify(filed.body.errors));

    // The author's token works, and its session state is now cached by the gateway (5 s).
    assert.equal((await me(author)).status, 200);
    const acted = await moderate(mod, {
      subjectKind: "POST",
      subjectId: postId,
      action: "SUSPEND",
      reason: "spam",
      days: 3,
    });
    assert.equal(acted.body.errors, undefined, JSON.stringify(acted.body.errors));
    const action = acted.body.data.moderate;
    assert.equal(action.action, "SUSPEND");
    assert.equal(action.actor.id, mod.user.id);
    const days = (Date.parse(action.until) - Date.now()) / 86_400_000;
    assert.ok(days > 2.99 && days <= 3, `until is 3 days ahead (${days})`);

    // Within 1 s (the bus), not when the 5 s session cache expires.
    const ms = await until(async () => (await me(author)).status === 401, 4_000);
    process.stdout.write(`# suspended token refused after ${ms} ms\n`);
    assert.ok(ms < 1_000, `refused after ${ms} ms`);
    await until(async () => errorOf(await login(author)).code === "ACCOUNT_SUSPENDED");
    const sessions = await db.query(
      "SELECT count(*)::int AS n FROM identity.sessions WHERE user_id = $1 AND revoked_at IS NULL",
      [author.user.id],
    );
    assert.equal(sessions.rows[0].n, 0, "every session revoked");

    // Hidden: profile, post by id, their comment under another post, the follower's feed.
    assert.equal((await profile(reporter, author.user.username)).body.data.user, null);
    assert.equal((await post(reporter, postId)).body.data.post, null);
    const under = (await post(reporter, other)).body.data.post.comments.edges.map(
      (e: { node: { id: string } }) => e.node.id,
    );
    assert.equal(under.includes(commentId), false);
    assert.equal((await feedIds(follower)).includes(postId), false);

    // The report is closed; the audit log has the action, people by pseudonym only.
    const report = await db.query("SELECT state FROM moderation.reports WHERE id = $1", [
      filed.body.data.report.report.id,
    ]);
    assert.equal(report.rows[0].state, "actioned");
    const audit = await db.query(
      `SELECT a.*, (SELECT pseudonym::text FROM moderation.pseudonyms WHERE user_id = $2) AS mod_p,
              (SELECT pseudonym::text FROM moderation.pseudonyms WHERE user_id = $3) AS author_p
         FROM moderation.audit_log a WHERE action_id = $1`,
      [action.id, mod.user.id, author.user.id],
    );
    assert.equal(audit.rows.length, 1);
    const row = audit.rows[0];
    assert.equal(row.decision, "suspend");
    assert.equal(row.actor, row.mod_p);
    assert.equal(row.subject_user, row.author_p);
    assert.notEqual(row.actor, mod.user.id, "the log never names the user id");
    assert.deepEqual(row.before, { standing: "good" });
    assert.equal(row.after.standing, "suspended");
    await assert.rejects(
      db.query("UPDATE moderation.audit_log SET reason = 'x' WHERE action_id = $1", [action.id]),
      /append-only/,
    );
    await assert.rejects(db.query("DELETE FROM moderation.audit_log WHERE action_id = $1", [action.id]), /append-only/);

    // Lift: sign-in works again, everything shows again.
    const lift = await moderate(mod, { subjectKind: "ACCOUNT", subjectId: author.user.id, action: "LIFT" });
    assert.equal(lift.body.errors, undefined, JSON.stringify(lift.body.errors));
    await until(async () => (await login(author)).body.data?.login != null);
    assert.equal((await profile(reporter, author.user.username)).body.data.user.id, author.user.id);
    assert.equal((await post(reporter, postId)).body.data.post.id, postId);
    assert.equal((await feedIds(follower)).includes(postId), true);
  });

  test("a ban has no end: sign-in says banned", async () => {
    const mod = await withRole("moderator");
    const target = await register(url);
    const r = await moderate(mod, {
      subjectKind: "ACCOUNT",
      subjectId: target.user.id,
      action: "BAN",
      reason: "ban evasion",
    });
    assert.equal(r.body.data.moderate.until, null);
    await until(async () => errorOf(await login(target)).code === "ACCOUNT_SUSPENDED");
    assert.match(JSON.stringify((await login(target)).body.errors), /banned/);
  });
});

describe("content actions", () => {
  test("REMOVE soft-deletes through content with the reason; MARK_SENSITIVE marks; the subject is then NOT_FOUND", async () => {
    const mod = await withRole("moderator");
    const [author, reader] = [await register(url), await register(url)];
    const postId = await postOf(author, "graphic");
    const c = await clientAs(nova, ContentService, author.user.id).createComment({ postId, text: "slur" });
    const commentId = c.comment?.id as string;

    const marked = await moderate(mod, {
      subjectKind: "POST",
      subjectId: postId,
      action: "MARK_SENSITIVE",
      reason: "gore",
    });
    assert.equal(marked.body.errors, undefined, JSON.stringify(marked.body.errors));
    assert.equal((await post(reader, postId)).body.data.post.sensitive, true);

    const removed = await moderate(mod, {
      subjectKind: "COMMENT",
      subjectId: commentId,
      action: "REMOVE",
      reason: "hate speech",
    });
    assert.equal(removed.body.errors, undefined, JSON.stringify(removed.body.errors));
    const row = await db.query("SELECT deleted_by::text AS by, deleted_reason FROM content.comments WHERE id = $1", [
      commentId,
    ]);
    assert.deepEqual(row.rows[0], { by: mod.user.id, deleted_reason: "hate speech" });
    const ev = await db.query(
      "SELECT envelope->'payload' AS p FROM content.outbox WHERE envelope->>'type' = 'CommentDeleted' AND envelope->'payload'->>'commentId' = $1",
      [commentId],
    );
    assert.equal(ev.rows[0].p.reason, "hate speech");
    assert.equal((await post(reader, postId)).body.data.post.comments.edges.length, 0);

    const again = await moderate(mod, { subjectKind: "COMMENT", subjectId: commentId, action: "REMOVE", reason: "x" });
    assert.deepEqual(errorOf(again), { code: "NOT_FOUND", field: "subjectId" });
    await moderate(mod, { subjectKind: "POST", subjectId: postId, action: "REMOVE", reason: "gore" });
    assert.equal((await post(reader, postId)).body.data.post, null);
    const onDeleted = await moderate(mod, { subjectKind: "POST", subjectId: postId, action: "WARN", reason: "x" });
    assert.deepEqual(errorOf(onDeleted), { code: "NOT_FOUND", field: "subjectId" });
  });
});

describe("rules", () => {
  test("only moderators act; never on themselves or an admin; a moderator may act on another moderator", async () => {
    const [mod, mod2, admin] = [await withRole("moderator"), await withRole("moderator"), await withRole("admin")];
    const user = await register(url);
    const warn = (actor: U, id: string) =>
      moderate(actor, { subjectKind: "ACCOUNT", subjectId: id, action: "WARN", reason: "be nice" });
    assert.deepEqual(errorOf(await warn(user, mod.user.id)), { code: "FORBIDDEN", field: undefined });
    assert.deepEqual(errorOf(await warn(mod, mod.user.id)), { code: "FORBIDDEN", field: "subjectId" });
    assert.deepEqual(errorOf(await warn(mod, admin.user.id)), { code: "FORBIDDEN", field: "subjectId" });
    assert.deepEqual(errorOf(await warn(mod, uuidv7())), { code: "NOT_FOUND", field: "subjectId" });
    assert.equal((await warn(mod, mod2.user.id)).body.errors, undefined);
    assert.equal((await warn(admin, mod.user.id)).body.errors, undefined);
    const anon = await gql(url, MODERATE, {
      variables: { i: { subjectKind: "ACCOUNT", subjectId: user.user.id, action: "WARN", reason: "x" } },
    });
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
  });

  test("every bad field is refused naming it, and nothing is recorded", async () => {
    const mod = await withRole("moderator");
    const user = await register(url);
    const postId = await postOf(user);
    const rpc = clientAs(nova, ModerationService, mod.user.id, { moderator: true });
    const ok = { subjectKind: SubjectKind.ACCOUNT, subjectId: user.user.id, action: ActionKind.WARN, reason: "r" };
    const cases: [string, Record<string, unknown>][] = [
      ["subjectKind", { subjectKind: SubjectKind.UNSPECIFIED }],
      ["subjectId", { subjectId: "nope" }],
      ["action", { action: ActionKind.UNSPECIFIED }],
      ["action", { action: 77 }],
      ["action", { action: ActionKind.REMOVE }],
      ["action", { action: ActionKind.MARK_SENSITIVE, subjectKind: SubjectKind.COMMENT, subjectId: postId }],
      ["reason", { reason: "" }],
      ["reason", { reason: "z".repeat(1_001) }],
      ["reason", { reason: "bad\u0000" }],
      ["days", { action: ActionKind.SUSPEND, days: 0 }],
      ["days", { action: ActionKind.SUSPEND, days: 366 }],
      ["days", { days: 2 }],
      ["action", { action: ActionKind.LIFT, reason: "" }],
    ];
    for (const [field, change] of cases) {
      try {
        await rpc.takeAction({ ...ok, ...change } as never);
        assert.fail(`accepted ${JSON.stringify(change)}`);
      } catch (err) {
        const e = fromError(err);
        assert.deepEqual(
          { code: e.code, field: e.field },
          { code: "VALIDATION_FAILED", field },
          JSON.stringify(change),
        );
      }
    }
    const negative = await moderate(mod, {
      subjectKind: "ACCOUNT",
      subjectId: user.user.id,
      action: "SUSPEND",
      reason: "r",
      days: -1,
    });
    assert.deepEqual(errorOf(negative), { code: "BAD_USER_INPUT", field: "days" });
    const stored = await db.query("SELECT count(*)::int AS n FROM moderation.actions WHERE user_id = $1", [
      user.user.id,
    ]);
    assert.equal(stored.rows[0].n, 0);
  });
});
