/** CancelAccountDeletion: the caller's pending deletion is dropped (the owner is mailed). */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CancelAccountDeletionResponseSchema,
  type IdentityService,
} from "../../../gen/nova/identity/v1/identity_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, writeAccountEvents } from "../events.ts";
import { cancelDeletion } from "../queries.ts";

export function cancelAccountDeletion(id: Identity): ServiceImpl<typeof IdentityService>["cancelAccountDeletion"] {
  return async () => {
    const me = requireUser();
    const cancelled = await id.writer.transaction().execute(async (trx) => {
      const done = await cancelDeletion(trx, me.userId);
      if (done)
        await writeAccountEvents(id.outbox, trx, accountEvent("AccountDeletionCancelled", { userId: me.userId }));
      return done;
    });
    return create(CancelAccountDeletionResponseSchema, { cancelled });
  };
}
