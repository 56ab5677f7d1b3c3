/**
 * The identity service (nova.identity.v1): registration, login with lockout,
 * rotating refresh tokens with reuse detection, logout, profiles and the
 * public keys that verify access tokens.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Generated, Kysely, Selectable, Transaction } from "kysely";
import { sql } from "kysely";
import {
  BatchGetUsersResponseSchema,
  CheckSessionResponseSchema,
  GetJwksResponseSchema,
  GetUserByUsernameResponseSchema,
  GetUserResponseSchema,
  type IdentityService,
  LoginResponseSchema,
  LogoutAllResponseSchema,
  LogoutResponseSchema,
  RefreshTokenResponseSchema,
  RegisterResponseSchema,
  ResolveUsernamesResponseSchema,
  ScanUsersResponseSchema,
  type Tokens,
  TokensSchema,
  UpdateProfileResponseSchema,
  type User,
  UserSchema,
} from "../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../platform/errors.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { decodeCursor, ID, keysetPage, pageSize, SCAN } from "../../platform/paging.ts";
import { requireModuleOrAdmin } from "../../platform/rpc/authz.ts";
import { optionalUser, requireUser } from "../../platform/rpc/context.ts";
import { ACCESS_TOKEN, type Signer } from "../../platform/security/jwt.ts";
import { burnVerify, hashPassword, verifyPassword } from "../../platform/security/password.ts";
import { newOpaqueToken, sha256 } from "../../platform/security/secrets.ts";
import { uuid, wellFormed } from "../../platform/validate.ts";
import {
  validateAvatarUrl,
  validateBio,
  validateDisplayName,
  validateEmail,
  validatePassword,
  validateUsername,
} from "./validation.ts";

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
  role: Generated<"user" | "admin">;
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
export interface IdentityTables {
  "identity.users": UsersTable;
  "identity.sessions": SessionsTable;
  "identity.refresh_tokens": RefreshTokensTable;
}

type UserRow = Selectable<UsersTable>;

export interface IdentityOptions {
  maxFailedLogins: number;
  lockoutMs: number;
  refreshTtlMs: number;
  sessionMaxMs: number;
}

export const IDENTITY_DEFAULTS: IdentityOptions = {
  maxFailedLogins: 5,
  lockoutMs: 15 * 60_000,
  refreshTtlMs: 30 * 24 * 3_600_000,
  sessionMaxMs: 90 * 24 * 3_600_000,
};

export const MAX_BATCH = 100;

/** Modules that may page through every user (to rebuild their projections). */
const SCANNERS = ["search"] as const;

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

/** Public profiles by id, through the two-tier cache (identity:user). */
export interface ProfileCache {
  getMany(
    ids: readonly string[],
    loader: (missing: string[]) => Promise<Map<string, PublicProfile>>,
  ): Promise<Map<string, PublicProfile>>;
  /** After a commit that changed these users' profiles. */
  invalidate(ids: readonly string[]): Promise<void>;
}

export interface IdentityDeps {
  db: { writer: Kysely<IdentityTables>; reader: Kysely<IdentityTables> };
  signer: Signer;
  /** Writes UserRegistered / ProfileUpdated in the same transaction as the change. */
  outbox: Outbox;
  options?: Partial<IdentityOptions>;
  profiles?: ProfileCache;
}

export async function loadProfiles(db: Kysely<IdentityTables>, ids: string[]): Promise<Map<string, PublicProfile>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("identity.users")
    .select(["id", "username", "display_name", "bio", "avatar_url", "created_at", "follower_count", "following_count"])
    .where("id", "in", ids)
    .execute();
  return new Map(rows.map((r) => [r.id, { ...r, created_at: r.created_at.toISOString() }]));
}

/** The User message: the email only for its owner (and only from a full row). */
function toUser(row: UserRow | PublicProfile, viewerId: string | undefined): User {
  return create(UserSchema, {
    id: row.id,
    username: row.username,
    email: "email" in row && viewerId === row.id ? row.email : "",
    displayName: row.display_name,
    bio: row.bio,
    avatarUrl: row.avatar_url,
    createdAt: typeof row.created_at === "string" ? row.created_at : row.created_at.toISOString(),
    followerCount: row.follower_count,
    followingCount: row.following_count,
  });
}

