/** Who a post's or comment's text @mentions: resolved through identity, refused across a block. */
import { NovaError } from "../../platform/errors.ts";
import type { ContentContext } from "./context.ts";
import { parseMentions } from "./validation.ts";

/** The ids of the existing users the text @mentions, the author left out; FORBIDDEN across a block. */
export async function mentionedIds(ctx: ContentContext, authorId: string, text: string): Promise<string[]> {
  const mentioned = await ctx.peers.resolveUsernames(parseMentions(text));
  const ids = [...new Set([...mentioned.values()])].filter((id) => id !== authorId);
  if (ids.length && (await ctx.peers.blockedBetween(authorId, ids, true)).size > 0) {
    throw new NovaError("FORBIDDEN", "text: cannot mention a user across a block", { field: "text" });
  }
  return ids;
}
