/**
 * Login with lockout: the same answer (INVALID_CREDENTIALS) for an unknown
 * account, a wrong password and a locked account, and the same work for each.
 * An account with two-factor sign-in gets a challenge instead of a session
 * (CompleteTwoFactorLogin takes it with a code); its failed-login count is
 * left as it is until the code is right, so codes share the password's lockout.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, LoginResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { burnVerify, verifyPassword } from "../../../platform/security/password.ts";
import { newOpaqueToken, sha256 } from "../../../platform/security/secrets.ts";
import { wellFormed } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { clearFailedLogins, insertLoginChallenge, twoFactorOf, userByIdentifier } from "../queries.ts";
import { issueTokens, openSession } from "../sessions.ts";
import { countFailedCode, lockedAt } from "../totp.ts";
import { toUser } from "../users.ts";

export function login(id: Identity): ServiceImpl<typeof IdentityService>["login"] {
  return async (req) => {
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
    const user = await userByIdentifier(id.writer, identifier);
    if (!user) {
      await burnVerify(req.password);
      throw new NovaError("INVALID_CREDENTIALS");
    }
    const ok = await verifyPassword(user.password_hash, req.password);
    const locked = lockedAt(user, id.now());
    if (!ok || locked) {
      // Count the failure; the Nth one locks the account and resets the count.
      if (!ok && !locked) await countFailedCode(id, id.writer, user.id);
      // Same answer for unknown account, wrong password and locked account.
      throw new NovaError("INVALID_CREDENTIALS");
    }
    if ((await twoFactorOf(id.writer, user.id))?.enabled_at) {
      const challenge = newOpaqueToken();
      const ttl = id.opt.twoFactorChallengeTtlMs;
      const now = id.now();
      await insertLoginChallenge(
        id.writer,
        { token_hash: sha256(challenge), user_id: user.id, expires_at: new Date(now + ttl) },
        new Date(now),
      );
      return create(LoginResponseSchema, { twoFactorChallenge: challenge, challengeExpiresIn: Math.floor(ttl / 1000) });
    }
    const session = await id.writer.transaction().execute(async (trx) => {
      await clearFailedLogins(trx, user.id);
      return openSession(id, trx, user.id, req.client);
    });
    return create(LoginResponseSchema, {
      tokens: await issueTokens(id, user.id, session.sessionId, session.refresh),
      // The row was read before the sign-in cancelled a pending deletion.
      user: toUser(session.deletionCancelled ? { ...user, deletion_scheduled_at: null } : user, user.id),
      deletionCancelled: session.deletionCancelled,
    });
  };
}
