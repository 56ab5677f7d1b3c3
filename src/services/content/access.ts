/** Who may see and act on a post: the checks the handlers share. */
import { NovaError } from "../../platform/errors.ts";
import type { ContentContext } from "./context.ts";
import { type ContentTrx, lockLivePost, type PostRow } from "./queries.ts";

/**
 * The post, if it exists, is live and the viewer may see it (no block between them; a private author
 * followed by the viewer); else NOT_FOUND naming `field`. `write`: the viewer is about to act on it, so
 * blocks and follows are asked fresh.
 */
export async function visiblePost(
  ctx: ContentContext,
  id: string,
  viewerId: string | undefined,
  field = "postId",
  write = false,
): Promise<PostRow> {
  const post = (await ctx.cache.posts([id])).get(id);
  if (!post) throw new NovaError("NOT_FOUND", "post not found", { field });
  if (viewerId && viewerId !== post.author_id) {
    const blocked = await ctx.peers.blockedBetween(viewerId, [post.author_id], write);
    if (blocked.has(post.author_id)) throw new NovaError("NOT_FOUND", "post not found", { field });
  }
  if (await authorClosed(ctx, viewerId, post.author_id, write)) {
    throw new NovaError("NOT_FOUND", "post not found", { field });
  }
  return post;
}

/** The privacy rule: whether the author's account is private and the viewer neither is nor follows it. */
export async function authorClosed(
  ctx: ContentContext,
  viewerId: string | undefined,
  authorId: string,
  fresh = false,
): Promise<boolean> {
  if (viewerId === authorId || !ctx.peers.closedAuthors) return false;
  return (await ctx.peers.closedAuthors(viewerId, [authorId], fresh)).has(authorId);
}

/** Share-locks a live post inside `trx` (a delete waits for this write); NOT_FOUND when it is gone. */
export async function requireLivePost(trx: ContentTrx, postId: string): Promise<{ author_id: string }> {
  const row = await lockLivePost(trx, postId);
  if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
  return row;
}
