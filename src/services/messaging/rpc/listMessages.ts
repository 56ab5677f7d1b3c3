/** ListMessages: a conversation's messages since the caller joined, the newest first (from the reader). */
import { decodeCursor, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { joinedSeqOf, messagePage } from "../queries.ts";
import { notFound } from "../rules.ts";

export function listMessages(deps: MessagingDeps): Rpc<"listMessages"> {
  const { reader } = deps.db;
  return async (req) => {
    const me = requireUser().userId;
    const conversationId = uuid("conversationId", req.conversationId);
    const limit = pageSize(req.limit, LIST);
    const before = decodeCursor(req.cursor, SEQ);
    const joined = await joinedSeqOf(reader, conversationId, me);
    if (joined === undefined) throw notFound();
    const page = await messagePage(reader, conversationId, joined, limit, before);
    return { messageIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor, cursors: page.cursors };
  };
}
