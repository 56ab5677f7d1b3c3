/**
 * The identity service against the harness's real PostgreSQL, called through
 * the same in-process transport and interceptors as in embedded mode.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import { IdentityService } from "../src/gen/nova/identity/v1/identity_pb.ts";
import { createCache } from "../src/platform/cache/cache.ts";
import { migrate } from "../src/platform/db/migrator.ts";
import { Database } from "../src/platform/db/pool.ts";
import { fromError } from "../src/platform/errors.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { eventTables } from "../src/platform/events/sets.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import type { ServiceRegistration } from "../src/platform/rpc/server.ts";
import { createSigner, createVerifier, generateSigningKeyPem } from "../src/platform/security/jwt.ts";
import { modules } from "../src/runtime/modules.ts";
import { createIdentityService, type IdentityTables, type PublicProfile } from "../src/services/identity/service.ts";
import { clientAs, services, unique } from "./helpers.ts";

let db: Database;
/** The service under test, as nobody. */
let client: Client<typeof IdentityService>;
let registrations: ServiceRegistration[];
let verify: ReturnType<typeof createVerifier>;
let signer: Awaited<ReturnType<typeof createSigner>>;
const LOCKOUT_MS = 1_500;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConnectError, String(err));
    return fromError(err).code;
  }
  assert.fail("expected an error");
}

async function newUser(password = "correct horse battery") {
  const username = unique("id");
  const res = await client.register({ email: `${username}@Example.com`, username, password });
  return { username, password, res };
}

/** Calls the service as the user and session of an access token. */
const as = <T>(tokens: { accessToken: string }, call: (me: Client<typeof IdentityService>) => Promise<T>) =>
  verify(tokens.accessToken).then((c) =>
    call(clientAs(registrations, IdentityService, c.sub, { sessionId: c.sid, timeoutMs: 5_000 })),
  );

before(async () => {
  const s = await services();
  db = new Database({ writerUrl: s.postgres, poolMax: 5, applicationName: "test-identity" });
  await migrate(db.writerPool, [modules.identity.migrations, eventTables("identity")]);
  signer = await createSigner(await generateSigningKeyPem());
  verify = createVerifier(async () => signer.jwks());
  const impl = createIdentityService({
    db: db.kysely<IdentityTables>(),
    signer,
    outbox: createOutbox({ service: "identity", schema: "identity" }),
    options: { lockoutMs: LOCKOUT_MS },
    // Profiles through an L1 cache, as in a running module.
    profiles: createCache({ log: createLogger({ level: "silent" }) }).entity<PublicProfile>("identity", "user", 1),
  });
  registrations = [{ service: IdentityService, impl }];
  client = clientAs(registrations, IdentityService, undefined, { timeoutMs: 5_000 });
});

after(async () => {
  await db.close();
});

