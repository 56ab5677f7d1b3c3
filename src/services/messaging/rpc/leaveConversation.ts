/** LeaveConversation: a member leaves a group; a direct conversation cannot be left. */
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { emitConversationEvent } from "../events.ts";
import { earliestMember, markLeft, touch } from "../queries.ts";
import { lockAsMember } from "../rules.ts";

export function leaveConversation(deps: MessagingDeps): Rpc<"leaveConversation"> {
  return async (req) => {
    const me = requireUser().userId;
    const conversationId = uuid("conversationId", req.conversationId);
    await deps.db.writer.transaction().execute(async (trx) => {
      const c = await lockAsMember(trx, conversationId, me);
      if (c.kind === "direct") {
        throw new NovaError("FORBIDDEN", "a direct conversation cannot be left", { field: "conversationId" });
      }
      await markLeft(trx, conversationId, me, me);
      // The group passes to the member who joined earliest (none left: it stays with the leaver).
      const newCreatorId = c.creator_id === me ? await earliestMember(trx, conversationId) : undefined;
      await touch(trx, conversationId, newCreatorId);
      await emitConversationEvent(deps.outbox, trx, "MemberRemoved", me, {
        conversationId,
        userId: me,
        removedBy: me,
        left: true,
        ...(newCreatorId ? { newCreatorId } : {}),
      });
    });
    return {};
  };
}
