/**
 * Appeals in the embedded topology: one per action, by the account it touched, decided by another
 * moderator than the one who acted; overturning a suspension reinstates the account; both steps
 * are audited.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pg from "pg";
import { ContentService } from "../src/gen/nova/content/v1/content_pb.ts";
import { AppealState, ModerationService } from "../src/gen/nova/moderation/v1/moderation_pb.ts";
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
const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`;
const login = (u: U) =>
  gql(url, LOGIN, { variables: { i: { identifier: u.user.username, password: "correct horse battery" } } });

async function moderator(): Promise<U> {
  const u = await register(url);
  await db.query("UPDATE identity.users SET role = 'moderator' WHERE id = $1", [u.user.id]);
  return { ...u, accessToken: (await login(u)).body.data.login.accessToken };
}

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

const APPEAL = `mutation($a: ID!, $s: String!) { appeal(actionId: $a, statement: $s) { id state actionId } }`;
const DECIDE = `mutation($id: ID!, $d: AppealDecision!, $r: String!) { decideAppeal(appealId: $id, decision: $d, reason: $r) {
  id state decisionReason decidedAt } }`;
const act = (mod: U, i: Record<string, unknown>) =>
  gql(url, "mutation($i: ModerationActionInput!) { moderate(input: $i) { id } }", {
    token: mod.accessToken,
    variables: { i },
  });

test("a warning is appealed once by its owner; the moderator who acted cannot decide; another one upholds", async () => {
  const [mod1, mod2] = [await moderator(), await moderator()];
  const [user, other] = [await register(url), await register(url)];
  const warned = await act(mod1, { subjectKind: "ACCOUNT", subjectId: user.user.id, action: "WARN", reason: "rude" });
  const actionId = warned.body.data.moderate.id as string;

  const notMine = await gql(url, APPEAL, { token: other.accessToken, variables: { a: actionId, s: "not me" } });
  assert.deepEqual(errorOf(notMine), { code: "FORBIDDEN", field: "actionId" });
  const empty = await gql(url, APPEAL, { token: user.accessToken, variables: { a: actionId, s: "   " } });
  assert.deepEqual(errorOf(empty), { code: "BAD_USER_INPUT", field: "statement" });
  const unknown = await gql(url, APPEAL, { token: user.accessToken, variables: { a: uuidv7(), s: "x" } });
  assert.deepEqual(errorOf(unknown), { code: "NOT_FOUND", field: "actionId" });
  const badId = await gql(url, APPEAL, { token: user.accessToken, variables: { a: "nope", s: "x" } });
  assert.deepEqual(errorOf(badId), { code: "BAD_USER_INPUT", field: "actionId" });

  const filed = await gql(url, APPEAL, { token: user.accessToken, variables: { a: actionId, s: "I was quoting" } });
  assert.equal(filed.body.errors, undefined, JSON.stringify(filed.body.errors));
  assert.equal(filed.body.data.appeal.state, "OPEN");
  const twice = await gql(url, APPEAL, { token: user.accessToken, variables: { a: actionId, s: "again" } });
  assert.deepEqual(errorOf(twice), { code: "CONFLICT", field: "actionId" });

  const appealId = filed.body.data.appeal.id as string;
  const byActor = await gql(url, DECIDE, {
    token: mod1.accessToken,
    variables: { id: appealId, d: "OVERTURNED", r: "ok" },
  });
  assert.deepEqual(errorOf(byActor), { code: "FORBIDDEN", field: "appealId" });
  const byUser = await gql(url, DECIDE, {
    token: user.accessToken,
    variables: { id: appealId, d: "OVERTURNED", r: "ok" },
  });
  assert.equal(errorOf(byUser).code, "FORBIDDEN");
  const noReason = await gql(url, DECIDE, { token: mod2.accessToken, variables: { id: appealId, d: "UPHELD", r: "" } });
  assert.deepEqual(errorOf(noReason), { code: "BAD_USER_INPUT", field: "reason" });
  const rpc = clientAs(nova, ModerationService, mod2.user.id, { moderator: true });
  try {
    await rpc.decideAppeal({ appealId, decision: AppealState.OPEN, reason: "x" });
    assert.fail("OPEN accepted as a decision");
  } catch (err) {
    assert.deepEqual(
      { code: fromError(err).code, field: fromError(err).field },
      { code: "VALIDATION_FAILED", field: "decision" },
    );
  }

  const upheld = await gql(url, DECIDE, {
    token: mod2.accessToken,
    variables: { id: appealId, d: "UPHELD", r: "it was rude" },
  });
  assert.equal(upheld.body.errors, undefined, JSON.stringify(upheld.body.errors));
  assert.equal(upheld.body.data.decideAppeal.state, "UPHELD");
  const again = await gql(url, DECIDE, {
    token: mod2.accessToken,
    variables: { id: appealId, d: "OVERTURNED", r: "x" },
  });
  assert.deepEqual(errorOf(again), { code: "CONFLICT", field: "appealId" });

  const audit = await db.query("SELECT entry, decision FROM moderation.audit_log WHERE action_id = $1 ORDER BY seq", [
    actionId,
  ]);
  assert.deepEqual(audit.rows, [
    { entry: "action", decision: "warn" },
    { entry: "appeal_filed", decision: "appeal" },
    { entry: "appeal_decided", decision: "upheld" },
  ]);
});

test("overturning a content removal's appeal is recorded; a dismissal cannot be appealed", async () => {
  const [mod1, mod2] = [await moderator(), await moderator()];
  const [author, reporter] = [await register(url), await register(url)];
  const postId = (await clientAs(nova, ContentService, author.user.id).createPost({ text: "fine art" })).post?.id;
  await gql(url, "mutation($i: ReportInput!) { report(input: $i) { folded } }", {
    token: reporter.accessToken,
    variables: { i: { subjectKind: "POST", subjectId: postId, category: "NUDITY" } },
  });
  const dismissed = await act(mod1, { subjectKind: "POST", subjectId: postId, action: "DISMISS" });
  const d = await gql(url, APPEAL, {
    token: author.accessToken,
    variables: { a: dismissed.body.data.moderate.id, s: "why" },
  });
  assert.deepEqual(errorOf(d), { code: "BAD_USER_INPUT", field: "actionId" });
  const marked = await act(mod1, {
    subjectKind: "POST",
    subjectId: postId,
    action: "MARK_SENSITIVE",
    reason: "nudity",
  });
  const filed = await gql(url, APPEAL, {
    token: author.accessToken,
    variables: { a: marked.body.data.moderate.id, s: "it is a statue" },
  });
  const decided = await gql(url, DECIDE, {
    token: mod2.accessToken,
    variables: { id: filed.body.data.appeal.id, d: "OVERTURNED", r: "a statue" },
  });
  assert.equal(decided.body.data.decideAppeal.state, "OVERTURNED");
});

test("an overturned suspension reinstates the account (identity applies it from the log)", async () => {
  const [mod1, mod2] = [await moderator(), await moderator()];
  const user = await register(url);
  // The appeal is filed before the suspension takes the account's sessions away.
  const rpcUser = clientAs(nova, ModerationService, user.user.id);
  const suspended = await act(mod1, {
    subjectKind: "ACCOUNT",
    subjectId: user.user.id,
    action: "SUSPEND",
    reason: "spam wave",
    days: 7,
  });
  const actionId = suspended.body.data.moderate.id as string;
  for (let i = 0; i < 200 && errorOf(await login(user)).code !== "ACCOUNT_SUSPENDED"; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(errorOf(await login(user)).code, "ACCOUNT_SUSPENDED");
  const filed = await rpcUser.fileAppeal({ actionId, statement: "my account was hacked" });
  const decided = await gql(url, DECIDE, {
    token: mod2.accessToken,
    variables: { id: filed.appeal?.id, d: "OVERTURNED", r: "hacked, restored" },
  });
  assert.equal(decided.body.errors, undefined, JSON.stringify(decided.body.errors));
  let back = await login(user);
  for (let i = 0; i < 200 && !back.body.data?.login; i++) {
    await new Promise((r) => setTimeout(r, 25));
    back = await login(user);
  }
  assert.ok(back.body.data?.login?.accessToken, JSON.stringify(back.body.errors));
  const standing = await db.query("SELECT count(*)::int AS n FROM moderation.standing WHERE user_id = $1", [
    user.user.id,
  ]);
  assert.equal(standing.rows[0].n, 0);
  const last = await db.query(
    "SELECT before, after FROM moderation.audit_log WHERE action_id = $1 AND entry = 'appeal_decided'",
    [actionId],
  );
  assert.deepEqual(last.rows[0], {
    before: { appeal: "open", standing: "suspended" },
    after: { appeal: "overturned", standing: "good" },
  });
});
