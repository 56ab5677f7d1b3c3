/** GetMessages: the messages of `messageIds` the caller may read, in their order (others left out). */
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { readableMessages } from "../queries.ts";
import { LIMITS } from "../validation.ts";
import { toMessage } from "../views.ts";

export function getMessages(deps: MessagingDeps): Rpc<"getMessages"> {
  return async (req) => {
    const me = requireUser().userId;
    const ids = uuids("messageIds", req.messageIds, LIMITS.batchMax);
    if (ids.length === 0) return { messages: [] };
    // From the primary: the real-time layer hydrates a MessageSent event through this at once, before a
    // replica may have the row (lookups by primary key, cheap on the primary).
    const rows = await readableMessages(deps.db.writer, me, ids);
    return { messages: rows.map(toMessage) };
  };
}
