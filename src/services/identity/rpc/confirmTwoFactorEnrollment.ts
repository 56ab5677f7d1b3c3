/**
 * ConfirmTwoFactorEnrollment: a first code from the pending secret turns two-factor sign-in on; the
 * answer holds ten one-use recovery codes (stored hashed, never shown again) and the owner is mailed.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ConfirmTwoFactorEnrollmentResponseSchema,
  type IdentityService,
} from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, writeAccountEvents } from "../events.ts";
import { enableTwoFactor, replaceRecoveryCodes, twoFactorForUpdate } from "../queries.ts";
import { checkTotp, newRecoveryCodes, parseCode } from "../totp.ts";

export function confirmTwoFactorEnrollment(
  id: Identity,
): ServiceImpl<typeof IdentityService>["confirmTwoFactorEnrollment"] {
  return async (req) => {
    const me = requireUser();
    const code = parseCode(req.code, "code", false);
    if (code.kind !== "totp") throw invalid("code", "must be a 6-digit code");
    const recovery = newRecoveryCodes();
    await id.writer.transaction().execute(async (trx) => {
      const row = await twoFactorForUpdate(trx, me.userId);
      if (!row) throw new NovaError("NOT_FOUND", "no two-factor enrolment was begun");
      if (row.enabled_at) throw new NovaError("ALREADY_EXISTS", "two-factor sign-in is already on");
      const now = id.now();
      const checked = await checkTotp(id, row, code.value, now);
      if ("problem" in checked) throw invalid("code", "is incorrect");
      await enableTwoFactor(trx, me.userId, checked.step, new Date(now));
      await replaceRecoveryCodes(trx, me.userId, recovery.hashes);
      await writeAccountEvents(id.outbox, trx, accountEvent("TwoFactorEnabled", { userId: me.userId }));
    });
    return create(ConfirmTwoFactorEnrollmentResponseSchema, { recoveryCodes: recovery.codes });
  };
}
