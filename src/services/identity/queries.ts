/**
 * Identity's SQL, over its typed tables (users, sessions and the refresh
 * tokens of each session). Identity never reads another service's tables.
 */
import type { Generated, Kysely, Selectable } from "kysely";
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
}
interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: Generated<Date>;
  last_used_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}
interface RefreshTokensTable {
  token_hash: Buffer;
  session_id: string;
  created_at: Generated<Date>;
  expires_at: Date;
  used_at: Date | null;
}
export type EmailTokenPurpose = "verify_email" | "reset_password";
interface EmailTokensTable {
  token_hash: Buffer;
  user_id: string;
  purpose: EmailTokenPurpose;
  email: string;
  created_at: Generated<Date>;
  expires_at: Date;
  used_at: Date | null;
}
export interface IdentityTables {
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
    .select(["id", "username", "display_name", "bio", "avatar_url", "created_at", "follower_count", "following_count"])
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

export async function usernameTaken(db: IdentityDb, username: string): Promise<boolean> {
  return (
    (await db.selectFrom("identity.users").select("id").where("username", "=", username).executeTakeFirst()) !==
    undefined
  );
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

/** Counts a failed login; the `max`-th one locks the account for `lockoutMs` and resets the count. */
export async function countFailedLogin(db: IdentityDb, userId: string, max: number, lockoutMs: number): Promise<void> {
  await db
    .updateTable("identity.users")
    .set({
      failed_logins: sql`CASE WHEN failed_logins + 1 >= ${max} THEN 0 ELSE failed_logins + 1 END`,
      locked_until: sql`CASE WHEN failed_logins + 1 >= ${max}
                         THEN now() + make_interval(secs => ${lockoutMs / 1000}) ELSE locked_until END`,
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
  set: { display_name?: string; bio?: string; avatar_url?: string },
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

export async function insertSession(trx: IdentityDb, userId: string, expiresAt: Date): Promise<string> {
  const session = await trx
    .insertInto("identity.sessions")
    .values({ user_id: userId, expires_at: expiresAt })
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

export async function touchSession(trx: IdentityDb, sessionId: string): Promise<void> {
  await trx.updateTable("identity.sessions").set({ last_used_at: new Date() }).where("id", "=", sessionId).execute();
}

/** Revokes the session (of `userId`, when given) unless it is revoked already. */
export async function revokeSession(db: IdentityDb, sessionId: string, reason: string, userId?: string): Promise<void> {
  let q = db
    .updateTable("identity.sessions")
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where("id", "=", sessionId);
  if (userId !== undefined) q = q.where("user_id", "=", userId);
  await q.where("revoked_at", "is", null).execute();
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
    .select(["revoked_at", "expires_at"])
    .where("id", "=", sessionId)
    .executeTakeFirst();
}
