/** ListConversations: the caller's inbox, the latest activity first (from the reader). */
import { decodeCursor, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { conversationPage } from "../queries.ts";

export function listConversations(deps: MessagingDeps): Rpc<"listConversations"> {
  return async (req) => {
    const me = requireUser().userId;
    const limit = pageSize(req.limit, LIST);
    const before = decodeCursor(req.cursor, SEQ);
    const page = await conversationPage(deps.db.reader, me, limit, before);
    return {
      conversationIds: page.rows.map((c) => c.conversation_id),
      nextCursor: page.nextCursor,
      cursors: page.cursors,
    };
  };
}