describe("register", () => {
  test("creates the account, returns tokens, and refuses duplicates case-insensitively", async () => {
    const { username, res } = await newUser();
    assert.equal(res.user?.username, username);
    assert.equal(res.user?.email, `${username}@Example.com`);
    const claims = await verify(res.tokens?.accessToken ?? "");
    assert.equal(claims.sub, res.user?.id);
    assert.equal(res.tokens?.expiresIn, 900);
    const dupName = await code(
      client.register({
        email: `other_${username}@example.com`,
        username: username.toUpperCase(),
        password: "another good one",
      }),
    );
    assert.equal(dupName, "ALREADY_EXISTS");
    try {
      await client.register({ email: `${username}@EXAMPLE.com`, username: unique("x"), password: "another good one" });
      assert.fail("duplicate email accepted");
    } catch (err) {
      const e = fromError(err);
      assert.equal(e.code, "ALREADY_EXISTS");
      assert.equal(e.field, "email");
    }
  });

  test("registering and editing the profile write their events in the same transaction; a refused write writes none", async () => {
    const { username, res } = await newUser();
    const id = res.user?.id as string;
    const events = async () =>
      (
        await db.writerPool.query<{ type: string; topic: string; payload: Record<string, unknown> }>(
          "SELECT envelope->>'type' AS type, topic, envelope->'payload' AS payload FROM identity.outbox WHERE key = $1 ORDER BY seq",
          [id],
        )
      ).rows;
    assert.deepEqual(
      (await events()).map((e) => [e.type, e.topic, e.payload.username]),
      [["UserRegistered", "nova.identity.user", username]],
    );
    await as(res.tokens as { accessToken: string }, (me) => me.updateProfile({ displayName: "Ada L." }));
    const after = await events();
    assert.deepEqual(
      after.map((e) => [e.type, e.payload.displayName]),
      [
        ["UserRegistered", ""],
        ["ProfileUpdated", "Ada L."],
      ],
    );
    // A refused duplicate registration leaves no event behind.
    const registered = async () =>
      (
        await db.writerPool.query(
          "SELECT count(*)::int AS n FROM identity.outbox WHERE envelope->>'type' = 'UserRegistered' AND envelope->'payload'->>'username' = $1",
          [username],
        )
      ).rows[0].n;
    assert.equal(await registered(), 1);
    await code(client.register({ email: `x${username}@example.com`, username, password: "another good one" }));
    assert.equal(await registered(), 1);
  });

  test("the admin role travels in the next access token; an ordinary user's token has none", async () => {
    const { res } = await newUser();
    const id = res.user?.id as string;
    assert.deepEqual((await verify(res.tokens?.accessToken ?? "")).roles, []);
    await db.writerPool.query("UPDATE identity.users SET role = 'admin' WHERE id = $1", [id]);
    const refreshed = await client.refreshToken({ refreshToken: res.tokens?.refreshToken ?? "" });
    assert.deepEqual((await verify(refreshed.tokens?.accessToken ?? "")).roles, ["admin"]);
    await db.writerPool.query("UPDATE identity.users SET role = 'user' WHERE id = $1", [id]);
    const again = await client.refreshToken({ refreshToken: refreshed.tokens?.refreshToken ?? "" });
    assert.deepEqual((await verify(again.tokens?.accessToken ?? "")).roles, []);
  });

  test("bad input names the field and stores nothing", async () => {
    const username = unique("bad");
    for (const [input, field] of [
      [{ email: "nope", username, password: "correct horse battery" }, "email"],
      [{ email: `${username}@example.com`, username: "a!", password: "correct horse battery" }, "username"],
      [{ email: `${username}@example.com`, username, password: "short" }, "password"],
      [{ email: `${username}@example.com`, username, password: "password123" }, "password"],
    ] as const) {
      try {
        await client.register(input);
        assert.fail("accepted bad input");
      } catch (err) {
        const e = fromError(err);
        assert.equal(e.code, "VALIDATION_FAILED");
        assert.equal(e.field, field);
      }
    }
    const { rows } = await db.writerPool.query("select 1 from identity.users where username = $1", [username]);
    assert.equal(rows.length, 0);
  });
});

