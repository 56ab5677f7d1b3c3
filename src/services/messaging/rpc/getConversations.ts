/** GetConversations: the caller's view of conversations they are a current member of (others left out). */
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { LIMITS } from "../validation.ts";
import { conversationViews } from "../views.ts";

export function getConversations(deps: MessagingDeps): Rpc<"getConversations"> {
  return async (req) => {
    const me = requireUser().userId;
    const ids = uuids("conversationIds", req.conversationIds, LIMITS.batchMax);
    return { conversations: await conversationViews(deps.db.reader, me, ids) };
  };
}
