/**
 * Email verification and passwords, on real PostgreSQL: the identity service with verification
 * required, its outbox rows turned into mail by the `identity.mail` consumer (applyOnce, as the
 * event source delivers them) into a mailer that keeps what it is given. Each test makes its own
 * users, so tests share the database without seeing each other.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import { clientAs, services, unique } from "../../../test/helpers.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { Database } from "../../platform/db/pool.ts";
import { fromError } from "../../platform/errors.ts";
import { applyOnce } from "../../platform/events/consumer.ts";
import { type Envelope, parseEnvelope } from "../../platform/events/envelope.ts";
import { createOutbox } from "../../platform/events/outbox.ts";
import { eventTables } from "../../platform/events/sets.ts";
import type { Mail, Mailer } from "../../platform/mail/mailer.ts";
import { createSigner, createVerifier, generateSigningKeyPem } from "../../platform/security/jwt.ts";
import { createSealer } from "../../platform/security/seal.ts";
import { modules } from "../../runtime/modules.ts";
import { mailConsumer } from "./mail.ts";
import { createIdentityService, type IdentityTables } from "./service.ts";

let db: Database;
let client: Client<typeof IdentityService>;
let registrations: Parameters<typeof clientAs>[0];
let verify: ReturnType<typeof createVerifier>;
const sent: Mail[] = [];
const mailer: Mailer = { kind: "folder", send: async (m) => void sent.push(m), close: () => {} };
const sealer = createSealer("a test key", "identity mail tokens v1");
const consumer = mailConsumer({ mailer, sealer, publicUrl: "https://nova.test" });
const PASSWORD = "correct horse battery";

async function failure(p: Promise<unknown>): Promise<{ code: string; field?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConnectError, String(err));
    const e = fromError(err);
    return { code: e.code, field: e.field, message: e.message };
  }
  assert.fail("expected an error");
}

/** The outbox rows of one user (the key), oldest first. */
async function eventsOf(userId: string): Promise<Envelope[]> {
  const { rows } = await db.writerPool.query<{ envelope: unknown }>(
    "SELECT envelope FROM identity.outbox WHERE key = $1 ORDER BY seq",
    [userId],
  );
  return rows.map((r) => parseEnvelope(r.envelope));
}

/** Delivers the user's account events to the mail consumer (twice: a redelivery sends nothing more). */
async function deliverMail(userId: string): Promise<Mail[]> {
  const before = sent.length;
  const events = (await eventsOf(userId)).filter((e) => e.aggregate_type === "account");
  for (const e of events) await applyOnce(db.kysely<unknown>().writer, consumer, e);
  for (const e of events) assert.equal(await applyOnce(db.kysely<unknown>().writer, consumer, e), "duplicate");
  return sent.slice(before);
}

const tokenOf = (m: Mail) => /[?&]token=([A-Za-z0-9_-]+)/.exec(m.text)?.[1] ?? assert.fail(`no token in ${m.text}`);

async function userIdOf(username: string): Promise<string> {
  const { rows } = await db.writerPool.query<{ id: string }>("SELECT id FROM identity.users WHERE username = $1", [
    username,
  ]);
  return rows[0]?.id ?? assert.fail(`no user ${username}`);
}

/** A signed-up, verified user and its session's tokens. */
async function verifiedUser() {
  const username = unique("lc");
  const email = `${username}@example.com`;
  await client.register({ email, username, password: PASSWORD });
  const id = await userIdOf(username);
  const [mail] = await deliverMail(id);
  const res = await client.verifyEmail({ token: tokenOf(mail as Mail) });
  return { id, username, email, tokens: res.tokens as { accessToken: string; refreshToken: string } };
}

const as = <T>(accessToken: string, call: (me: Client<typeof IdentityService>) => Promise<T>) =>
  verify(accessToken).then((c) =>
    call(clientAs(registrations, IdentityService, c.sub, { sessionId: c.sid, timeoutMs: 5_000 })),
  );