/** The public profile, as identity's events carry it (topic nova.identity.user). */
function userEvent(type: "UserRegistered" | "ProfileUpdated", row: UserRow): NewEvent {
  return {
    type,
    aggregateType: "user",
    aggregateId: row.id,
    actorId: row.id,
    payload: {
      userId: row.id,
      username: row.username,
      displayName: row.display_name,
      bio: row.bio,
      avatarUrl: row.avatar_url,
      createdAt: row.created_at.toISOString(),
    },
  };
}

function uniqueViolation(err: unknown): string | undefined {
  const e = err as { code?: string; constraint?: string };
  return e.code === "23505" ? e.constraint : undefined;
}

export function createIdentityService(deps: IdentityDeps): ServiceImpl<typeof IdentityService> {
  const { writer, reader } = deps.db;
  const opt = { ...IDENTITY_DEFAULTS, ...deps.options };

  /** Starts a session (a refresh-token family) and returns its first tokens. */
  async function openSession(
    trx: Kysely<IdentityTables>,
    userId: string,
  ): Promise<{ sessionId: string; refresh: string }> {
    const now = Date.now();
    const session = await trx
      .insertInto("identity.sessions")
      .values({ user_id: userId, expires_at: new Date(now + opt.sessionMaxMs) })
      .returning("id")
      .executeTakeFirstOrThrow();
    const refresh = newOpaqueToken();
    await trx
      .insertInto("identity.refresh_tokens")
      .values({ token_hash: sha256(refresh), session_id: session.id, expires_at: new Date(now + opt.refreshTtlMs) })
      .execute();
    return { sessionId: session.id, refresh };
  }

  async function tokens(userId: string, sessionId: string, refresh: string): Promise<Tokens> {
    // The role is read at every issue, so a grant or revocation shows in the next access token.
    const u = await writer.selectFrom("identity.users").select("role").where("id", "=", userId).executeTakeFirst();
    return create(TokensSchema, {
      accessToken: await deps.signer.sign(userId, sessionId, undefined, u?.role === "admin" ? ["admin"] : []),
      refreshToken: refresh,
      expiresIn: ACCESS_TOKEN.ttlSeconds,
    });
  }

  return {
    async register(req) {
      const email = validateEmail(req.email);
      const username = validateUsername(req.username);
      const password = validatePassword(req.password);
      const hash = await hashPassword(password);
      try {
        const { user, session } = await writer.transaction().execute(async (trx) => {
          const user = await trx
            .insertInto("identity.users")
            .values({ email, username, password_hash: hash })
            .returningAll()
            .executeTakeFirstOrThrow();
          await deps.outbox.emit(trx as Transaction<unknown>, userEvent("UserRegistered", user));
          return { user, session: await openSession(trx, user.id) };
        });
        return create(RegisterResponseSchema, {
          tokens: await tokens(user.id, session.sessionId, session.refresh),
          user: toUser(user, user.id),
        });
      } catch (err) {
        const constraint = uniqueViolation(err);
        if (constraint === "users_username_key") {
          throw new NovaError("ALREADY_EXISTS", "username: is already taken", { field: "username" });
        }
        if (constraint === "users_email_key") {
          throw new NovaError("ALREADY_EXISTS", "email: is already registered", { field: "email" });
        }
        throw err;
      }
    },

    async login(req) {
      // NUL would reach SQL (PostgreSQL refuses it: INTERNAL); a password is hashed, but is text all the same.
      const identifier = wellFormed("identifier", req.identifier).trim();
      wellFormed("password", req.password);
      if (identifier === "") throw invalid("identifier", "is required");
      if (req.password === "") throw invalid("password", "is required");
      if (identifier.length > 254 || req.password.length > 1024) {
        // Not a real account either way; spend the same work.
        await burnVerify(req.password);
        throw new NovaError("INVALID_CREDENTIALS");
      }
      // Lockout state must be current: read the writer.
      const user = await writer
        .selectFrom("identity.users")
        .selectAll()
        .where((eb) =>
          identifier.includes("@")
            ? eb(sql`lower(email)`, "=", identifier.toLowerCase())
            : eb("username", "=", identifier.toLowerCase()),
        )
        .executeTakeFirst();
      if (!user) {
        await burnVerify(req.password);
        throw new NovaError("INVALID_CREDENTIALS");
      }
      const ok = await verifyPassword(user.password_hash, req.password);
      const locked = user.locked_until !== null && user.locked_until.getTime() > Date.now();
      if (!ok || locked) {
        if (!ok && !locked) {
          // Count the failure; the Nth one locks the account and resets the count.
          await writer
            .updateTable("identity.users")
            .set({
              failed_logins: sql`CASE WHEN failed_logins + 1 >= ${opt.maxFailedLogins} THEN 0 ELSE failed_logins + 1 END`,
              locked_until: sql`CASE WHEN failed_logins + 1 >= ${opt.maxFailedLogins}
                                 THEN now() + make_interval(secs => ${opt.lockoutMs / 1000}) ELSE locked_until END`,
            })
            .where("id", "=", user.id)
            .execute();
        }
        // Same answer for unknown account, wrong password and locked account.
        throw new NovaError("INVALID_CREDENTIALS");
      }
      const session = await writer.transaction().execute(async (trx) => {
        await trx
          .updateTable("identity.users")
          .set({ failed_logins: 0, locked_until: null })
          .where("id", "=", user.id)
          .execute();
        return openSession(trx, user.id);
      });
      return create(LoginResponseSchema, {
        tokens: await tokens(user.id, session.sessionId, session.refresh),
        user: toUser(user, user.id),
      });
    },

    async refreshToken(req) {
      if (req.refreshToken === "" || req.refreshToken.length > 512) throw invalid("token", "is required");
      const hash = sha256(req.refreshToken);
      const outcome = await writer.transaction().execute(async (trx) => {
        const row = await trx
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
          .where("t.token_hash", "=", hash)
          .forUpdate()
          .executeTakeFirst();
        if (!row) return { error: "unknown" as const };
        if (row.used_at !== null) {
          // Reuse of a rotated token: the family is compromised; revoke it.
          await trx
            .updateTable("identity.sessions")
            .set({ revoked_at: new Date(), revoked_reason: "refresh token reuse" })
            .where("id", "=", row.session_id)
            .where("revoked_at", "is", null)
            .execute();
          return { error: "reused" as const };
        }
        const now = Date.now();
        if (row.revoked_at !== null || row.expires_at.getTime() <= now || row.session_expires_at.getTime() <= now) {
          return { error: "expired" as const };
        }
        await trx
          .updateTable("identity.refresh_tokens")
          .set({ used_at: new Date() })
          .where("token_hash", "=", hash)
          .execute();
        const refresh = newOpaqueToken();
        await trx
          .insertInto("identity.refresh_tokens")
          .values({
            token_hash: sha256(refresh),
            session_id: row.session_id,
            expires_at: new Date(now + opt.refreshTtlMs),
          })
          .execute();
        await trx
          .updateTable("identity.sessions")
          .set({ last_used_at: new Date() })
          .where("id", "=", row.session_id)
          .execute();
        return { userId: row.user_id, sessionId: row.session_id, refresh };
      });
      if ("error" in outcome) throw new NovaError("TOKEN_INVALID", undefined, { field: "token" });
      return create(RefreshTokenResponseSchema, {
        tokens: await tokens(outcome.userId, outcome.sessionId, outcome.refresh),
      });
    },

    async logout() {
      const user = requireUser();
      await writer
        .updateTable("identity.sessions")
        .set({ revoked_at: new Date(), revoked_reason: "logout" })
        .where("id", "=", user.sessionId)
        .where("user_id", "=", user.userId)
        .where("revoked_at", "is", null)
        .execute();
      return create(LogoutResponseSchema, {});
    },

    async logoutAll() {
      const user = requireUser();
      const res = await writer
        .updateTable("identity.sessions")
        .set({ revoked_at: new Date(), revoked_reason: "logout all" })
        .where("user_id", "=", user.userId)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return create(LogoutAllResponseSchema, { sessionsRevoked: Number(res.numUpdatedRows) });
    },

    async checkSession(req) {
      const id = uuid("sessionId", req.sessionId);
      // Revocation must take effect at once: read the writer.
      const row = await writer
        .selectFrom("identity.sessions")
        .select(["revoked_at", "expires_at"])
        .where("id", "=", id)
        .executeTakeFirst();
      const active = !!row && row.revoked_at === null && row.expires_at.getTime() > Date.now();
      return create(CheckSessionResponseSchema, { active });
    },

    async getUser(req) {
      const id = uuid("id", req.id);
      const viewer = optionalUser()?.userId;
      // The viewer's own profile right after an update must be fresh: read the writer.
      const db = viewer === id ? writer : reader;
      const row = await db.selectFrom("identity.users").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) throw new NovaError("NOT_FOUND", "user not found", { field: "id" });
      return create(GetUserResponseSchema, { user: toUser(row, viewer) });
    },

    async batchGetUsers(req) {
      if (req.ids.length > MAX_BATCH) throw invalid("ids", `at most ${MAX_BATCH} ids`);
      const ids = [...new Set(req.ids.map((id) => uuid("ids", id)))];
      if (ids.length === 0) return create(BatchGetUsersResponseSchema, { users: [] });
      const viewer = optionalUser()?.userId;
      // Others' public profiles through the cache; the viewer's own row (with the email) from the primary.
      const others = ids.filter((id) => id !== viewer);
      const byId = new Map<string, UserRow | PublicProfile>(
        deps.profiles
          ? await deps.profiles.getMany(others, (missing) => loadProfiles(writer, missing))
          : await loadProfiles(reader, others),
      );
      if (viewer && ids.includes(viewer)) {
        const own = await writer.selectFrom("identity.users").selectAll().where("id", "=", viewer).executeTakeFirst();
        if (own) byId.set(own.id, own);
      }
      const users = req.ids.flatMap((id) => {
        const r = byId.get(id.trim().toLowerCase());
        return r ? [toUser(r, viewer)] : [];
      });
      return create(BatchGetUsersResponseSchema, { users });
    },

    async resolveUsernames(req) {
      if (req.usernames.length > MAX_BATCH) throw invalid("usernames", `at most ${MAX_BATCH} usernames`);
      const names = [...new Set(req.usernames.map((u) => u.trim().toLowerCase()))];
      for (const n of names)
        if (!/^[a-z0-9_]{1,30}$/.test(n)) throw invalid("usernames", `"${n}" is not a valid username`);
      if (names.length === 0) return create(ResolveUsernamesResponseSchema, { users: [] });
      const viewer = optionalUser()?.userId;
      const rows = await reader.selectFrom("identity.users").selectAll().where("username", "in", names).execute();
      return create(ResolveUsernamesResponseSchema, { users: rows.map((r) => toUser(r, viewer)) });
    },

    async getUserByUsername(req) {
      const username = req.username.trim().toLowerCase();
      if (!/^[a-z0-9_]{1,30}$/.test(username)) throw invalid("username", "is not a valid username");
      const row = await reader
        .selectFrom("identity.users")
        .selectAll()
        .where("username", "=", username)
        .executeTakeFirst();
      if (!row) throw new NovaError("NOT_FOUND", "user not found", { field: "username" });
      return create(GetUserByUsernameResponseSchema, { user: toUser(row, optionalUser()?.userId) });
    },

    async updateProfile(req) {
      const user = requireUser();
      const set: { display_name?: string; bio?: string; avatar_url?: string } = {};
      if (req.displayName !== undefined) set.display_name = validateDisplayName(req.displayName);
      if (req.bio !== undefined) set.bio = validateBio(req.bio);
      if (req.avatarUrl !== undefined) set.avatar_url = validateAvatarUrl(req.avatarUrl);
      const row = await writer.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable("identity.users")
          .set({ ...set, updated_at: new Date() })
          .where("id", "=", user.userId)
          .returningAll()
          .executeTakeFirst();
        if (row) await deps.outbox.emit(trx as Transaction<unknown>, userEvent("ProfileUpdated", row));
        return row;
      });
      if (!row) throw new NovaError("NOT_FOUND", "user not found");
      await deps.profiles?.invalidate([row.id]);
      return create(UpdateProfileResponseSchema, { user: toUser(row, user.userId) });
    },

    getJwks() {
      return create(GetJwksResponseSchema, { jwksJson: JSON.stringify(deps.signer.jwks()) });
    },

    async scanUsers(req) {
      requireModuleOrAdmin(SCANNERS);
      const limit = pageSize(req.limit, SCAN);
      const after = decodeCursor(req.cursor, ID);
      const page = await keysetPage(reader.selectFrom("identity.users").selectAll(), {
        key: "identity.users.id",
        after,
        limit,
        order: "asc",
        position: (r) => r.id,
      });
      const total = after
        ? 0n
        : BigInt(
            (await reader.selectFrom("identity.users").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow())
              .n,
          );
      return create(ScanUsersResponseSchema, {
        users: page.rows.map((r) => toUser(r, undefined)),
        nextCursor: page.nextCursor,
        total,
      });
    },
  };
}
