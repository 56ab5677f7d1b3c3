/**
 * Email verification and passwords end to end: Nova in this process with email verification
 * required and SMTP_URL set to the harness's Mailpit; every mail is read back through Mailpit's
 * HTTP API (test/mailpit.ts), and its link's token goes back through GraphQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Nova } from "../src/runtime/app.ts";
import { gql, services, startInProcess, unique } from "./helpers.ts";
import { tokenIn, waitForMail } from "./mailpit.ts";

let nova: Nova;
let url: string;
let mailpit: string;
const PASSWORD = "correct horse battery";

const SIGN_UP = `mutation($input: RegisterInput!) {
  signUp(input: $input) { verificationRequired accessToken refreshToken expiresIn user { id } }
}`;
const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }`;
const VERIFY = `mutation($token: String!) { verifyEmail(token: $token) { accessToken refreshToken user { id username } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }`;
const CREATE_POST = `mutation($input: CreatePostInput!) { createPost(input: $input) { id } }`;
const REQUEST_RESET = `mutation($email: String!) { requestPasswordReset(email: $email) }`;
const RESET = `mutation($token: String!, $p: String!) { resetPassword(token: $token, newPassword: $p) }`;
const CHANGE = `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`;
const REFRESH = `mutation($t: String!) { refreshToken(token: $t) { accessToken } }`;

// biome-ignore lint/suspicious/noExplicitAny: test convenience
function errorOf(body: any): { code: string; field?: string } {
  const e = body?.errors?.[0];
  assert.ok(e, `expected an error: ${JSON.stringify(body)}`);
  return { code: e.extensions?.code, field: e.extensions?.field };
}

/** A user signed up and verified through the link of their mail. */
async function verifiedUser() {
  const username = unique("lm");
  const email = `${username}@example.com`;
  const r = await gql(url, SIGN_UP, { variables: { input: { email, username, password: PASSWORD } } });
  assert.equal(r.body.data?.signUp.verificationRequired, true, JSON.stringify(r.body));
  const [mail] = await waitForMail(mailpit, email, { subject: /^Verify/ });
  const v = await gql(url, VERIFY, { variables: { token: tokenIn(mail as never) } });
  assert.ok(v.body.data?.verifyEmail.accessToken, JSON.stringify(v.body));
  return { username, email, ...(v.body.data.verifyEmail as { accessToken: string; refreshToken: string }) };
}

before(async () => {
  const s = await services();
  mailpit = s.mailpit;
  ({ nova, url } = await startInProcess({
    SMTP_URL: s.smtp,
    MAIL_FROM: "Nova <no-reply@nova.test>",
    PUBLIC_URL: "https://nova.test",
    IDENTITY_REQUIRE_VERIFIED_EMAIL: "true",
  }));
});

after(async () => {
  await nova?.stop();
});

