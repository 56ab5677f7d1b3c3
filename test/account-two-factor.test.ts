/**
 * Two-factor sign-in end to end through GraphQL: Nova in this process with a clock the test moves
 * (no sleeps: TOTP steps, challenge expiry and the lockout all read it), SMTP to the harness's
 * Mailpit. Codes are made here from the enrolment's secret with otplib, as an authenticator app would.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generate } from "otplib";
import pg from "pg";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, services, startInProcess } from "./helpers.ts";
import { waitForMail } from "./mailpit.ts";

let nova: Nova;
let url: string;
let mailpit: string;
let pool: pg.Pool;
const PASSWORD = "correct horse battery";

/** The clock identity reads: real time plus what the test moved it by. */
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const move = (ms: number) => {
  offsetMs += ms;
};

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken } }`;
const SIGN_IN = `mutation($input: LoginInput!) {
  signIn(input: $input) { twoFactorRequired challenge challengeExpiresIn accessToken refreshToken user { id } }
}`;
const COMPLETE = `mutation($c: String!, $code: String!) {
  completeSignIn(challenge: $c, code: $code) { accessToken refreshToken user { id username } }
}`;
const BEGIN = `mutation($p: String!) { beginTwoFactorEnrollment(password: $p) { otpauthUri qrCode secret } }`;
const CONFIRM = `mutation($code: String!) { confirmTwoFactorEnrollment(code: $code) }`;
const DISABLE = `mutation($code: String!) { disableTwoFactor(code: $code) }`;
const STATUS = `{ me { twoFactorEnabled } }`;

// biome-ignore lint/suspicious/noExplicitAny: test convenience
function errorOf(body: any): { code: string; field?: string; message: string } {
  const e = body?.errors?.[0];
  assert.ok(e, `expected an error: ${JSON.stringify(body)}`);
  return { code: e.extensions?.code, field: e.extensions?.field, message: e.message };
}

/** The code an authenticator app shows now (by the test's clock). */
const codeNow = (secret: string) => generate({ secret, epoch: Math.floor(clock() / 1000) });

/** A wrong 6-digit code: one that is not the right one for any step near now. */
async function wrongCode(secret: string): Promise<string> {
  const near = await Promise.all([-30, 0, 30].map((s) => generate({ secret, epoch: Math.floor(clock() / 1000) + s })));
  for (let n = 0; ; n++) {
    const c = String(n).padStart(6, "0");
    if (!near.includes(c)) return c;
  }
}

/** A user with two-factor sign-in on: its secret and recovery codes. */
async function enrolled() {
  const u = await register(url);
  const begin = await gql(url, BEGIN, { token: u.accessToken, variables: { p: PASSWORD } });
  const secret = begin.body.data?.beginTwoFactorEnrollment.secret as string;
  assert.ok(secret, JSON.stringify(begin.body));
  const confirm = await gql(url, CONFIRM, { token: u.accessToken, variables: { code: await codeNow(secret) } });
  const recoveryCodes = confirm.body.data?.confirmTwoFactorEnrollment as string[];
  assert.equal(recoveryCodes?.length, 10, JSON.stringify(confirm.body));
  // The enrolment's code has used this step: the next sign-in's code is the next step's.
  move(30_000);
  return { ...u, username: u.user.username, email: `${u.user.username}@example.com`, secret, recoveryCodes };
}

async function challengeFor(username: string): Promise<string> {
  const r = await gql(url, SIGN_IN, { variables: { input: { identifier: username, password: PASSWORD } } });
  assert.equal(r.body.data?.signIn.twoFactorRequired, true, JSON.stringify(r.body));
  return r.body.data.signIn.challenge as string;
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

describe("two-factor enrolment through GraphQL", () => {
  test("the password begins it; a first code confirms it and answers ten recovery codes; the owner is mailed", async () => {
    const u = await register(url);
    const wrong = await gql(url, BEGIN, { token: u.accessToken, variables: { p: "not the password" } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(wrong.body)), {
      code: "BAD_USER_INPUT",
      field: "password",
    });
    const begin = await gql(url, BEGIN, { token: u.accessToken, variables: { p: PASSWORD } });
    const e = begin.body.data.beginTwoFactorEnrollment as { otpauthUri: string; qrCode: string; secret: string };
    assert.match(e.secret, /^[A-Z2-7]{32}$/);
    const uri = new URL(e.otpauthUri);
    assert.equal(uri.protocol, "otpauth:");
    // otpauth://totp/<issuer>:<label> (a URL parser reads the kind as the host).
    assert.equal(uri.host, "totp");
    assert.equal(decodeURIComponent(uri.pathname), `/Nova:${u.user.username}`);
    assert.equal(uri.searchParams.get("secret"), e.secret);
    assert.equal(uri.searchParams.get("issuer"), "Nova");
    assert.match(e.qrCode, /^data:image\/svg\+xml;base64,/);
    assert.match(Buffer.from(e.qrCode.split(",")[1] as string, "base64").toString(), /<svg[\s\S]*<\/svg>/);

    // Pending: sign-in still needs only the password, and me says off.
    assert.deepEqual((await gql(url, STATUS, { token: u.accessToken })).body, {
      data: { me: { twoFactorEnabled: false } },
    });
    const plain = await gql(url, LOGIN, { variables: { input: { identifier: u.user.username, password: PASSWORD } } });
    assert.ok(plain.body.data?.login.accessToken, JSON.stringify(plain.body));

    const bad = await gql(url, CONFIRM, { token: u.accessToken, variables: { code: await wrongCode(e.secret) } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(bad.body)), {
      code: "BAD_USER_INPUT",
      field: "code",
    });
    const malformed = await gql(url, CONFIRM, { token: u.accessToken, variables: { code: "12ab56" } });
    assert.equal(errorOf(malformed.body).field, "code");
    const ok = await gql(url, CONFIRM, { token: u.accessToken, variables: { code: await codeNow(e.secret) } });
    const codes = ok.body.data.confirmTwoFactorEnrollment as string[];
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes) assert.match(c, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    assert.deepEqual((await gql(url, STATUS, { token: u.accessToken })).body, {
      data: { me: { twoFactorEnabled: true } },
    });

    // At rest: the secret sealed, the recovery codes hashed.
    const { rows } = await pool.query<{ sealed_secret: string }>(
      "SELECT sealed_secret FROM identity.two_factor WHERE user_id = $1",
      [u.user.id],
    );
    assert.match(rows[0]?.sealed_secret ?? "", /^v1\./);
    assert.ok(!rows[0]?.sealed_secret.includes(e.secret));
    const hashes = await pool.query<{ h: Buffer }>(
      "SELECT code_hash AS h FROM identity.recovery_codes WHERE user_id = $1",
      [u.user.id],
    );
    assert.equal(hashes.rows.length, 10);
    for (const r of hashes.rows) assert.equal(r.h.length, 32);

    const [mail] = await waitForMail(mailpit, `${u.user.username}@example.com`, {
      subject: /^Two-factor sign-in is on/,
    });
    assert.match(mail?.Text ?? "", new RegExp(`\\(@${u.user.username}\\)`));
  });
});

describe("two-factor sign-in through GraphQL", () => {
  test("a password gives a challenge, not a session; a code completes it once; a replay in its window is refused", async () => {
    const u = await enrolled();
    const login = await gql(url, LOGIN, { variables: { input: { identifier: u.username, password: PASSWORD } } });
    assert.equal(errorOf(login.body).code, "TWO_FACTOR_REQUIRED");
    const r = await gql(url, SIGN_IN, { variables: { input: { identifier: u.username, password: PASSWORD } } });
    const first = r.body.data.signIn;
    assert.equal(first.twoFactorRequired, true);
    assert.equal(first.challengeExpiresIn, 300);
    assert.equal(first.accessToken, null);
    assert.equal(first.user, null);
    const code = await codeNow(u.secret);
    const done = await gql(url, COMPLETE, { variables: { c: first.challenge, code } });
    assert.equal(done.body.data?.completeSignIn.user.username, u.username, JSON.stringify(done.body));
    const me = await gql(url, "{ me { id } }", { token: done.body.data.completeSignIn.accessToken });
    assert.deepEqual(me.body, { data: { me: { id: u.user.id } } });

    // The challenge is single use.
    const again = await gql(url, COMPLETE, { variables: { c: first.challenge, code } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(again.body)), {
      code: "BAD_USER_INPUT",
      field: "challenge",
    });
    // The same code, 5 s later and still within its window, on a new challenge: refused.
    move(5_000);
    const replay = await gql(url, COMPLETE, { variables: { c: await challengeFor(u.username), code } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(replay.body)), {
      code: "BAD_USER_INPUT",
      field: "code",
    });
    assert.match(errorOf(replay.body).message, /already been used/);
    // The next step's code works.
    move(30_000);
    const next = await gql(url, COMPLETE, {
      variables: { c: await challengeFor(u.username), code: await codeNow(u.secret) },
    });
    assert.ok(next.body.data?.completeSignIn.accessToken, JSON.stringify(next.body));
  });

  test("a challenge expires after five minutes", async () => {
    const u = await enrolled();
    const challenge = await challengeFor(u.username);
    move(5 * 60_000 + 1_000);
    const late = await gql(url, COMPLETE, { variables: { c: challenge, code: await codeNow(u.secret) } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(late.body)), {
      code: "BAD_USER_INPUT",
      field: "challenge",
    });
    const bad = await gql(url, COMPLETE, { variables: { c: "", code: "123456" } });
    assert.equal(errorOf(bad.body).field, "challenge");
  });

  test("a recovery code completes a sign-in once", async () => {
    const u = await enrolled();
    const rc = (u.recoveryCodes[3] as string).toUpperCase();
    const r = await gql(url, COMPLETE, { variables: { c: await challengeFor(u.username), code: rc } });
    assert.ok(r.body.data?.completeSignIn.accessToken, JSON.stringify(r.body));
    const again = await gql(url, COMPLETE, { variables: { c: await challengeFor(u.username), code: rc } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(again.body)), {
      code: "BAD_USER_INPUT",
      field: "code",
    });
  });

  test("guessing codes locks the account like wrong passwords do, until the lockout passes", async () => {
    const u = await enrolled();
    const wrong = await wrongCode(u.secret);
    // A wrong code leaves the challenge as it was (only a right one spends it); new challenges share the count.
    const challenge = await challengeFor(u.username);
    for (let i = 0; i < 5; i++) {
      const c = i % 2 === 0 ? challenge : await challengeFor(u.username);
      const r = await gql(url, COMPLETE, { variables: { c, code: wrong } });
      assert.match(errorOf(r.body).message, /is incorrect/, `try ${i + 1}`);
    }
    // Locked: the right code is refused, and so is the right password.
    const right = await gql(url, COMPLETE, { variables: { c: challenge, code: await codeNow(u.secret) } });
    assert.match(errorOf(right.body).message, /too many failed attempts/);
    const pw = await gql(url, SIGN_IN, { variables: { input: { identifier: u.username, password: PASSWORD } } });
    assert.equal(errorOf(pw.body).code, "INVALID_CREDENTIALS");
    // 16 minutes later the lockout has passed.
    move(16 * 60_000);
    const ok = await gql(url, COMPLETE, {
      variables: { c: await challengeFor(u.username), code: await codeNow(u.secret) },
    });
    assert.ok(ok.body.data?.completeSignIn.accessToken, JSON.stringify(ok.body));
  });

  test("disabling needs a current code; then the password alone signs in; the owner is mailed", async () => {
    const u = await enrolled();
    const token = (
      await gql(url, COMPLETE, { variables: { c: await challengeFor(u.username), code: await codeNow(u.secret) } })
    ).body.data.completeSignIn.accessToken as string;
    move(30_000);
    const bad = await gql(url, DISABLE, { token, variables: { code: await wrongCode(u.secret) } });
    assert.deepEqual((({ code, field }) => ({ code, field }))(errorOf(bad.body)), {
      code: "BAD_USER_INPUT",
      field: "code",
    });
    const ok = await gql(url, DISABLE, { token, variables: { code: await codeNow(u.secret) } });
    assert.deepEqual(ok.body, { data: { disableTwoFactor: true } });
    const r = await gql(url, SIGN_IN, { variables: { input: { identifier: u.username, password: PASSWORD } } });
    assert.equal(r.body.data?.signIn.twoFactorRequired, false, JSON.stringify(r.body));
    assert.ok(r.body.data.signIn.accessToken);
    await waitForMail(mailpit, u.email, { subject: /^Two-factor sign-in is off/ });
    const none = await gql(url, DISABLE, { token, variables: { code: await codeNow(u.secret) } });
    assert.equal(errorOf(none.body).code, "NOT_FOUND");
  });
});
