/**
 * MarkRead: moves the caller's read position forward to a message (or to the last one when
 * messageId is empty). A late MarkRead of an older message changes nothing (changed: false).
 */
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { emitConversationEvent } from "../events.ts";
import { lockReadPosition, moveReadPosition, seqAfter } from "../queries.ts";
import { notFound } from "../rules.ts";
import { viewOf } from "../views.ts";

export function markRead(deps: MessagingDeps): Rpc<"markRead"> {
  return async (req) => {
    const me = requireUser().userId;
    const conversationId = uuid("conversationId", req.conversationId);
    const messageId = req.messageId === "" ? null : uuid("messageId", req.messageId);
    return deps.db.writer.transaction().execute(async (trx) => {
      const m = await lockReadPosition(trx, conversationId, me);
      if (!m) throw notFound();
      let target = { seq: m.last_seq, id: m.last_message_id };
      if (messageId) {
        const seq = await seqAfter(trx, conversationId, messageId, m.joined_seq);
        if (seq === undefined) throw new NovaError("NOT_FOUND", "message not found", { field: "messageId" });
        target = { seq, id: messageId };
      }
      // Forward only: a late MarkRead of an older message changes nothing.
      if (BigInt(target.seq) <= BigInt(m.last_read_seq)) {
        return { conversation: await viewOf(trx, me, conversationId), changed: false };
      }
      const readAt = await moveReadPosition(trx, conversationId, me, target);
      await emitConversationEvent(deps.outbox, trx, "MessagesRead", me, {
        conversationId,
        userId: me,
        lastReadMessageId: target.id,
        readAt: readAt.toISOString(),
      });
      return { conversation: await viewOf(trx, me, conversationId), changed: true };
    });
  };
}
