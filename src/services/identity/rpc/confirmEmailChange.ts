/**
 * ConfirmEmailChange: the token mailed to the new address makes it the account's, verified (the
 * link proved it is read). The old address is told (EmailChanged carries it sealed), and the reset
 * links it was sent stop working. The token alone is enough: the link may be opened signed out.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ConfirmEmailChangeResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid } from "../../../platform/errors.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, sealContext, writeAccountEvents } from "../events.ts";
import { takeMailToken } from "../mail-tokens.ts";
import { setEmail, useEmailTokens, userByEmail, userById } from "../queries.ts";
import { toUser } from "../users.ts";

export function confirmEmailChange(id: Identity): ServiceImpl<typeof IdentityService>["confirmEmailChange"] {
  return async (req) => {
    try {
      const row = await id.writer.transaction().execute(async (trx) => {
        const { userId, email } = await takeMailToken(trx, req.token, "change_email");
        const before = await userById(trx, userId);
        if (!before) throw new Error(`confirmEmailChange: user ${userId} of a live token is gone`);
        const holder = await userByEmail(trx, email);
        if (holder && holder.id !== userId) throw taken();
        const row = await setEmail(trx, userId, email, new Date(id.now()));
        await useEmailTokens(trx, userId, "reset_password");
        const sealedOldEmail = id.sealer.seal(before.email, sealContext("EmailChanged", userId));
        await writeAccountEvents(id.outbox, trx, accountEvent("EmailChanged", { userId, sealedOldEmail }));
        return row;
      });
      return create(ConfirmEmailChangeResponseSchema, { user: toUser(row, row.id) });
    } catch (err) {
      const e = err as { code?: string; constraint?: string };
      // Registered by someone else since the link was sent (a race with the check above).
      if (e.code === "23505" && e.constraint === "users_email_key") throw taken();
      throw err;
    }
  };
}

/** Only the reader of the new address's mail gets this: it says nothing they could not learn by signing up. */
function taken() {
  return invalid("token", "its address is now registered to another account");
}
