/**
 * Identity's SQL, over its typed tables (users, sessions and the refresh
 * tokens of each session). Identity never reads another service's tables.
 */
import type { ColumnType, Generated, Kysely, Selectable } from "kysely";
import { sql } from "kysely";
import { keysetPage, type Page } from "../../platform/paging.ts";

interface UsersTable {
  id: Generated<string>;
  email: string;
  username: string;
  password_hash: string;
  display_name: Generated<string>;
  bio: Generated<string>;
  avatar_url: Generated<string>;
  failed_logins: Generated<number>;
  locked_until: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  follower_count: Generated<number>;
  following_count: Generated<number>;
  role: Generated<Role>;
  email_verified_at: Date | null;
  username_changed_at: Date | null;
  show_sensitive_media: Generated<boolean>;
  /** When a requested deletion erases the account; null when none is pending. */
  deletion_scheduled_at: Date | null;
  is_private: Generated<boolean>;
}
interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: Generated<Date>;
  last_used_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
  ip: Generated<string>;
  user_agent: Generated<string>;
}
interface RefreshTokensTable {
  token_hash: Buffer;
  session_id: string;
  created_at: Generated<Date>;
  expires_at: Date;
  used_at: Date | null;
}
export type EmailTokenPurpose = "verify_email" | "reset_password" | "change_email";
interface EmailTokensTable {
  token_hash: Buffer;
  user_id: string;
  purpose: EmailTokenPurpose;
  email: string;
  created_at: Generated<Date>;
  expires_at: Date;
  used_at: Date | null;
}
interface TwoFactorTable {
  user_id: string;
  sealed_secret: string;
  enabled_at: Date | null;
  /** bigint: pg answers it as text. */
  last_time_step: ColumnType<string, number | undefined, number>;
  created_at: Generated<Date>;
}
interface RecoveryCodesTable {
  user_id: string;
  code_hash: Buffer;
  used_at: Date | null;
}
interface LoginChallengesTable {
  token_hash: Buffer;
  user_id: string;
  created_at: Generated<Date>;
  expires_at: Date;
  used_at: Date | null;
}
interface UsernameReservationsTable {
  username: string;
  user_id: string;
  expires_at: Date;
}
export interface IdentityTables {
  "identity.username_reservations": UsernameReservationsTable;
  "identity.two_factor": TwoFactorTable;
  "identity.recovery_codes": RecoveryCodesTable;
  "identity.login_challenges": LoginChallengesTable;
  "identity.email_tokens": EmailTokensTable;
  "identity.users": UsersTable;
  "identity.sessions": SessionsTable;
  "identity.refresh_tokens": RefreshTokensTable;
}

/** The pool or the caller's transaction (a Transaction is a Kysely). */
export type IdentityDb = Kysely<IdentityTables>;
export type UserRow = Selectable<UsersTable>;

/** What anyone may see of a user: the part of the row BatchGetUsers serves through the cache. */
export interface PublicProfile {
  id: string;
  username: string;
  display_name: string;
  bio: string;
  avatar_url: string;
  /** RFC 3339 (profiles are cached as JSON). */
  created_at: string;
  follower_count: number;
  following_count: number;
  /** A private account: its content is for approved followers only (absent in profiles cached before it). */
  is_private?: boolean;
}

/**
 * Profiles are not served while a moderator's suspension or ban holds (restrictions.ts): the gateway's
 * rules step then drops the account's posts, comments and search results like a deleted account's.
 */
const unrestricted = sql<boolean>`NOT EXISTS (SELECT 1 FROM identity.account_restrictions r
  WHERE r.user_id = identity.users.id AND (r.state = 'banned' OR r.until > now()))`;

export async function loadProfiles(db: IdentityDb, ids: string[]): Promise<Map<string, PublicProfile>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("identity.users")
    .select([
      "id",
      "username",
      "display_name",
      "bio",
      "avatar_url",
      "created_at",
      "follower_count",
      "following_count",
      "is_private",
    ])
    .where("id", "in", ids)
    .where(unrestricted)
    .execute();
  return new Map(rows.map((r) => [r.id, { ...r, created_at: r.created_at.toISOString() }]));
}