describe("email verification through GraphQL and Mailpit", () => {
  test("signUp answers a new and a registered address alike; the link signs in and unlocks posting", async () => {
    const username = unique("lm");
    const email = `${username}@example.com`;
    const input = { email, username, password: PASSWORD };
    const fresh = await gql(url, SIGN_UP, { variables: { input } });
    const known = await gql(url, SIGN_UP, { variables: { input: { ...input, username: unique("lm") } } });
    const none = { verificationRequired: true, accessToken: null, refreshToken: null, expiresIn: null, user: null };
    assert.deepEqual(fresh.body, { data: { signUp: none } });
    assert.deepEqual(known.body, { data: { signUp: none } });
    // register answers both alike too (it has no session to give: the mail's link gives it).
    const reg = await gql(url, REGISTER, { variables: { input: { ...input, username: unique("lm") } } });
    assert.equal(errorOf(reg.body).code, "EMAIL_NOT_VERIFIED");

    const [verifyMail] = await waitForMail(mailpit, email, { subject: /^Verify your email/ });
    const attempts = await waitForMail(mailpit, email, { subject: /^Someone tried to sign up/, count: 2 });
    assert.match(attempts[0]?.Text ?? "", new RegExp(`already has an account \\(@${username}\\)`));
    assert.match(verifyMail?.HTML ?? "", /<a href="https:\/\/nova\.test\/verify-email\?token=/);

    // Signed in but unverified: reading works, posting does not.
    const login = await gql(url, LOGIN, { variables: { input: { identifier: username, password: PASSWORD } } });
    const unverified = login.body.data.login.accessToken as string;
    const refused = await gql(url, CREATE_POST, { token: unverified, variables: { input: { text: "hello" } } });
    assert.equal(errorOf(refused.body).code, "EMAIL_NOT_VERIFIED");
    const me = await gql(url, "{ me { email emailVerified } }", { token: unverified });
    assert.deepEqual(me.body, { data: { me: { email, emailVerified: false } } });

    const token = tokenIn(verifyMail as never);
    const v = await gql(url, VERIFY, { variables: { token } });
    assert.equal(v.body.data.verifyEmail.user.username, username);
    const posted = await gql(url, CREATE_POST, {
      token: v.body.data.verifyEmail.accessToken,
      variables: { input: { text: "hello, verified" } },
    });
    assert.ok(posted.body.data?.createPost.id, JSON.stringify(posted.body));
    const meNow = await gql(url, "{ me { emailVerified } }", { token: v.body.data.verifyEmail.accessToken });
    assert.deepEqual(meNow.body, { data: { me: { emailVerified: true } } });

    // Another account, signed in but unverified: no comment, no conversation either.
    const other = unique("lm");
    await gql(url, SIGN_UP, {
      variables: { input: { email: `${other}@example.com`, username: other, password: PASSWORD } },
    });
    const otherLogin = await gql(url, LOGIN, { variables: { input: { identifier: other, password: PASSWORD } } });
    const otherToken = otherLogin.body.data.login.accessToken as string;
    const comment = await gql(url, "mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }", {
      token: otherToken,
      variables: { i: { postId: posted.body.data.createPost.id, text: "hi" } },
    });
    assert.equal(errorOf(comment.body).code, "EMAIL_NOT_VERIFIED");
    const dm = await gql(url, "mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }", {
      token: otherToken,
      variables: { m: [v.body.data.verifyEmail.user.id] },
    });
    assert.equal(errorOf(dm.body).code, "EMAIL_NOT_VERIFIED");

    const reused = await gql(url, VERIFY, { variables: { token } });
    assert.deepEqual(errorOf(reused.body), { code: "BAD_USER_INPUT", field: "token" });
    const forged = await gql(url, VERIFY, { variables: { token: "A".repeat(43) } });
    assert.deepEqual(errorOf(forged.body), { code: "BAD_USER_INPUT", field: "token" });
  });
});

describe("passwords through GraphQL and Mailpit", () => {
  test("a reset mails a link that sets the password once and ends every session", async () => {
    const u = await verifiedUser();
    const nobody = await gql(url, REQUEST_RESET, { variables: { email: `nobody-${u.email}` } });
    const somebody = await gql(url, REQUEST_RESET, { variables: { email: u.email } });
    assert.deepEqual(nobody.body, somebody.body);
    assert.deepEqual(somebody.body, { data: { requestPasswordReset: true } });
    const [mail] = await waitForMail(mailpit, u.email, { subject: /^Reset your Nova password/ });
    const token = tokenIn(mail as never);
    // The session is in the gateway's cache of active sessions now.
    assert.equal((await gql(url, "{ me { id } }", { token: u.accessToken })).status, 200);
    const weak = await gql(url, RESET, { variables: { token, p: "short" } });
    assert.deepEqual(errorOf(weak.body), { code: "BAD_USER_INPUT", field: "newPassword" });
    const done = await gql(url, RESET, { variables: { token, p: "a brand new passphrase" } });
    assert.deepEqual(done.body, { data: { resetPassword: true } });
    const again = await gql(url, RESET, { variables: { token, p: "yet another passphrase" } });
    assert.deepEqual(errorOf(again.body), { code: "BAD_USER_INPUT", field: "token" });
    // Every session ended: its access token is refused at once, and its refresh token too.
    const meAfter = await gql(url, "{ me { id } }", { token: u.accessToken });
    assert.equal(meAfter.status, 401, JSON.stringify(meAfter.body));
    const refreshed = await gql(url, REFRESH, { variables: { t: u.refreshToken } });
    assert.equal(errorOf(refreshed.body).code, "TOKEN_INVALID");
    const login = await gql(url, LOGIN, {
      variables: { input: { identifier: u.username, password: "a brand new passphrase" } },
    });
    assert.ok(login.body.data?.login.accessToken, JSON.stringify(login.body));
    await waitForMail(mailpit, u.email, { subject: /^Your Nova password was changed/ });
  });

  test("a change needs the current password, ends the other sessions and mails the owner", async () => {
    const u = await verifiedUser();
    const other = await gql(url, LOGIN, { variables: { input: { identifier: u.username, password: PASSWORD } } });
    const wrong = await gql(url, CHANGE, {
      token: u.accessToken,
      variables: { c: "not the password", n: "a new one here" },
    });
    assert.deepEqual(errorOf(wrong.body), { code: "BAD_USER_INPUT", field: "currentPassword" });
    const ok = await gql(url, CHANGE, { token: u.accessToken, variables: { c: PASSWORD, n: "a new one here" } });
    assert.deepEqual(ok.body, { data: { changePassword: 1 } });
    const theirs = await gql(url, REFRESH, { variables: { t: other.body.data.login.refreshToken } });
    assert.equal(errorOf(theirs.body).code, "TOKEN_INVALID");
    const mine = await gql(url, REFRESH, { variables: { t: u.refreshToken } });
    assert.ok(mine.body.data?.refreshToken.accessToken, JSON.stringify(mine.body));
    const [mail] = await waitForMail(mailpit, u.email, { subject: /^Your Nova password was changed/ });
    assert.match(mail?.Text ?? "", /Every other session was signed out/);
  });

  test("reset mails are rate-limited per address at the gateway, with the field named", async () => {
    const email = `${unique("lm")}@example.com`;
    for (let i = 0; i < 5; i++) {
      const r = await gql(url, REQUEST_RESET, { variables: { email } });
      assert.deepEqual(r.body, { data: { requestPasswordReset: true } });
    }
    const over = await gql(url, REQUEST_RESET, { variables: { email: email.toUpperCase() } });
    assert.deepEqual(errorOf(over.body), { code: "RATE_LIMITED", field: "email" });
  });
});
