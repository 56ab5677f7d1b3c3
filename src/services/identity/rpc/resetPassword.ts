/** ResetPassword: a reset token (single use, 30 min) sets a new password and ends every session. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, ResetPasswordResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { hashPassword } from "../../../platform/security/password.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, writeAccountEvents } from "../events.ts";
import { useMailToken } from "../mail-tokens.ts";
import { revokeAllSessions, setPassword } from "../queries.ts";
import { validatePassword } from "../validation.ts";

export function resetPassword(id: Identity): ServiceImpl<typeof IdentityService>["resetPassword"] {
  return async (req) => {
    const password = validatePassword(req.newPassword, "newPassword");
    const hash = await hashPassword(password);
    const userId = await id.writer.transaction().execute(async (trx) => {
      const userId = await useMailToken(trx, req.token, "reset_password");
      await setPassword(trx, userId, hash);
      await revokeAllSessions(trx, userId, "password reset");
      await writeAccountEvents(id.outbox, trx, accountEvent("PasswordChanged", { userId, how: "reset" }));
      return userId;
    });
    return create(ResetPasswordResponseSchema, { userId });
  };
}
