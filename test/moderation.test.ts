/**
 * Reports and the moderation queue, in the embedded topology on real PostgreSQL: through the
 * gateway (a moderator's role comes from their access token) and through the moderation
 * service's RPCs directly for the inputs GraphQL's own types would refuse first.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import pg from "pg";
import { ContentService } from "../src/gen/nova/content/v1/content_pb.ts";
import { MessagingService } from "../src/gen/nova/messaging/v1/messaging_pb.ts";
import {
  Category,
  CreateReportRequestSchema,
  ModerationService,
  SubjectKind,
} from "../src/gen/nova/moderation/v1/moderation_pb.ts";
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

const REPORT = `mutation($i: ReportInput!) { report(input: $i) { folded report { id subjectKind subjectId category
  comment state reporter { id } messages { messageId text encrypted sender { id } } } } }`;
const QUEUE = `query($first: Int, $after: String, $kind: ReportSubjectKind, $category: ReportCategory, $state: ReportState) {
  moderationQueue(first: $first, after: $after, subjectKind: $kind, category: $category, state: $state) {
    edges { cursor node { subjectKind subjectId state reportCount categories subjectUser { id }
      reports { id category comment reporter { id } } } }
    pageInfo { hasNextPage endCursor } } }`;

const report = (u: U, i: Record<string, unknown>) => gql(url, REPORT, { token: u.accessToken, variables: { i } });
const queue = (u: U, variables: Record<string, unknown> = {}) =>
  gql(url, QUEUE, { token: u.accessToken, variables: { first: 100, ...variables } });

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

/** A user whose role is set in identity and who signs in again, so the new access token carries it. */
async function withRole(role: "moderator" | "admin"): Promise<U> {
  const u = await register(url);
  await db.query("UPDATE identity.users SET role = $2 WHERE id = $1", [u.user.id, role]);
  const r = await gql(
    url,
    `mutation { login(input: {identifier: "${u.user.username}", password: "correct horse battery"}) { accessToken } }`,
  );
  return { ...u, accessToken: r.body.data.login.accessToken };
}

async function postOf(u: U, text = "a post"): Promise<string> {
  const res = await clientAs(nova, ContentService, u.user.id).createPost({ text });
  return res.post?.id as string;
}

/** The moderation service as `u` (for inputs the GraphQL types cannot carry). */
const moderationAs = (u: U) => clientAs(nova, ModerationService, u.user.id);

async function rpcError(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = fromError(err);
    return { code: e.code, field: e.field };
  }
  throw new Error("expected the call to fail");
}

const entryOf = (
  r: { body: { data: { moderationQueue: { edges: { node: { subjectId: string } }[] } } } },
  id: string,
) =>
  r.body.data.moderationQueue.edges.map((e) => e.node).find((n) => n.subjectId === id) as
    | { reportCount: number; categories: string[]; state: string; subjectUser: { id: string }; reports: unknown[] }
    | undefined;

