/**
 * RemoveMember: the group's creator removes another member (leaving is LeaveConversation).
 * Removing someone who is not a current member changes nothing (changed: false).
 */
import { invalid } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { emitConversationEvent } from "../events.ts";
import { isCurrentMember, markLeft, touch } from "../queries.ts";
import { lockGroupAsCreator } from "../rules.ts";
import { viewOf } from "../views.ts";

export function removeMember(deps: MessagingDeps): Rpc<"removeMember"> {
  return async (req) => {
    const me = requireUser().userId;
    const conversationId = uuid("conversationId", req.conversationId);
    const userId = uuid("userId", req.userId);
    if (userId === me) throw invalid("userId", "use leaveConversation to leave");
    return deps.db.writer.transaction().execute(async (trx) => {
      await lockGroupAsCreator(trx, conversationId, me, "remove");
      if (!(await isCurrentMember(trx, conversationId, userId))) {
        return { conversation: await viewOf(trx, me, conversationId), changed: false };
      }
      await markLeft(trx, conversationId, userId, me);
      await touch(trx, conversationId);
      await emitConversationEvent(deps.outbox, trx, "MemberRemoved", me, {
        conversationId,
        userId,
        removedBy: me,
        left: false,
      });
      return { conversation: await viewOf(trx, me, conversationId), changed: true };
    });
  };
}
