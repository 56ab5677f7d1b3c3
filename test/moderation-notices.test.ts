/**
 * What moderation tells people (issue 20 part 2: "the author is told", "the reporter learns the
 * outcome"), embedded, through GraphQL: a removal notifies the author with the action (reason, the
 * subject, no moderator named) whose id their appeal names; every reporter learns whether their
 * report led to an action or was dismissed; nobody else can read an action through the notices.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, services, startInProcess } from "./helpers.ts";

type U = Awaited<ReturnType<typeof register>>;

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

interface Node {
  type: string;
  actorCount: number;
  actors: { id: string }[];
  moderationAction: {
    id: string;
    action: string;
    reason: string;
    subjectKind: string;
    subjectId: string;
    actor: { id: string } | null;
    user: { id: string } | null;
  } | null;
}

const LIST = `{ notifications(first: 50) { edges { node { type actorCount actors { id }
  moderationAction { id action reason subjectKind subjectId actor { id } user { id } } } } } }`;

async function inbox(u: U): Promise<Node[]> {
  const r = await gql(url, LIST, { token: u.accessToken });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.notifications.edges.map((e: { node: Node }) => e.node);
}

async function eventually(u: U, what: string, cond: (n: Node[]) => boolean): Promise<Node[]> {
  const end = Date.now() + 60_000;
  for (;;) {
    const n = await inbox(u);
    if (cond(n)) return n;
    if (Date.now() > end) assert.fail(`timed out: ${what}: ${JSON.stringify(n)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const as = (u: U, query: string, variables: Record<string, unknown>) =>
  gql(url, query, { token: u.accessToken, variables });

async function moderator(): Promise<U> {
  const u = await register(url);
  await db.query("UPDATE identity.users SET role = 'moderator' WHERE id = $1", [u.user.id]);
  const r = await gql(url, `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, {
    variables: { i: { identifier: u.user.username, password: "correct horse battery" } },
  });
  return { ...u, accessToken: r.body.data.login.accessToken };
}

const post = async (u: U, text: string) =>
  (await as(u, `mutation($i: CreatePostInput!) { createPost(input: $i) { id } }`, { i: { text } })).body.data.createPost
    .id as string;
const report = async (u: U, subjectId: string) => {
  const r = await as(u, `mutation($i: ReportInput!) { report(input: $i) { report { id } } }`, {
    i: { subjectKind: "POST", subjectId, category: "SPAM" },
  });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
};
const moderate = async (m: U, subjectId: string, action: string, reason = "") => {
  const r = await as(m, `mutation($i: ModerationActionInput!) { moderate(input: $i) { id } }`, {
    i: { subjectKind: "POST", subjectId, action, reason },
  });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.moderate.id as string;
};

describe("moderation's notices", () => {
  test("a removal tells the author (no moderator named) and every reporter; the author appeals from the notice", async () => {
    const [author, r1, r2, bystander, mod] = [
      await register(url),
      await register(url),
      await register(url),
      await register(url),
      await moderator(),
    ];
    const p = await post(author, "buy cheap followers");
    await report(r1, p);
    await report(r2, p);
    const actionId = await moderate(mod, p, "REMOVE", "spam");

    const told = await eventually(author, "the author's notice", (n) => n.some((x) => x.type === "MODERATION"));
    const notice = told.find((x) => x.type === "MODERATION");
    assert.deepEqual(notice, {
      type: "MODERATION",
      actorCount: 0,
      actors: [],
      moderationAction: {
        id: actionId,
        action: "REMOVE",
        reason: "spam",
        subjectKind: "POST",
        subjectId: p,
        actor: null,
        user: { id: author.user.id },
      },
    });
    for (const r of [r1, r2]) {
      const n = await eventually(r, "the reporter's outcome", (x) => x.some((y) => y.type === "REPORT_ACTIONED"));
      assert.deepEqual(
        n.map((x) => [x.type, x.actors, x.moderationAction]),
        [["REPORT_ACTIONED", [], null]],
        "the reporter learns the outcome, not the moderator or the reason",
      );
    }
    assert.deepEqual(await inbox(bystander), []);

    // The notice's action id is what the appeal names.
    const appeal = await as(author, `mutation($a: ID!) { appeal(actionId: $a, statement: "it was a joke") { id } }`, {
      a: notice?.moderationAction?.id,
    });
    assert.equal(appeal.body.errors, undefined, JSON.stringify(appeal.body.errors));
  });

  test("a dismissal tells the reporter only; a warning tells the account", async () => {
    const [author, reporter, mod] = [await register(url), await register(url), await moderator()];
    const p = await post(author, "a fine post");
    await report(reporter, p);
    await moderate(mod, p, "DISMISS");
    await eventually(reporter, "dismissed", (n) => n.some((x) => x.type === "REPORT_DISMISSED"));

    const warning = await as(mod, `mutation($i: ModerationActionInput!) { moderate(input: $i) { id } }`, {
      i: { subjectKind: "ACCOUNT", subjectId: author.user.id, action: "WARN", reason: "be kind" },
    });
    assert.equal(warning.body.errors, undefined, JSON.stringify(warning.body.errors));
    const n = await eventually(author, "warned", (x) => x.some((y) => y.type === "MODERATION"));
    assert.deepEqual(
      n.map((x) => [x.type, x.moderationAction?.action, x.moderationAction?.reason]),
      [["MODERATION", "WARN", "be kind"]],
      "a dismissal tells the author nothing; the warning does",
    );
  });
});
