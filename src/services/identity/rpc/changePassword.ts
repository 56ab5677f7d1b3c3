/**
 * ChangePassword: the current password sets a new one; every other session ends and the owner
 * is mailed. A wrong current password counts as a failed login (the same lockout).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ChangePasswordResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { hashPassword, verifyPassword } from "../../../platform/security/password.ts";
import { wellFormed } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, writeAccountEvents } from "../events.ts";
import { countFailedLogin, revokeAllSessions, setPassword, userById } from "../queries.ts";
import { validatePassword } from "../validation.ts";

export function changePassword(id: Identity): ServiceImpl<typeof IdentityService>["changePassword"] {
  return async (req) => {
    const me = requireUser();
    wellFormed("currentPassword", req.currentPassword);
    if (req.currentPassword === "") throw invalid("currentPassword", "is required");
    const password = validatePassword(req.newPassword, "newPassword");
    const user = await userById(id.writer, me.userId);
    if (!user) throw new NovaError("UNAUTHENTICATED");
    const locked = user.locked_until !== null && user.locked_until.getTime() > Date.now();
    const ok = req.currentPassword.length <= 1024 && (await verifyPassword(user.password_hash, req.currentPassword));
    if (!ok || locked) {
      if (!ok && !locked) await countFailedLogin(id.writer, user.id, id.opt.maxFailedLogins, id.opt.lockoutMs);
      throw invalid("currentPassword", locked ? "too many failed attempts; try again later" : "is incorrect");
    }
    if (req.newPassword === req.currentPassword) throw invalid("newPassword", "must differ from the current password");
    const hash = await hashPassword(password);
    const sessionsRevoked = await id.writer.transaction().execute(async (trx) => {
      await setPassword(trx, user.id, hash);
      const n = await revokeAllSessions(trx, user.id, "password changed", me.sessionId);
      await writeAccountEvents(id.outbox, trx, accountEvent("PasswordChanged", { userId: user.id, how: "change" }));
      return n;
    });
    return create(ChangePasswordResponseSchema, { sessionsRevoked });
  };
}