describe("reports", () => {
  test("a report of a post is filed; the same reporter's second one folds into it", async () => {
    const [author, reporter] = [await register(url), await register(url)];
    const postId = await postOf(author);
    const first = await report(reporter, { subjectKind: "POST", subjectId: postId, category: "SPAM" });
    assert.equal(first.body.errors, undefined, JSON.stringify(first.body.errors));
    const r1 = first.body.data.report;
    assert.equal(r1.folded, false);
    assert.deepEqual(
      { kind: r1.report.subjectKind, id: r1.report.subjectId, category: r1.report.category, state: r1.report.state },
      { kind: "POST", id: postId, category: "SPAM", state: "OPEN" },
    );
    assert.equal(r1.report.reporter.id, reporter.user.id);

    const again = await report(reporter, {
      subjectKind: "POST",
      subjectId: postId,
      category: "HARASSMENT",
      comment: "  keeps posting this  ",
    });
    const r2 = again.body.data.report;
    assert.equal(r2.folded, true);
    assert.equal(r2.report.id, r1.report.id, "the same report, updated");
    assert.equal(r2.report.category, "HARASSMENT");
    assert.equal(r2.report.comment, "keeps posting this");
    const rows = await db.query(
      "SELECT count(*)::int AS n FROM moderation.reports r JOIN moderation.subjects s ON s.id = r.subject_ref WHERE s.subject_id = $1",
      [postId],
    );
    assert.equal(rows.rows[0].n, 1);
  });

  test("a comment and an account can be reported; one's own never", async () => {
    const [author, reporter] = [await register(url), await register(url)];
    const postId = await postOf(author);
    const comment = await clientAs(nova, ContentService, author.user.id).createComment({ postId, text: "mean" });
    const commentId = comment.comment?.id as string;
    const c = await report(reporter, { subjectKind: "COMMENT", subjectId: commentId, category: "HATE" });
    assert.equal(c.body.data?.report.report.subjectId, commentId, JSON.stringify(c.body.errors));
    const a = await report(reporter, { subjectKind: "ACCOUNT", subjectId: author.user.id, category: "OTHER" });
    assert.equal(a.body.data?.report.report.subjectId, author.user.id, JSON.stringify(a.body.errors));

    for (const [kind, id] of [
      ["POST", postId],
      ["COMMENT", commentId],
      ["ACCOUNT", author.user.id],
    ] as const) {
      const own = await report(author, { subjectKind: kind, subjectId: id, category: "SPAM" });
      assert.deepEqual(errorOf(own), { code: "FORBIDDEN", field: "subjectId" }, `own ${kind}`);
    }
  });

  test("a subject that does not exist (or was deleted) is NOT_FOUND naming subjectId", async () => {
    const [author, reporter] = [await register(url), await register(url)];
    const postId = await postOf(author);
    await clientAs(nova, ContentService, author.user.id).deletePost({ postId });
    for (const [kind, id] of [
      ["POST", postId],
      ["POST", uuidv7()],
      ["COMMENT", uuidv7()],
      ["ACCOUNT", uuidv7()],
      ["MESSAGE", uuidv7()],
    ] as const) {
      const messages = kind === "MESSAGE" ? [{ messageId: id }] : undefined;
      const r = await report(reporter, { subjectKind: kind, subjectId: id, category: "SPAM", messages });
      assert.deepEqual(errorOf(r), { code: "NOT_FOUND", field: "subjectId" }, `${kind} ${id}`);
    }
  });

  test("messages: attached as the reporter sees them, the stored text for plain ones, theirs for encrypted", async () => {
    const [sender, reporter, outsider] = [await register(url), await register(url), await register(url)];
    const asSender = clientAs(nova, MessagingService, sender.user.id);
    const conv = await asSender.createConversation({ memberIds: [reporter.user.id] });
    const conversationId = conv.conversation?.id as string;
    const key = await clientAs(nova, MessagingService, reporter.user.id).uploadPublicKey({
      publicKey: randomBytes(32).toString("base64"),
    });
    const plain = await asSender.sendMessage({ conversationId, text: "you will regret it", clientMessageId: "m1" });
    const sealed = await asSender.sendMessage({
      conversationId,
      text: "",
      clientMessageId: "m2",
      ciphertext: randomBytes(48),
      keyId: key.key?.keyId as string,
    });
    const plainId = plain.message?.id as string;
    const sealedId = sealed.message?.id as string;

    const missingText = await report(reporter, {
      subjectKind: "MESSAGE",
      subjectId: sealedId,
      category: "HARASSMENT",
      messages: [{ messageId: plainId }, { messageId: sealedId }],
    });
    assert.deepEqual(errorOf(missingText), { code: "BAD_USER_INPUT", field: "messages[1].text" });

    const r = await report(reporter, {
      subjectKind: "MESSAGE",
      subjectId: sealedId,
      category: "HARASSMENT",
      messages: [
        { messageId: plainId, text: "something else" },
        { messageId: sealedId, text: "I know where you live" },
      ],
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    assert.deepEqual(
      r.body.data.report.report.messages.map((m: { text: string; encrypted: boolean; sender: { id: string } }) => [
        m.text,
        m.encrypted,
        m.sender.id,
      ]),
      [
        ["you will regret it", false, sender.user.id],
        ["I know where you live", true, sender.user.id],
      ],
    );

    // Someone outside the conversation cannot attach (or even see) its messages.
    const outside = await report(outsider, {
      subjectKind: "MESSAGE",
      subjectId: plainId,
      category: "SPAM",
      messages: [{ messageId: plainId }],
    });
    assert.deepEqual(errorOf(outside), { code: "NOT_FOUND", field: "subjectId" });
    // The sender cannot report their own message.
    const own = await report(sender, {
      subjectKind: "MESSAGE",
      subjectId: plainId,
      category: "SPAM",
      messages: [{ messageId: plainId }],
    });
    assert.deepEqual(errorOf(own), { code: "FORBIDDEN", field: "subjectId" });
    // A message of another conversation of the reporter's is refused by its index.
    const other = await clientAs(nova, MessagingService, outsider.user.id).createConversation({
      memberIds: [reporter.user.id],
    });
    const elsewhere = await clientAs(nova, MessagingService, outsider.user.id).sendMessage({
      conversationId: other.conversation?.id as string,
      text: "hi",
      clientMessageId: "x1",
    });
    const mixed = await report(reporter, {
      subjectKind: "MESSAGE",
      subjectId: plainId,
      category: "SPAM",
      messages: [{ messageId: plainId }, { messageId: elsewhere.message?.id }],
    });
    assert.deepEqual(errorOf(mixed), { code: "BAD_USER_INPUT", field: "messages[1].messageId" });
  });

  test("every bad field is refused with VALIDATION_FAILED naming it, and nothing is stored", async () => {
    const [author, reporter] = [await register(url), await register(url)];
    const postId = await postOf(author);
    const rpc = moderationAs(reporter);
    const ok = { subjectKind: SubjectKind.POST, subjectId: postId, category: Category.SPAM };
    const cases: [string, Record<string, unknown>][] = [
      ["subjectKind", { subjectKind: SubjectKind.UNSPECIFIED }],
      ["subjectKind", { subjectKind: 99 }],
      ["subjectId", { subjectId: "" }],
      ["subjectId", { subjectId: "not-an-id" }],
      ["category", { category: Category.UNSPECIFIED }],
      ["category", { category: 42 }],
      ["comment", { comment: "x".repeat(1_001) }],
      ["comment", { comment: "bell\u0007" }],
      ["comment", { comment: "nul\u0000" }],
      ["messages", { messages: [{ messageId: uuidv7(), text: "" }] }],
      ["messages", { subjectKind: SubjectKind.MESSAGE, subjectId: uuidv7(), messages: [] }],
      [
        "messages",
        {
          subjectKind: SubjectKind.MESSAGE,
          subjectId: uuidv7(),
          messages: Array.from({ length: 21 }, () => ({ messageId: uuidv7(), text: "" })),
        },
      ],
      ["messages", { subjectKind: SubjectKind.MESSAGE, subjectId: uuidv7(), messages: [{ messageId: uuidv7() }] }],
      [
        "messages[0].messageId",
        { subjectKind: SubjectKind.MESSAGE, subjectId: uuidv7(), messages: [{ messageId: "x" }] },
      ],
      [
        "messages[0].text",
        {
          subjectKind: SubjectKind.MESSAGE,
          subjectId: "0190aaaa-0000-7000-8000-000000000001",
          messages: [{ messageId: "0190aaaa-0000-7000-8000-000000000001", text: "y".repeat(4_001) }],
        },
      ],
    ];
    for (const [field, change] of cases) {
      const req = create(CreateReportRequestSchema, { ...ok, ...change } as never);
      assert.deepEqual(
        await rpcError(rpc.createReport(req)),
        { code: "VALIDATION_FAILED", field },
        JSON.stringify(change),
      );
    }
    const dup = uuidv7();
    assert.deepEqual(
      await rpcError(
        rpc.createReport({
          subjectKind: SubjectKind.MESSAGE,
          subjectId: dup,
          category: Category.SPAM,
          messages: [{ messageId: dup }, { messageId: dup }],
        }),
      ),
      { code: "VALIDATION_FAILED", field: "messages" },
    );
    const stored = await db.query("SELECT count(*)::int AS n FROM moderation.reports WHERE reporter_id = $1", [
      reporter.user.id,
    ]);
    assert.equal(stored.rows[0].n, 0);
    // Signed out: no report at all.
    const anon = await gql(url, REPORT, {
      variables: { i: { subjectKind: "POST", subjectId: postId, category: "SPAM" } },
    });
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
  });

  test("a reporter has a budget of 20 reports an hour (folds count); the next is RATE_LIMITED", async () => {
    const [author, reporter] = [await register(url), await register(url)];
    const rpc = moderationAs(reporter);
    const posts: string[] = [];
    for (let i = 0; i < 21; i++) posts.push(await postOf(author, `post ${i}`));
    for (const subjectId of posts.slice(0, 20)) {
      await rpc.createReport({ subjectKind: SubjectKind.POST, subjectId, category: Category.SPAM });
    }
    const over = await rpcError(
      rpc.createReport({ subjectKind: SubjectKind.POST, subjectId: posts[20] as string, category: Category.SPAM }),
    );
    assert.equal(over.code, "RATE_LIMITED");
    // Another reporter's budget is their own.
    const other = await register(url);
    const r = await moderationAs(other).createReport({
      subjectKind: SubjectKind.POST,
      subjectId: posts[20] as string,
      category: Category.SPAM,
    });
    assert.equal(r.folded, false);
  });
});

describe("the moderation queue", () => {
  test("only moderators and admins see it", async () => {
    const user = await register(url);
    assert.deepEqual(errorOf(await queue(user)), { code: "FORBIDDEN", field: undefined });
    const anon = await gql(url, QUEUE, { variables: { first: 5 } });
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
    for (const role of ["moderator", "admin"] as const) {
      const r = await queue(await withRole(role));
      assert.equal(r.body.errors, undefined, `${role}: ${JSON.stringify(r.body.errors)}`);
    }
  });

  test("reports are grouped by subject, most recently reported first, with filters and keyset pages", async () => {
    const mod = await withRole("moderator");
    const [author, r1, r2] = [await register(url), await register(url), await register(url)];
    const [a, b, c] = [await postOf(author, "a"), await postOf(author, "b"), await postOf(author, "c")];
    await report(r1, { subjectKind: "POST", subjectId: a, category: "SPAM" });
    await report(r1, { subjectKind: "POST", subjectId: b, category: "NUDITY" });
    await report(r1, { subjectKind: "POST", subjectId: c, category: "SPAM" });
    await report(r2, { subjectKind: "POST", subjectId: a, category: "VIOLENCE", comment: "graphic" });
    await report(r2, { subjectKind: "ACCOUNT", subjectId: author.user.id, category: "SPAM" });

    // Newest first: the account, then a (reported again last), c, b.
    const page1 = await queue(mod, { first: 2 });
    assert.equal(page1.body.errors, undefined, JSON.stringify(page1.body.errors));
    const ids1 = page1.body.data.moderationQueue.edges.map((e: { node: { subjectId: string } }) => e.node.subjectId);
    assert.deepEqual(ids1, [author.user.id, a]);
    assert.equal(page1.body.data.moderationQueue.pageInfo.hasNextPage, true);
    const page2 = await queue(mod, { first: 2, after: page1.body.data.moderationQueue.pageInfo.endCursor });
    const ids2 = page2.body.data.moderationQueue.edges.map((e: { node: { subjectId: string } }) => e.node.subjectId);
    assert.deepEqual(ids2, [c, b]);

    const entryA = entryOf(page1, a);
    assert.ok(entryA);
    assert.equal(entryA.reportCount, 2);
    assert.deepEqual(entryA.categories, ["SPAM", "VIOLENCE"]);
    assert.equal(entryA.subjectUser.id, author.user.id);
    assert.equal(entryA.state, "OPEN");
    assert.deepEqual(
      (entryA.reports as { reporter: { id: string }; comment: string }[]).map((r) => [r.reporter.id, r.comment]),
      [
        [r2.user.id, "graphic"],
        [r1.user.id, ""],
      ],
      "newest report first",
    );

    const byCategory = await queue(mod, { category: "NUDITY" });
    assert.ok(entryOf(byCategory, b));
    assert.equal(entryOf(byCategory, a), undefined);
    const byKind = await queue(mod, { kind: "ACCOUNT" });
    assert.ok(entryOf(byKind, author.user.id));
    assert.equal(entryOf(byKind, a), undefined);
    const dismissed = await queue(mod, { state: "DISMISSED" });
    assert.equal(entryOf(dismissed, a), undefined, "nothing is dismissed yet");

    const bad = await queue(mod, { after: "bm90LWEtY3Vyc29y" });
    assert.deepEqual(errorOf(bad), { code: "BAD_USER_INPUT", field: "cursor" });
    const tooMany = await queue(mod, { first: 101 });
    assert.deepEqual(errorOf(tooMany), { code: "BAD_USER_INPUT", field: "first" });
  });
});
