/**
 * ChangeUsername: a new name, at most once per cooldown (30 days). The old name stays the user's for
 * 30 days (anyone else is told it is taken) and they may take it back. The row and its
 * ProfileUpdated (carrying the new name: search and the other projections follow) commit together.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ChangeUsernameResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { profilePayload, userEvent, writeUserEvents } from "../events.ts";
import { dropUsernameReservation, reserveUsername, setUsername, userForUpdate } from "../queries.ts";
import { claimUsername } from "../usernames.ts";
import { toUser } from "../users.ts";
import { validateUsername } from "../validation.ts";

export function changeUsername(id: Identity): ServiceImpl<typeof IdentityService>["changeUsername"] {
  return async (req) => {
    const me = requireUser();
    const username = validateUsername(req.username);
    const now = new Date(id.now());
    const row = await id.writer.transaction().execute(async (trx) => {
      const user = await userForUpdate(trx, me.userId);
      if (!user) throw new NovaError("UNAUTHENTICATED");
      if (user.username === username) throw invalid("username", "is already your username");
      const next = user.username_changed_at && user.username_changed_at.getTime() + id.opt.usernameCooldownMs;
      if (next && next > now.getTime()) {
        throw invalid("username", `can be changed again from ${new Date(next).toISOString()}`);
      }
      await claimUsername(trx, username, user.id, now, [user.username]);
      await dropUsernameReservation(trx, username);
      const row = await setUsername(trx, user.id, username, now);
      await reserveUsername(trx, user.username, user.id, new Date(now.getTime() + id.opt.usernameReservationMs));
      await writeUserEvents(id.outbox, trx, userEvent("ProfileUpdated", profilePayload(row)));
      return row;
    });
    await id.profiles?.invalidate([row.id]);
    return create(ChangeUsernameResponseSchema, { user: toUser(row, me.userId) });
  };
}
