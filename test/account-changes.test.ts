/**
 * Username and address changes end to end through GraphQL: Nova in this process with a clock the
 * test moves (the 30-day cooldown and reservation, without sleeping), SMTP to the harness's Mailpit,
 * and search's projection read back to see that it follows a new username.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, services, startInProcess, unique } from "./helpers.ts";
import { tokenIn, waitForMail } from "./mailpit.ts";

let nova: Nova;
let url: string;
let mailpit: string;
let pool: pg.Pool;
const PASSWORD = "correct horse battery";
const DAY = 24 * 3_600_000;

let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

// Variables named as the arguments: a scalar's refusal names the variable.
const CHANGE_USERNAME = `mutation($username: Username!) { changeUsername(username: $username) { id username } }`;
const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { user { id } } }`;
const REQUEST = `mutation($password: String!, $newEmail: Email!) {
  requestEmailChange(password: $password, newEmail: $newEmail)
}`;
const CONFIRM = `mutation($t: String!) { confirmEmailChange(token: $t) { id email emailVerified } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken } }`;

// biome-ignore lint/suspicious/noExplicitAny: test convenience
function errorOf(body: any): { code: string; field?: string; message: string } {
  const e = body?.errors?.[0];
  assert.ok(e, `expected an error: ${JSON.stringify(body)}`);
  return { code: e.extensions?.code, field: e.extensions?.field, message: e.message };
}
const codeAndField = (body: unknown) => {
  const { code, field } = errorOf(body);
  return { code, field };
};

async function eventually(what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

before(async () => {
  const s = await services();
  mailpit = s.mailpit;
  pool = new pg.Pool({ connectionString: s.postgres, max: 2 });
  ({ nova, url } = await startInProcess(
    { SMTP_URL: s.smtp, MAIL_FROM: "Nova <no-reply@nova.test>", PUBLIC_URL: "https://nova.test" },
    { clock },
  ));
});

after(async () => {
  await nova?.stop();
  await pool?.end();
});

describe("username change through GraphQL", () => {
  test("the new name is the user's everywhere: lookups, the ProfileUpdated event and search's projection", async () => {
    const u = await register(url, unique("old"));
    const next = unique("new");
    const r = await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: next.toUpperCase() } });
    assert.deepEqual(r.body, { data: { changeUsername: { id: u.user.id, username: next } } });
    const byNew = await gql(url, "query($u: String!) { user(username: $u) { id } }", { variables: { u: next } });
    assert.deepEqual(byNew.body, { data: { user: { id: u.user.id } } });
    const byOld = await gql(url, "query($u: String!) { user(username: $u) { id } }", {
      variables: { u: u.user.username },
    });
    assert.deepEqual(byOld.body, { data: { user: null } });

    // The user event of the change carries the new name...
    const { rows } = await pool.query<{ envelope: { type: string; payload: { username: string } } }>(
      "SELECT envelope FROM identity.outbox WHERE key = $1 ORDER BY seq",
      [u.user.id],
    );
    const updated = rows.map((x) => x.envelope).filter((e) => e.type === "ProfileUpdated");
    assert.equal(updated.at(-1)?.payload.username, next);
    // ...and search's consumer applies it: the projection has it, and a search by it finds the user.
    await eventually("search has the new name", async () => {
      const doc = await pool.query<{ username: string }>("SELECT username FROM search.users WHERE user_id = $1", [
        u.user.id,
      ]);
      return doc.rows[0]?.username === next;
    });
    const found = await gql(
      url,
      `query($q: String!) { search(query: $q, type: USERS) { edges { node { ... on User { id username } } } } }`,
      {
        variables: { q: next },
      },
    );
    assert.deepEqual(found.body.data.search.edges[0]?.node, { id: u.user.id, username: next });
  });

  test("the old name is reserved for its owner (others are told it is taken); one change per 30 days", async () => {
    const u = await register(url, unique("res"));
    const old = u.user.username;
    const other = await register(url);
    const taken = await register(url);
    assert.equal(
      (await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: unique("mid") } })).body.errors,
      undefined,
    );
    // Someone else asking for the reserved name, or signing up with it, gets a used name's answer.
    const inUse = await gql(url, CHANGE_USERNAME, {
      token: other.accessToken,
      variables: { username: taken.user.username },
    });
    const reserved = await gql(url, CHANGE_USERNAME, { token: other.accessToken, variables: { username: old } });
    assert.deepEqual(codeAndField(inUse.body), { code: "CONFLICT", field: "username" });
    assert.deepEqual(errorOf(reserved.body), errorOf(inUse.body));
    const signUp = await gql(url, REGISTER, {
      variables: { input: { email: `${unique("e")}@example.com`, username: old, password: PASSWORD } },
    });
    assert.deepEqual(codeAndField(signUp.body), { code: "CONFLICT", field: "username" });

    // A second change within 30 days is refused, naming the field.
    const soon = await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: unique("two") } });
    assert.deepEqual(codeAndField(soon.body), { code: "BAD_USER_INPUT", field: "username" });
    assert.match(errorOf(soon.body).message, /can be changed again from/);
    // 31 days on, the owner may take the old name back.
    offsetMs += 31 * DAY;
    const back = await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: old } });
    assert.deepEqual(back.body, { data: { changeUsername: { id: u.user.id, username: old } } });
  });

  test("a reservation ends after 30 days: then the name is anyone's", async () => {
    const u = await register(url, unique("exp"));
    const old = u.user.username;
    await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: unique("exq") } });
    const other = await register(url);
    offsetMs += 31 * DAY;
    const r = await gql(url, CHANGE_USERNAME, { token: other.accessToken, variables: { username: old } });
    assert.deepEqual(r.body, { data: { changeUsername: { id: other.user.id, username: old } } });
  });

  test("at once: of two users asking for one name one gets it; of two changes by one user one is made", async () => {
    const [a, b] = await Promise.all([register(url), register(url)]);
    const name = unique("race");
    const both = await Promise.all(
      [a, b].map((u) => gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: name } })),
    );
    const won = both.filter((r) => r.body.data?.changeUsername.username === name);
    assert.equal(won.length, 1, JSON.stringify(both.map((r) => r.body)));
    assert.deepEqual(codeAndField(both.find((r) => r !== won[0])?.body), { code: "CONFLICT", field: "username" });

    const c = await register(url);
    const twice = await Promise.all(
      [unique("one"), unique("two")].map((n) =>
        gql(url, CHANGE_USERNAME, { token: c.accessToken, variables: { username: n } }),
      ),
    );
    const made = twice.filter((r) => r.body.data?.changeUsername);
    assert.equal(made.length, 1, JSON.stringify(twice.map((r) => r.body)));
    assert.deepEqual(codeAndField(twice.find((r) => r !== made[0])?.body), {
      code: "BAD_USER_INPUT",
      field: "username",
    });
  });

  test("bad input names the field", async () => {
    const u = await register(url);
    const same = await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: u.user.username } });
    assert.deepEqual(codeAndField(same.body), { code: "BAD_USER_INPUT", field: "username" });
    const short = await gql(url, CHANGE_USERNAME, { token: u.accessToken, variables: { username: "ab" } });
    assert.deepEqual(codeAndField(short.body), { code: "BAD_USER_INPUT", field: "username" });
    const anon = await gql(url, CHANGE_USERNAME, { variables: { username: unique("x") } });
    assert.equal(errorOf(anon.body).code, "UNAUTHENTICATED");
  });
});

describe("email change through GraphQL and Mailpit", () => {
  test("the password asks; a link to the new address confirms; the old address is told", async () => {
    const u = await register(url);
    const oldEmail = `${u.user.username}@example.com`;
    const newEmail = `${unique("moved")}@example.net`;
    const wrong = await gql(url, REQUEST, {
      token: u.accessToken,
      variables: { password: "not the password", newEmail: newEmail },
    });
    assert.deepEqual(codeAndField(wrong.body), { code: "BAD_USER_INPUT", field: "password" });
    const bad = await gql(url, REQUEST, {
      token: u.accessToken,
      variables: { password: PASSWORD, newEmail: "not an address" },
    });
    assert.deepEqual(codeAndField(bad.body), { code: "BAD_USER_INPUT", field: "newEmail" });
    const same = await gql(url, REQUEST, {
      token: u.accessToken,
      variables: { password: PASSWORD, newEmail: oldEmail },
    });
    assert.deepEqual(codeAndField(same.body), { code: "BAD_USER_INPUT", field: "newEmail" });

    const ok = await gql(url, REQUEST, { token: u.accessToken, variables: { password: PASSWORD, newEmail: newEmail } });
    assert.deepEqual(ok.body, { data: { requestEmailChange: true } });
    const [mail] = await waitForMail(mailpit, newEmail, { subject: /^Confirm your new address/ });
    assert.match(mail?.HTML ?? "", /<a href="https:\/\/nova\.test\/confirm-email\?token=/);
    // Nothing changed yet.
    const before = await gql(url, "{ me { email } }", { token: u.accessToken });
    assert.deepEqual(before.body, { data: { me: { email: oldEmail } } });

    const token = tokenIn(mail as never);
    const done = await gql(url, CONFIRM, { variables: { t: token } });
    assert.deepEqual(done.body, {
      data: { confirmEmailChange: { id: u.user.id, email: newEmail, emailVerified: true } },
    });
    const [notice] = await waitForMail(mailpit, oldEmail, { subject: /^The address of your Nova account was changed/ });
    assert.match(notice?.Text ?? "", /was changed to m\*\*\*@example\.net/);
    assert.ok(!(notice?.Text ?? "").includes(newEmail), "the old address is not told the new one in full");

    const byNew = await gql(url, LOGIN, { variables: { input: { identifier: newEmail, password: PASSWORD } } });
    assert.ok(byNew.body.data?.login.accessToken, JSON.stringify(byNew.body));
    const byOld = await gql(url, LOGIN, { variables: { input: { identifier: oldEmail, password: PASSWORD } } });
    assert.equal(errorOf(byOld.body).code, "INVALID_CREDENTIALS");
    const reused = await gql(url, CONFIRM, { variables: { t: token } });
    assert.deepEqual(codeAndField(reused.body), { code: "BAD_USER_INPUT", field: "token" });
    const forged = await gql(url, CONFIRM, { variables: { t: "A".repeat(43) } });
    assert.deepEqual(codeAndField(forged.body), { code: "BAD_USER_INPUT", field: "token" });
  });

  test("an address that has an account gets the same answer; its link changes nothing", async () => {
    const u = await register(url);
    const owner = await register(url);
    const theirs = `${owner.user.username}@example.com`;
    const free = `${unique("free")}@example.com`;
    const a = await gql(url, REQUEST, { token: u.accessToken, variables: { password: PASSWORD, newEmail: theirs } });
    const b = await gql(url, REQUEST, { token: u.accessToken, variables: { password: PASSWORD, newEmail: free } });
    assert.deepEqual(a.body, b.body);
    assert.deepEqual(a.body, { data: { requestEmailChange: true } });
    // Only the reader of that address's mail learns, by using the link, that it cannot be moved.
    const [mail] = await waitForMail(mailpit, theirs, { subject: /^Confirm your new address/ });
    const r = await gql(url, CONFIRM, { variables: { t: tokenIn(mail as never) } });
    assert.deepEqual(codeAndField(r.body), { code: "BAD_USER_INPUT", field: "token" });
    const me = await gql(url, "{ me { email } }", { token: u.accessToken });
    assert.deepEqual(me.body, { data: { me: { email: `${u.user.username}@example.com` } } });
  });
});
