/**
 * AddMember: the group's creator adds a user, who joins at the current position (earlier messages
 * are not theirs to read). Adding a current member changes nothing (changed: false).
 */
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { emitConversationEvent } from "../events.ts";
import { currentMemberCount, isCurrentMember, joinAt, touch } from "../queries.ts";
import { lockGroupAsCreator, refuseBlocked, refuseMissing } from "../rules.ts";
import { LIMITS } from "../validation.ts";
import { viewOf } from "../views.ts";

export function addMember(deps: MessagingDeps): Rpc<"addMember"> {
  return async (req) => {
    const me = requireUser().userId;
    const conversationId = uuid("conversationId", req.conversationId);
    const userId = uuid("userId", req.userId);
    if (userId !== me) {
      await refuseMissing(deps.peers, [userId], () => "userId");
      await refuseBlocked(deps.peers, [userId], () => "userId");
    }
    return deps.db.writer.transaction().execute(async (trx) => {
      const c = await lockGroupAsCreator(trx, conversationId, me, "add");
      if (await isCurrentMember(trx, conversationId, userId)) {
        return { conversation: await viewOf(trx, me, conversationId), changed: false };
      }
      if ((await currentMemberCount(trx, conversationId)) >= LIMITS.groupMembersMax) {
        throw new NovaError("LIMIT_REACHED", `a group has at most ${LIMITS.groupMembersMax} members`, {
          field: "userId",
        });
      }
      await joinAt(trx, conversationId, userId, c.last_seq);
      await touch(trx, conversationId);
      await emitConversationEvent(deps.outbox, trx, "MemberAdded", me, { conversationId, userId, addedBy: me });
      return { conversation: await viewOf(trx, me, conversationId), changed: true };
    });
  };
}