// ---- users

export function insertUser(
  trx: IdentityDb,
  user: { email: string; username: string; password_hash: string },
): Promise<UserRow> {
  return trx.insertInto("identity.users").values(user).returningAll().executeTakeFirstOrThrow();
}

export function userById(db: IdentityDb, id: string): Promise<UserRow | undefined> {
  return db.selectFrom("identity.users").selectAll().where("id", "=", id).executeTakeFirst();
}

export function userByUsername(db: IdentityDb, username: string): Promise<UserRow | undefined> {
  return db
    .selectFrom("identity.users")
    .selectAll()
    .where("username", "=", username)
    .where(unrestricted)
    .executeTakeFirst();
}

export function usersByUsernames(db: IdentityDb, usernames: string[]): Promise<UserRow[]> {
  return db.selectFrom("identity.users").selectAll().where("username", "in", usernames).execute();
}

/** The account an identifier names: an email (any case) when it has an `@`, otherwise a username. */
export function userByIdentifier(db: IdentityDb, identifier: string): Promise<UserRow | undefined> {
  return db
    .selectFrom("identity.users")
    .selectAll()
    .where((eb) =>
      identifier.includes("@")
        ? eb(sql`lower(email)`, "=", identifier.toLowerCase())
        : eb("username", "=", identifier.toLowerCase()),
    )
    .executeTakeFirst();
}

/** A user's role: an admin moderates and administers; a moderator works the moderation queue. */
export type Role = "user" | "admin" | "moderator";

export async function roleOf(db: IdentityDb, userId: string): Promise<Role | undefined> {
  return (await db.selectFrom("identity.users").select("role").where("id", "=", userId).executeTakeFirst())?.role;
}

/** The roles of the users of `ids` that exist. */
export async function rolesOf(db: IdentityDb, ids: string[]): Promise<Map<string, Role>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("identity.users")
    .select([sql<string>`id::text`.as("id"), "role"])
    .where("id", "in", ids)
    .execute();
  return new Map(rows.map((r) => [r.id, r.role]));
}

/** What an access token says about its user: the role and whether the address is verified. */
export function claimsOf(db: IdentityDb, userId: string) {
  return db
    .selectFrom("identity.users")
    .select(["role", "email_verified_at"])
    .where("id", "=", userId)
    .executeTakeFirst();
}

export function userByEmail(db: IdentityDb, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom("identity.users")
    .selectAll()
    .where(sql`lower(email)`, "=", email.toLowerCase())
    .executeTakeFirst();
}

// ---- one-time tokens sent by mail

export async function insertEmailToken(
  trx: IdentityDb,
  t: { token_hash: Buffer; user_id: string; purpose: EmailTokenPurpose; email: string; expires_at: Date },
): Promise<void> {
  await trx.insertInto("identity.email_tokens").values(t).execute();
}

