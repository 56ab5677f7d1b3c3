/**
 * Like / bookmark of a post and like of a comment, with their reverses: idempotent toggles of one
 * row plus its counter, behind LikePost, UnlikePost, BookmarkPost, UnbookmarkPost, LikeComment and
 * UnlikeComment. A post like that moves writes PostLiked / PostUnliked; a new comment like writes
 * CommentLiked (its author is notified; taking it back is silent, as for Instagram).
 */
import { create } from "@bufbuild/protobuf";
import {
  type Comment,
  type CommentCounts,
  CommentCountsSchema,
  type PostCounts,
} from "../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { requireUser } from "../../platform/rpc/context.ts";
import { uuid } from "../../platform/validate.ts";
import { requireLivePost, visiblePost } from "./access.ts";
import type { ContentContext } from "./context.ts";
import { postEvent, writePostEvents } from "./events.ts";
import { toComment } from "./messages.ts";
import { bumpCounts, countsOf, liveComment, type PostMark, setCommentLike, setPostMark } from "./queries.ts";

export async function togglePostMark(
  ctx: ContentContext,
  kind: PostMark,
  on: boolean,
  rawPostId: string,
): Promise<{ counts: PostCounts }> {
  const user = requireUser();
  const postId = uuid("postId", rawPostId);
  const post = await visiblePost(ctx, postId, user.userId, "postId", true);
  const result = await ctx.writer.transaction().execute(async (trx) => {
    await requireLivePost(trx, postId);
    if (!(await setPostMark(trx, kind, on, postId, user.userId))) {
      return { counts: await countsOf(trx, postId), moved: false };
    }
    const d = on ? 1 : -1;
    const counts = await bumpCounts(trx, postId, kind === "like" ? { likes: d } : { bookmarks: d });
    if (kind === "like") {
      const payload = { postId, userId: user.userId, authorId: post.author_id };
      await writePostEvents(ctx.outbox, trx, postEvent(on ? "PostLiked" : "PostUnliked", user.userId, payload));
    }
    return { counts, moved: true };
  });
  if (result.moved) await ctx.changed([postId]);
  return { counts: result.counts };
}

export async function toggleCommentLike(
  ctx: ContentContext,
  on: boolean,
  rawId: string,
): Promise<{ counts: CommentCounts; comment: Comment }> {
  const user = requireUser();
  const commentId = uuid("commentId", rawId);
  const postId = (await liveComment(ctx.reader, commentId))?.post_id;
  if (!postId) throw new NovaError("NOT_FOUND", "comment not found", { field: "commentId" });
  await visiblePost(ctx, postId, user.userId, "commentId", true);
  const row = await ctx.writer.transaction().execute(async (trx) => {
    const { row, moved } = await setCommentLike(trx, on, commentId, user.userId);
    if (on && moved) {
      const payload = { postId, commentId, userId: user.userId, authorId: row.author_id };
      await writePostEvents(ctx.outbox, trx, postEvent("CommentLiked", user.userId, payload));
    }
    return row;
  });
  return {
    counts: create(CommentCountsSchema, { commentId, likeCount: row.like_count }),
    comment: toComment(row),
  };
}