describe("login", () => {
  test("by username or email, case-insensitively", async () => {
    const { username, password, res } = await newUser();
    const a = await client.login({ identifier: username.toUpperCase(), password });
    const b = await client.login({ identifier: `${username}@example.COM`, password });
    assert.equal(a.user?.id, res.user?.id);
    assert.equal(b.user?.id, res.user?.id);
  });

  test("unknown account and wrong password get the same error in about the same time", async () => {
    const { username } = await newUser();
    const time = async (identifier: string) => {
      const t = performance.now();
      const c = await code(client.login({ identifier, password: "not the password" }));
      return { c, ms: performance.now() - t };
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 6; i++) {
      const k = await time(username);
      const u = await time(unique("ghost"));
      assert.equal(k.c, "INVALID_CREDENTIALS");
      assert.equal(u.c, "INVALID_CREDENTIALS");
      known.push(k.ms);
      unknown.push(u.ms);
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    // Both pay for one argon2id verification (tens of ms); a lookup-only shortcut would be ~20x faster.
    const ratio = median(unknown) / median(known);
    assert.ok(ratio > 0.33 && ratio < 3, `unknown/known login time ratio ${ratio.toFixed(2)}`);
  });

  test("5 failures lock the account (even for the right password) until the lockout expires", async () => {
    const { username, password } = await newUser();
    for (let i = 0; i < 5; i++) {
      assert.equal(
        await code(client.login({ identifier: username, password: "wrong password!" })),
        "INVALID_CREDENTIALS",
      );
    }
    // Locked: the right password gets the same answer as a wrong one.
    assert.equal(await code(client.login({ identifier: username, password })), "INVALID_CREDENTIALS");
    await new Promise((r) => setTimeout(r, LOCKOUT_MS + 200));
    const ok = await client.login({ identifier: username, password });
    assert.equal(ok.user?.username, username);
  });

  test("4 failures then a success resets the count", async () => {
    const { username, password } = await newUser();
    for (let i = 0; i < 4; i++) await code(client.login({ identifier: username, password: "wrong password!" }));
    await client.login({ identifier: username, password });
    for (let i = 0; i < 4; i++) await code(client.login({ identifier: username, password: "wrong password!" }));
    assert.equal((await client.login({ identifier: username, password })).user?.username, username);
  });
});

describe("sessions", () => {
  test("refresh rotates the token; the old one cannot be used twice", async () => {
    const { res } = await newUser();
    const t1 = res.tokens;
    assert.ok(t1);
    const r2 = await client.refreshToken({ refreshToken: t1.refreshToken });
    assert.notEqual(r2.tokens?.refreshToken, t1.refreshToken);
    const c2 = await verify(r2.tokens?.accessToken ?? "");
    const c1 = await verify(t1.accessToken);
    assert.equal(c2.sid, c1.sid, "same session family");
    assert.notEqual(c2.jti, c1.jti);
    const r3 = await client.refreshToken({ refreshToken: r2.tokens?.refreshToken ?? "" });
    assert.ok(r3.tokens?.refreshToken);
  });

  test("reusing a rotated token revokes the whole family", async () => {
    const { res } = await newUser();
    const first = res.tokens?.refreshToken ?? "";
    const second = (await client.refreshToken({ refreshToken: first })).tokens?.refreshToken ?? "";
    assert.equal(await code(client.refreshToken({ refreshToken: first })), "TOKEN_INVALID");
    // The legitimate holder's newer token is dead too, and so is the session.
    assert.equal(await code(client.refreshToken({ refreshToken: second })), "TOKEN_INVALID");
    const claims = await verify(res.tokens?.accessToken ?? "");
    assert.equal((await client.checkSession({ sessionId: claims.sid })).active, false);
  });

  test("logout ends this session only; logoutAll ends all of them", async () => {
    const { username, password, res } = await newUser();
    const other = await client.login({ identifier: username, password });
    const third = await client.login({ identifier: username, password });
    const sid = async (t: { accessToken: string } | undefined) => (await verify(t?.accessToken ?? "")).sid;
    await as(res.tokens as { accessToken: string }, (me) => me.logout({}));
    assert.equal((await client.checkSession({ sessionId: await sid(res.tokens) })).active, false);
    assert.equal((await client.checkSession({ sessionId: await sid(other.tokens) })).active, true);
    assert.equal(await code(client.refreshToken({ refreshToken: res.tokens?.refreshToken ?? "" })), "TOKEN_INVALID");
    const all = await as(other.tokens as { accessToken: string }, (me) => me.logoutAll({}));
    assert.equal(all.sessionsRevoked, 2);
    assert.equal((await client.checkSession({ sessionId: await sid(third.tokens) })).active, false);
    assert.equal(await code(client.refreshToken({ refreshToken: third.tokens?.refreshToken ?? "" })), "TOKEN_INVALID");
  });

  test("logout without claims is UNAUTHENTICATED", async () => {
    assert.equal(await code(client.logout({})), "UNAUTHENTICATED");
  });

  test("expired access tokens fail verification; expired refresh tokens are refused", async () => {
    const { res } = await newUser();
    const old = await signer.sign(
      res.user?.id ?? "",
      "0190c7a4-0000-7000-8000-000000000000",
      Math.floor(Date.now() / 1000) - 3600,
    );
    await assert.rejects(verify(old), /exp/);
    await db.writerPool.query(
      "update identity.refresh_tokens set expires_at = now() - interval '1 second' where token_hash = sha256($1::bytea)",
      [Buffer.from(res.tokens?.refreshToken ?? "")],
    );
    assert.equal(await code(client.refreshToken({ refreshToken: res.tokens?.refreshToken ?? "" })), "TOKEN_INVALID");
  });

  test("a verified access token is remembered only until it expires", async () => {
    const { res } = await newUser();
    // Signed 899 s ago: one second left.
    const token = await signer.sign(
      res.user?.id ?? "",
      "0190c7a4-0000-7000-8000-000000000001",
      Math.floor(Date.now() / 1000) - 899,
    );
    const first = await verify(token);
    assert.equal(await verify(token), first, "the second check is answered from memory");
    await new Promise((r) => setTimeout(r, 2_100));
    await assert.rejects(verify(token), /exp/);
  });

  test("tokens of another issuer, audience, type or algorithm are refused", async () => {
    const { SignJWT, generateKeyPair } = await import("jose");
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await new SignJWT({ sid: "x" })
      .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt" })
      .setSubject("x")
      .setIssuer("nova")
      .setAudience("nova-api")
      .setJti("j")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    await assert.rejects(verify(forged));
    const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: "x", sid: "y", jti: "z", iss: "nova", aud: "nova-api", exp: 9e9, iat: 1 }),
    ).toString("base64url")}.`;
    await assert.rejects(verify(unsigned));
  });
});

describe("profiles", () => {
  test("update validates each field and the email is shown only to its owner", async () => {
    const { username, res } = await newUser();
    const tokens = res.tokens as { accessToken: string };
    const updated = await as(tokens, (me) =>
      me.updateProfile({
        displayName: "Alice A.",
        bio: "hello\nworld",
        avatarUrl: "https://cdn.example.com/a.png",
      }),
    );
    assert.equal(updated.user?.displayName, "Alice A.");
    assert.equal(updated.user?.bio, "hello\nworld");
    for (const [input, field] of [
      [{ displayName: "x".repeat(51) }, "displayName"],
      [{ bio: "y".repeat(301) }, "bio"],
      [{ avatarUrl: "http://example.com/a.png" }, "avatarUrl"],
    ] as const) {
      try {
        await as(tokens, (me) => me.updateProfile(input));
        assert.fail("accepted");
      } catch (err) {
        assert.equal(fromError(err).field, field);
      }
    }
    const stranger = await client.getUserByUsername({ username });
    assert.equal(stranger.user?.email, "");
    const self = await as(tokens, (me) => me.getUser({ id: res.user?.id ?? "" }));
    assert.equal(self.user?.email, `${username}@Example.com`);
    assert.equal(self.user?.displayName, "Alice A.");
  });

  test("batch get keeps request order, skips unknown ids, caps at 100, validates ids", async () => {
    const a = (await newUser()).res.user?.id ?? "";
    const b = (await newUser()).res.user?.id ?? "";
    const ghost = "0190c7a4-0000-7000-8000-000000000000";
    // The reader may be a replica; these reads go to the writer here (no replica configured).
    const res = await client.batchGetUsers({ ids: [b, ghost, a] });
    assert.deepEqual(
      res.users.map((u) => u.id),
      [b, a],
    );
    assert.equal(await code(client.batchGetUsers({ ids: Array(101).fill(a) })), "VALIDATION_FAILED");
    assert.equal(await code(client.batchGetUsers({ ids: ["not-a-uuid"] })), "VALIDATION_FAILED");
    assert.equal(await code(client.getUser({ id: ghost })), "NOT_FOUND");
  });

  test("batch get serves cached profiles, shows a profile update at once and the email only to its owner", async () => {
    const a = await newUser();
    const b = await newUser();
    const [aId, bId] = [a.res.user?.id ?? "", b.res.user?.id ?? ""];
    const aTokens = a.res.tokens as { accessToken: string };
    const bTokens = b.res.tokens as { accessToken: string };
    const seenByB = async () => (await as(bTokens, (me) => me.batchGetUsers({ ids: [aId, bId] }))).users;
    const first = await seenByB(); // a's profile is cached now
    assert.equal(first[0]?.email, "", "not b's to see");
    assert.equal(first[1]?.email, `${b.username}@Example.com`, "b sees b's own email");
    await as(aTokens, (me) => me.updateProfile({ displayName: "Renamed" }));
    assert.equal((await seenByB())[0]?.displayName, "Renamed");
    const own = (await as(aTokens, (me) => me.batchGetUsers({ ids: [aId] }))).users[0];
    assert.equal(own?.email, `${a.username}@Example.com`);
    assert.equal(own?.displayName, "Renamed");
  });
});

test("the migrator sets the database's statement and lock timeouts", async () => {
  const { rows } = await db.writerPool.query(
    "select unnest(setconfig) as s from pg_db_role_setting where setdatabase = (select oid from pg_database where datname = current_database()) and setrole = 0",
  );
  const settings = rows.map((r) => r.s);
  assert.ok(settings.includes("statement_timeout=30s"), String(settings));
  assert.ok(settings.includes("lock_timeout=10s"), String(settings));
});
