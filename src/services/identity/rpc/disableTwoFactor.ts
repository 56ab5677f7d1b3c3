/**
 * DisableTwoFactor: a current code (or a recovery code) turns two-factor sign-in off; the secret and
 * the recovery codes go and the owner is mailed. A wrong code counts as a failed login, so a stolen
 * session cannot try codes without end.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { DisableTwoFactorResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, writeAccountEvents } from "../events.ts";
import { deleteTwoFactor, twoFactorForUpdate, userById } from "../queries.ts";
import { codeRefusal, countFailedCode, lockedAt, parseCode, useCode } from "../totp.ts";

export function disableTwoFactor(id: Identity): ServiceImpl<typeof IdentityService>["disableTwoFactor"] {
  return async (req) => {
    const me = requireUser();
    const code = parseCode(req.code);
    const now = id.now();
    const problem = await id.writer.transaction().execute(async (trx) => {
      const user = await userById(trx, me.userId);
      if (!user) throw new NovaError("UNAUTHENTICATED");
      if (lockedAt(user, now)) return "locked" as const;
      const row = await twoFactorForUpdate(trx, me.userId);
      if (!row?.enabled_at) throw new NovaError("NOT_FOUND", "two-factor sign-in is not on");
      const used = await useCode(id, trx, row, code, now);
      if (used !== "ok") return used;
      await deleteTwoFactor(trx, me.userId);
      await writeAccountEvents(id.outbox, trx, accountEvent("TwoFactorDisabled", { userId: me.userId }));
      return undefined;
    });
    if (problem) {
      if (problem !== "locked") await countFailedCode(id, id.writer, me.userId);
      throw codeRefusal(problem);
    }
    return create(DisableTwoFactorResponseSchema, {});
  };
}