before(async () => {
  const s = await services();
  db = new Database({ writerUrl: s.postgres, poolMax: 5, applicationName: "test-identity-lifecycle" });
  await migrate(db.writerPool, [modules.identity.migrations, eventTables("identity")]);
  const signer = await createSigner(await generateSigningKeyPem());
  verify = createVerifier(async () => signer.jwks());
  const impl = createIdentityService({
    db: db.kysely<IdentityTables>(),
    signer,
    outbox: createOutbox({ service: "identity", schema: "identity" }),
    sealer,
    options: { requireVerifiedEmail: true, mailBudgetPerHour: 3 },
  });
  registrations = [{ service: IdentityService, impl }];
  client = clientAs(registrations, IdentityService, undefined, { timeoutMs: 10_000 });
});

after(async () => {
  await db.close();
});

describe("sign-up with verification required", () => {
  test("a new and a registered address get the same answer; the new one a link, the owner a warning", async () => {
    const username = unique("lc");
    const email = `${username}@example.com`;
    const first = await client.register({ email, username, password: PASSWORD });
    const again = await client.register({ email: email.toUpperCase(), username: unique("lc"), password: PASSWORD });
    for (const res of [first, again]) {
      assert.equal(res.verificationRequired, true);
      assert.equal(res.tokens, undefined);
      assert.equal(res.user, undefined);
    }
    const id = await userIdOf(username);
    assert.deepEqual(
      (await eventsOf(id)).map((e) => e.type),
      ["UserRegistered", "VerificationRequested", "SignUpAttemptWithExistingEmail"],
    );
    const mails = await deliverMail(id);
    assert.deepEqual(
      mails.map((m) => [m.to, m.subject]),
      [
        [email, "Verify your email address for Nova"],
        [email, "Someone tried to sign up for Nova with your address"],
      ],
    );
    const token = tokenOf(mails[0] as Mail);
    assert.match((mails[0] as Mail).text, /^https:\/\/nova\.test\/verify-email\?token=/m);
    // The token is in the mail only: the outbox holds it sealed, the table as a hash.
    const { rows } = await db.writerPool.query("SELECT envelope::text AS e FROM identity.outbox WHERE key = $1", [id]);
    for (const r of rows) assert.ok(!(r.e as string).includes(token), "raw token in the outbox");
    const stored = await db.writerPool.query("SELECT token_hash FROM identity.email_tokens WHERE user_id = $1", [id]);
    assert.equal(stored.rows.length, 1);
    assert.notEqual(Buffer.from(stored.rows[0].token_hash).toString("base64url"), token);
    // A taken username is still said (usernames are public), whoever owns the address.
    const taken = await failure(client.register({ email, username, password: PASSWORD }));
    assert.deepEqual([taken.code, taken.field], ["ALREADY_EXISTS", "username"]);
  });

  test("until verified, signing in works and the access token says email_verified: false", async () => {
    const username = unique("lc");
    await client.register({ email: `${username}@example.com`, username, password: PASSWORD });
    const res = await client.login({ identifier: username, password: PASSWORD });
    const claims = await verify(res.tokens?.accessToken as string);
    assert.equal(claims.unverified, true);
  });

  test("the link verifies once and signs in; reused, forged, expired and superseded tokens name the field", async () => {
    const username = unique("lc");
    await client.register({ email: `${username}@example.com`, username, password: PASSWORD });
    const id = await userIdOf(username);
    const [mail] = await deliverMail(id);
    const token = tokenOf(mail as Mail);
    const res = await client.verifyEmail({ token });
    assert.equal(res.user?.username, username);
    assert.equal((await verify(res.tokens?.accessToken as string)).unverified, undefined);
    const reused = await failure(client.verifyEmail({ token }));
    assert.deepEqual(
      [reused.code, reused.field, reused.message],
      ["VALIDATION_FAILED", "token", "token: has already been used"],
    );
    const forged = await failure(client.verifyEmail({ token: `${token.slice(0, -4)}AAAA` }));
    assert.deepEqual([forged.code, forged.field], ["VALIDATION_FAILED", "token"]);
    for (const bad of ["", "short", "a".repeat(500), "x\u0000y"]) {
      const e = await failure(client.verifyEmail({ token: bad }));
      assert.deepEqual([e.code, e.field], ["VALIDATION_FAILED", "token"], JSON.stringify(bad));
    }
    // Expired: a second user's token, moved past its 24 h.
    const other = unique("lc");
    await client.register({ email: `${other}@example.com`, username: other, password: PASSWORD });
    const otherId = await userIdOf(other);
    const [otherMail] = await deliverMail(otherId);
    await db.writerPool.query(
      "UPDATE identity.email_tokens SET expires_at = now() - interval '1 s' WHERE user_id = $1",
      [otherId],
    );
    const expired = await failure(client.verifyEmail({ token: tokenOf(otherMail as Mail) }));
    assert.deepEqual(
      [expired.code, expired.field, expired.message],
      ["VALIDATION_FAILED", "token", "token: has expired"],
    );
  });

  test("resend mails a new link within a budget; a verified user has nothing to resend", async () => {
    const username = unique("lc");
    await client.register({ email: `${username}@example.com`, username, password: PASSWORD });
    const id = await userIdOf(username);
    const login = await client.login({ identifier: username, password: PASSWORD });
    const at = login.tokens?.accessToken as string;
    await as(at, (me) => me.resendVerification({}));
    await as(at, (me) => me.resendVerification({}));
    const over = await failure(as(at, (me) => me.resendVerification({})));
    assert.deepEqual([over.code, over.field], ["RATE_LIMITED", "email"]);
    const mails = await deliverMail(id);
    assert.equal(mails.length, 3);
    await client.verifyEmail({ token: tokenOf(mails[2] as Mail) });
    // Using one voids the others.
    const voided = await failure(client.verifyEmail({ token: tokenOf(mails[1] as Mail) }));
    assert.deepEqual([voided.code, voided.field], ["VALIDATION_FAILED", "token"]);
    const done = await failure(as(at, (me) => me.resendVerification({})));
    assert.deepEqual([done.code, done.field], ["VALIDATION_FAILED", "email"]);
  });

  test("a new and a registered address take the same time: medians within 10 ms over 50 tries", async () => {
    const existing = unique("lc");
    await client.register({ email: `${existing}@example.com`, username: existing, password: PASSWORD });
    const time = async (email: string) => {
      const t0 = performance.now();
      const res = await client.register({ email, username: unique("lc"), password: PASSWORD });
      assert.equal(res.verificationRequired, true);
      return performance.now() - t0;
    };
    const fresh: number[] = [];
    const known: number[] = [];
    for (let i = 0; i < 50; i++) {
      // Interleaved, so a slow moment of the machine falls on both.
      fresh.push(await time(`${unique("lc")}@example.com`));
      known.push(await time(`${existing}@example.com`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const [a, b] = [median(fresh), median(known)];
    assert.ok(Math.abs(a - b) < 10, `medians: new ${a.toFixed(1)} ms, registered ${b.toFixed(1)} ms`);
  });
});

describe("passwords", () => {
  test("a reset is answered alike with or without an account; its link works once and ends every session", async () => {
    const u = await verifiedUser();
    const second = await client.login({ identifier: u.username, password: PASSWORD });
    assert.deepEqual(
      await client.requestPasswordReset({ email: `nobody-${u.email}` }),
      await client.requestPasswordReset({ email: u.email }),
    );
    const [mail] = (await deliverMail(u.id)).filter((m) => m.subject === "Reset your Nova password");
    assert.match((mail as Mail).text, /^https:\/\/nova\.test\/reset-password\?token=/m);
    const token = tokenOf(mail as Mail);
    const weak = await failure(client.resetPassword({ token, newPassword: "short" }));
    assert.deepEqual([weak.code, weak.field], ["VALIDATION_FAILED", "newPassword"]);
    await client.resetPassword({ token, newPassword: "a brand new passphrase" });
    const reused = await failure(client.resetPassword({ token, newPassword: "another new passphrase" }));
    assert.deepEqual([reused.code, reused.field], ["VALIDATION_FAILED", "token"]);
    for (const t of [u.tokens, second.tokens]) {
      const s = await verify(t?.accessToken as string);
      assert.equal((await client.checkSession({ sessionId: s.sid })).active, false);
    }
    assert.equal(
      (await failure(client.login({ identifier: u.username, password: PASSWORD }))).code,
      "INVALID_CREDENTIALS",
    );
    await client.login({ identifier: u.username, password: "a brand new passphrase" });
    const told = (await deliverMail(u.id)).map((m) => m.subject);
    assert.deepEqual(told, ["Your Nova password was changed"]);
  });

  test("a reset link expires after its 30 minutes; the hourly budget sends no more mail but answers the same", async () => {
    const u = await verifiedUser();
    for (let i = 0; i < 5; i++) await client.requestPasswordReset({ email: u.email });
    const mails = (await deliverMail(u.id)).filter((m) => m.subject === "Reset your Nova password");
    assert.equal(mails.length, 3);
    await db.writerPool.query(
      "UPDATE identity.email_tokens SET expires_at = now() - interval '1 s' WHERE user_id = $1 AND purpose = 'reset_password'",
      [u.id],
    );
    const expired = await failure(
      client.resetPassword({ token: tokenOf(mails[0] as Mail), newPassword: "a brand new passphrase" }),
    );
    assert.deepEqual(
      [expired.code, expired.field, expired.message],
      ["VALIDATION_FAILED", "token", "token: has expired"],
    );
    const bad = await failure(client.requestPasswordReset({ email: "not an address" }));
    assert.deepEqual([bad.code, bad.field], ["VALIDATION_FAILED", "email"]);
  });

  test("a reset request takes the same time with or without an account: medians within 10 ms over 50 tries", async () => {
    const time = async (email: string) => {
      const t0 = performance.now();
      await client.requestPasswordReset({ email });
      return performance.now() - t0;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 50; i++) {
      // A fresh account each time, so the budget never stops the mail.
      const u = unique("lc");
      await client.register({ email: `${u}@example.com`, username: u, password: PASSWORD });
      known.push(await time(`${u}@example.com`));
      unknown.push(await time(`nobody-${u}@example.com`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const [a, b] = [median(known), median(unknown)];
    assert.ok(Math.abs(a - b) < 10, `medians: account ${a.toFixed(1)} ms, none ${b.toFixed(1)} ms`);
  });

  test("a change needs the current password, ends every other session and mails the owner", async () => {
    const u = await verifiedUser();
    const other = await client.login({ identifier: u.username, password: PASSWORD });
    const wrong = await failure(
      as(u.tokens.accessToken, (me) =>
        me.changePassword({ currentPassword: "not it at all", newPassword: "a new passphrase" }),
      ),
    );
    assert.deepEqual([wrong.code, wrong.field], ["VALIDATION_FAILED", "currentPassword"]);
    const weak = await failure(
      as(u.tokens.accessToken, (me) => me.changePassword({ currentPassword: PASSWORD, newPassword: "password" })),
    );
    assert.deepEqual([weak.code, weak.field], ["VALIDATION_FAILED", "newPassword"]);
    const res = await as(u.tokens.accessToken, (me) =>
      me.changePassword({ currentPassword: PASSWORD, newPassword: "a new passphrase" }),
    );
    assert.equal(res.sessionsRevoked, 1);
    const mine = await verify(u.tokens.accessToken);
    const theirs = await verify(other.tokens?.accessToken as string);
    assert.equal((await client.checkSession({ sessionId: mine.sid })).active, true);
    assert.equal((await client.checkSession({ sessionId: theirs.sid })).active, false);
    const mails = await deliverMail(u.id);
    assert.deepEqual(
      mails.map((m) => m.subject),
      ["Your Nova password was changed"],
    );
    assert.match((mails[0] as Mail).text, /Every other session was signed out/);
  });
});
