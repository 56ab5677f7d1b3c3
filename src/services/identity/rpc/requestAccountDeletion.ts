/**
 * RequestAccountDeletion: with the password (and a code when two-factor sign-in is on) the account's
 * erasure is scheduled ACCOUNT_ERASE_AFTER_DAYS ahead (erasure.ts erases it then); every other session
 * ends and the owner is mailed. A wrong password or code counts as a failed login (the same lockout).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type IdentityService,
  RequestAccountDeletionResponseSchema,
} from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { verifyPassword } from "../../../platform/security/password.ts";
import { wellFormed } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, writeAccountEvents } from "../events.ts";
import { revokeAllSessions, scheduleDeletion, twoFactorForUpdate, twoFactorOf, userById } from "../queries.ts";
import { codeRefusal, countFailedCode, lockedAt, parseCode, useCode } from "../totp.ts";

export function requestAccountDeletion(id: Identity): ServiceImpl<typeof IdentityService>["requestAccountDeletion"] {
  return async (req) => {
    const me = requireUser();
    wellFormed("password", req.password);
    if (req.password === "") throw invalid("password", "is required");
    const user = await userById(id.writer, me.userId);
    if (!user) throw new NovaError("UNAUTHENTICATED");
    const now = id.now();
    const locked = lockedAt(user, now);
    const ok = req.password.length <= 1024 && (await verifyPassword(user.password_hash, req.password));
    if (!ok || locked) {
      if (!ok && !locked) await countFailedCode(id, id.writer, user.id);
      throw invalid("password", locked ? "too many failed attempts; try again later" : "is incorrect");
    }
    const twoFactorOn = Boolean((await twoFactorOf(id.writer, user.id))?.enabled_at);
    const code = twoFactorOn ? parseCode(req.code) : undefined;
    const outcome = await id.writer.transaction().execute(async (trx) => {
      if (code) {
        const row = await twoFactorForUpdate(trx, user.id);
        if (row?.enabled_at) {
          const used = await useCode(id, trx, row, code, now);
          if (used !== "ok") return { problem: used, at: undefined };
        }
      }
      const at = await scheduleDeletion(trx, user.id, new Date(now + id.opt.eraseAfterMs));
      const revoked = await revokeAllSessions(trx, user.id, "account deletion requested", me.sessionId);
      await writeAccountEvents(
        id.outbox,
        trx,
        accountEvent("AccountDeletionRequested", { userId: user.id, eraseAt: at.toISOString() }),
      );
      return { at, revoked, problem: undefined };
    });
    if (outcome.at === undefined) {
      await countFailedCode(id, id.writer, user.id);
      throw codeRefusal(outcome.problem);
    }
    await id.profiles?.invalidate([user.id]);
    return create(RequestAccountDeletionResponseSchema, {
      deletionScheduledAt: outcome.at.toISOString(),
      sessionsRevoked: outcome.revoked,
    });
  };
}