/** How many tokens of this purpose the user was sent since `since` (the mail budget). */
export async function countEmailTokensSince(
  db: IdentityDb,
  userId: string,
  purpose: EmailTokenPurpose,
  since: Date,
): Promise<number> {
  const row = await db
    .selectFrom("identity.email_tokens")
    .select(sql<string>`count(*)`.as("n"))
    .where("user_id", "=", userId)
    .where("purpose", "=", purpose)
    .where("created_at", ">", since)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The token and its user's current address, locked for its single use. */
export function emailTokenForUpdate(trx: IdentityDb, tokenHash: Buffer, purpose: EmailTokenPurpose) {
  return trx
    .selectFrom("identity.email_tokens as t")
    .innerJoin("identity.users as u", "u.id", "t.user_id")
    .select(["t.user_id", "t.email", "t.expires_at", "t.used_at", "u.email as current_email"])
    .where("t.token_hash", "=", tokenHash)
    .where("t.purpose", "=", purpose)
    .forUpdate("t")
    .executeTakeFirst();
}

/** Uses the token, and voids the user's other unused tokens of the same purpose. */
export async function useEmailTokens(trx: IdentityDb, userId: string, purpose: EmailTokenPurpose): Promise<void> {
  await trx
    .updateTable("identity.email_tokens")
    .set({ used_at: new Date() })
    .where("user_id", "=", userId)
    .where("purpose", "=", purpose)
    .where("used_at", "is", null)
    .execute();
}

export function markEmailVerified(trx: IdentityDb, userId: string): Promise<UserRow | undefined> {
  return trx
    .updateTable("identity.users")
    .set({ email_verified_at: sql`coalesce(email_verified_at, now())`, updated_at: new Date() })
    .where("id", "=", userId)
    .returningAll()
    .executeTakeFirst();
}

/** A new password; clears the failed-login count and any lockout. */
export async function setPassword(trx: IdentityDb, userId: string, hash: string): Promise<void> {
  await trx
    .updateTable("identity.users")
    .set({ password_hash: hash, failed_logins: 0, locked_until: null, updated_at: new Date() })
    .where("id", "=", userId)
    .execute();
}

/**
 * Counts a failed login (a wrong password, or a wrong code at the second step); the `max`-th one
 * locks the account for `lockoutMs` from `now` and resets the count.
 */
export async function countFailedLogin(
  db: IdentityDb,
  userId: string,
  max: number,
  lockoutMs: number,
  now = new Date(),
): Promise<void> {
  await db
    .updateTable("identity.users")
    .set({
      failed_logins: sql`CASE WHEN failed_logins + 1 >= ${max} THEN 0 ELSE failed_logins + 1 END`,
      locked_until: sql`CASE WHEN failed_logins + 1 >= ${max}
                         THEN ${now}::timestamptz + make_interval(secs => ${lockoutMs / 1000}) ELSE locked_until END`,
    })
    .where("id", "=", userId)
    .execute();
}

export async function clearFailedLogins(trx: IdentityDb, userId: string): Promise<void> {
  await trx
    .updateTable("identity.users")
    .set({ failed_logins: 0, locked_until: null })
    .where("id", "=", userId)
    .execute();
}

/** Sets the given profile fields (and updated_at); undefined when there is no such user. */
export function updateProfileFields(
  trx: IdentityDb,
  userId: string,
  set: {
    display_name?: string;
    bio?: string;
    avatar_url?: string;
    show_sensitive_media?: boolean;
    is_private?: boolean;
  },
): Promise<UserRow | undefined> {
  return trx
    .updateTable("identity.users")
    .set({ ...set, updated_at: new Date() })
    .where("id", "=", userId)
    .returningAll()
    .executeTakeFirst();
}

/** A page of every user in id order, after the id `after`. */
export function usersPage(db: IdentityDb, after: string | undefined, limit: number): Promise<Page<UserRow>> {
  return keysetPage(db.selectFrom("identity.users").selectAll(), {
    key: "identity.users.id",
    after,
    limit,
    order: "asc",
    position: (r) => r.id,
  });
}

export async function countUsers(db: IdentityDb): Promise<bigint> {
  return BigInt(
    (await db.selectFrom("identity.users").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow()).n,
  );
}

// ---- sessions and refresh tokens

/** The client a session is used from (sessions.ts `clientOf` makes it). */
export interface SessionClient {
  ip: string;
  user_agent: string;
}

export async function insertSession(
  trx: IdentityDb,
  userId: string,
  expiresAt: Date,
  client: SessionClient,
): Promise<string> {
  const session = await trx
    .insertInto("identity.sessions")
    .values({ user_id: userId, expires_at: expiresAt, ...client })
    .returning("id")
    .executeTakeFirstOrThrow();
  return session.id;
}

export async function insertRefreshToken(
  trx: IdentityDb,
  tokenHash: Buffer,
  sessionId: string,
  expiresAt: Date,
): Promise<void> {
  await trx
    .insertInto("identity.refresh_tokens")
    .values({ token_hash: tokenHash, session_id: sessionId, expires_at: expiresAt })
    .execute();
}

/** The refresh token and its session, locked for the rotation. */
export function refreshTokenForUpdate(trx: IdentityDb, tokenHash: Buffer) {
  return trx
    .selectFrom("identity.refresh_tokens as t")
    .innerJoin("identity.sessions as s", "s.id", "t.session_id")
    .select([
      "t.session_id",
      "t.used_at",
      "t.expires_at",
      "s.user_id",
      "s.revoked_at",
      "s.expires_at as session_expires_at",
    ])
    .where("t.token_hash", "=", tokenHash)
    .forUpdate()
    .executeTakeFirst();
}

export async function markRefreshTokenUsed(trx: IdentityDb, tokenHash: Buffer): Promise<void> {
  await trx
    .updateTable("identity.refresh_tokens")
    .set({ used_at: new Date() })
    .where("token_hash", "=", tokenHash)
    .execute();
}

/** A refresh: the session was used now, from this client. */
export async function touchSession(trx: IdentityDb, sessionId: string, client: SessionClient): Promise<void> {
  await trx
    .updateTable("identity.sessions")
    .set({ last_used_at: new Date(), ...client })
    .where("id", "=", sessionId)
    .execute();
}

/** Moves last_used_at to now unless it moved in the last `everyMs` (one cheap conditional write). */
export async function touchSessionAtMostEvery(db: IdentityDb, sessionId: string, everyMs: number): Promise<void> {
  await db
    .updateTable("identity.sessions")
    .set({ last_used_at: new Date() })
    .where("id", "=", sessionId)
    .where("last_used_at", "<", new Date(Date.now() - everyMs))
    .execute();
}

export type SessionRow = Pick<
  Selectable<SessionsTable>,
  "id" | "ip" | "user_agent" | "created_at" | "last_used_at" | "expires_at"
>;

/** A page of the user's active (unrevoked, unexpired) sessions, newest first. */
export function activeSessionsPage(
  db: IdentityDb,
  userId: string,
  after: string | undefined,
  limit: number,
): Promise<Page<SessionRow>> {
  const q = db
    .selectFrom("identity.sessions")
    .select(["id", "ip", "user_agent", "created_at", "last_used_at", "expires_at"])
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", new Date());
  return keysetPage(q, { key: "identity.sessions.id", after, limit, position: (r) => r.id });
}

/** Revokes the session (of `userId`, when given) unless it is revoked already; whether it did. */
export async function revokeSession(
  db: IdentityDb,
  sessionId: string,
  reason: string,
  userId?: string,
): Promise<boolean> {
  let q = db
    .updateTable("identity.sessions")
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where("id", "=", sessionId);
  if (userId !== undefined) q = q.where("user_id", "=", userId);
  const res = await q.where("revoked_at", "is", null).executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Revokes every active session of the user (but `except`); how many it revoked. */
export async function revokeAllSessions(
  db: IdentityDb,
  userId: string,
  reason: string,
  except?: string,
): Promise<number> {
  let q = db
    .updateTable("identity.sessions")
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null);
  if (except !== undefined) q = q.where("id", "!=", except);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export function sessionState(db: IdentityDb, sessionId: string) {
  return db
    .selectFrom("identity.sessions")
    .select(["revoked_at", "expires_at", "last_used_at"])
    .where("id", "=", sessionId)
    .executeTakeFirst();
}

// ---- two-factor sign-in (TOTP), its recovery codes and sign-in challenges

export type TwoFactorRow = Selectable<TwoFactorTable>;

export function twoFactorOf(db: IdentityDb, userId: string): Promise<TwoFactorRow | undefined> {
  return db.selectFrom("identity.two_factor").selectAll().where("user_id", "=", userId).executeTakeFirst();
}

/** The row locked for a code check (the last accepted step moves at most once per step). */
export function twoFactorForUpdate(trx: IdentityDb, userId: string): Promise<TwoFactorRow | undefined> {
  return trx.selectFrom("identity.two_factor").selectAll().where("user_id", "=", userId).forUpdate().executeTakeFirst();
}

/** A pending enrolment (a new secret, not on yet); replaces an earlier pending one. */
export async function upsertPendingTwoFactor(trx: IdentityDb, userId: string, sealedSecret: string): Promise<void> {
  await trx
    .insertInto("identity.two_factor")
    .values({ user_id: userId, sealed_secret: sealedSecret, enabled_at: null, last_time_step: 0 })
    .onConflict((oc) =>
      oc.column("user_id").doUpdateSet({ sealed_secret: sealedSecret, enabled_at: null, last_time_step: 0 }),
    )
    .execute();
}

export async function enableTwoFactor(trx: IdentityDb, userId: string, step: number, now: Date): Promise<void> {
  await trx
    .updateTable("identity.two_factor")
    .set({ enabled_at: now, last_time_step: step })
    .where("user_id", "=", userId)
    .execute();
}

export async function setLastTimeStep(trx: IdentityDb, userId: string, step: number): Promise<void> {
  await trx.updateTable("identity.two_factor").set({ last_time_step: step }).where("user_id", "=", userId).execute();
}

/** Turns two-factor sign-in off: the secret and the recovery codes go. */
export async function deleteTwoFactor(trx: IdentityDb, userId: string): Promise<void> {
  await trx.deleteFrom("identity.recovery_codes").where("user_id", "=", userId).execute();
  await trx.deleteFrom("identity.two_factor").where("user_id", "=", userId).execute();
}

/** The user's recovery codes are these (the old ones go). */
export async function replaceRecoveryCodes(trx: IdentityDb, userId: string, hashes: Buffer[]): Promise<void> {
  await trx.deleteFrom("identity.recovery_codes").where("user_id", "=", userId).execute();
  await trx
    .insertInto("identity.recovery_codes")
    .values(hashes.map((code_hash) => ({ user_id: userId, code_hash })))
    .execute();
}

/** Uses an unused recovery code of the user; whether there was one. */
export async function useRecoveryCode(trx: IdentityDb, userId: string, hash: Buffer, now: Date): Promise<boolean> {
  const res = await trx
    .updateTable("identity.recovery_codes")
    .set({ used_at: now })
    .where("user_id", "=", userId)
    .where("code_hash", "=", hash)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

export async function countRecoveryCodesLeft(db: IdentityDb, userId: string): Promise<number> {
  const row = await db
    .selectFrom("identity.recovery_codes")
    .select(sql<string>`count(*)`.as("n"))
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A new challenge; the user's used and expired ones go (the table holds only live ones, a few per user). */
export async function insertLoginChallenge(
  trx: IdentityDb,
  c: { token_hash: Buffer; user_id: string; expires_at: Date },
  now: Date,
): Promise<void> {
  await trx
    .deleteFrom("identity.login_challenges")
    .where("user_id", "=", c.user_id)
    .where((eb) => eb.or([eb("used_at", "is not", null), eb("expires_at", "<=", now)]))
    .execute();
  await trx.insertInto("identity.login_challenges").values(c).execute();
}

/** The challenge, locked for its single use. */
export function loginChallengeForUpdate(trx: IdentityDb, tokenHash: Buffer) {
  return trx
    .selectFrom("identity.login_challenges")
    .select(["user_id", "expires_at", "used_at"])
    .where("token_hash", "=", tokenHash)
    .forUpdate()
    .executeTakeFirst();
}

export async function useLoginChallenge(trx: IdentityDb, tokenHash: Buffer, now: Date): Promise<void> {
  await trx
    .updateTable("identity.login_challenges")
    .set({ used_at: now })
    .where("token_hash", "=", tokenHash)
    .execute();
}

// ---- username and email changes

/** The user's row, locked: one change of their name at a time (the cooldown is read under it). */
export function userForUpdate(trx: IdentityDb, id: string): Promise<UserRow | undefined> {
  return trx.selectFrom("identity.users").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

/** Serialises every claim on these names (sign-up, change) until the transaction ends; sorted, so no deadlock. */
export async function lockUsernames(trx: IdentityDb, usernames: string[]): Promise<void> {
  for (const u of [...new Set(usernames)].sort()) {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`identity.username:${u}`}))`.execute(trx);
  }
}

/** Whether the name is in use by, or reserved at `now` for, someone other than `userId`. */
export async function usernameHeldByOther(
  trx: IdentityDb,
  username: string,
  userId: string | undefined,
  now: Date,
): Promise<boolean> {
  const other = userId ?? "00000000-0000-0000-0000-000000000000";
  const inUse = await trx
    .selectFrom("identity.users")
    .select("id")
    .where("username", "=", username)
    .where("id", "!=", other)
    .executeTakeFirst();
  if (inUse) return true;
  const reserved = await trx
    .selectFrom("identity.username_reservations")
    .select("user_id")
    .where("username", "=", username)
    .where("user_id", "!=", other)
    .where("expires_at", ">", now)
    .executeTakeFirst();
  return reserved !== undefined;
}

/** Keeps `username` for `userId` until `expiresAt` (a reservation of it, expired or not, is replaced). */
export async function reserveUsername(trx: IdentityDb, username: string, userId: string, expiresAt: Date) {
  await trx
    .insertInto("identity.username_reservations")
    .values({ username, user_id: userId, expires_at: expiresAt })
    .onConflict((oc) => oc.column("username").doUpdateSet({ user_id: userId, expires_at: expiresAt }))
    .execute();
}

/** The name is taken (by its owner back, or by anyone once expired): its reservation goes. */
export async function dropUsernameReservation(trx: IdentityDb, username: string): Promise<void> {
  await trx.deleteFrom("identity.username_reservations").where("username", "=", username).execute();
}

export function setUsername(trx: IdentityDb, userId: string, username: string, now: Date) {
  return trx
    .updateTable("identity.users")
    .set({ username, username_changed_at: now, updated_at: now })
    .where("id", "=", userId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The new address, verified by the link that confirmed it. */
export function setEmail(trx: IdentityDb, userId: string, email: string, now: Date) {
  return trx
    .updateTable("identity.users")
    .set({ email, email_verified_at: now, updated_at: now })
    .where("id", "=", userId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The address an unused token was issued for (the mail of an email change goes to it). */
export async function emailOfToken(db: IdentityDb, tokenHash: Buffer): Promise<string | undefined> {
  const row = await db
    .selectFrom("identity.email_tokens")
    .select("email")
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
  return row?.email;
}

// ---- account deletion (rpc/requestAccountDeletion.ts, erasure.ts)

/** Schedules the account's erasure at `at` (a second request keeps the first date). */
export async function scheduleDeletion(trx: IdentityDb, userId: string, at: Date): Promise<Date> {
  const row = await trx
    .updateTable("identity.users")
    .set({ deletion_scheduled_at: sql<Date>`coalesce(deletion_scheduled_at, ${at})` })
    .where("id", "=", userId)
    .returning("deletion_scheduled_at")
    .executeTakeFirstOrThrow();
  return row.deletion_scheduled_at as Date;
}

/** Cancels a pending deletion; whether one was pending. */
export async function cancelDeletion(trx: IdentityDb, userId: string): Promise<boolean> {
  const res = await trx
    .updateTable("identity.users")
    .set({ deletion_scheduled_at: null })
    .where("id", "=", userId)
    .where("deletion_scheduled_at", "is not", null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Accounts whose deletion is due at `now`, locked (skipping those another eraser holds). */
export function dueForErasure(trx: IdentityDb, now: Date, limit: number) {
  return trx
    .selectFrom("identity.users")
    .select(["id"])
    .where("deletion_scheduled_at", "<=", now)
    .orderBy("deletion_scheduled_at")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** Deletes every row identity holds of the user (children first: the foreign keys restrict). */
export async function deleteUserRows(trx: IdentityDb, userId: string): Promise<void> {
  await trx
    .deleteFrom("identity.refresh_tokens")
    .where("session_id", "in", (q) => q.selectFrom("identity.sessions").select("id").where("user_id", "=", userId))
    .execute();
  await trx.deleteFrom("identity.sessions").where("user_id", "=", userId).execute();
  await trx.deleteFrom("identity.email_tokens").where("user_id", "=", userId).execute();
  await trx.deleteFrom("identity.recovery_codes").where("user_id", "=", userId).execute();
  await trx.deleteFrom("identity.two_factor").where("user_id", "=", userId).execute();
  await trx.deleteFrom("identity.login_challenges").where("user_id", "=", userId).execute();
  await trx.deleteFrom("identity.username_reservations").where("user_id", "=", userId).execute();
  // account_restrictions goes with the row (ON DELETE CASCADE).
  await trx.deleteFrom("identity.users").where("id", "=", userId).execute();
}
