/**
 * CreateComment: on a post the commenter may see (blocks asked fresh), under the post's share lock;
 * the counter moves and CommentCreated (with the replied-to comment's author and the @mentioned
 * users, whom notifications tell) is written in the same transaction.
 */
import { create } from "@bufbuild/protobuf";
import {
  type CreateCommentRequest,
  type CreateCommentResponse,
  CreateCommentResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireVerifiedUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { requireLivePost, visiblePost } from "../access.ts";
import type { ContentContext } from "../context.ts";
import { postEvent, writePostEvents } from "../events.ts";
import { mentionedIds } from "../mentions.ts";
import { toComment } from "../messages.ts";
import { bumpCounts, type ContentTrx, insertComment, liveComment } from "../queries.ts";
import { LIMITS, validateText } from "../validation.ts";

export async function createComment(ctx: ContentContext, req: CreateCommentRequest): Promise<CreateCommentResponse> {
  const user = requireVerifiedUser();
  const postId = uuid("postId", req.postId);
  const text = validateText("text", req.text, LIMITS.commentTextMax);
  const askedParent = req.parentId ? uuid("parentId", req.parentId) : null;
  const post = await visiblePost(ctx, postId, user.userId, "postId", true);
  const mentionIds = await mentionedIds(ctx, user.userId, text);
  const comment = await ctx.writer.transaction().execute(async (trx) => {
    await requireLivePost(trx, postId);
    const parent = askedParent ? await topLevelParent(trx, postId, askedParent) : null;
    const parentId = parent?.id ?? null;
    const row = await insertComment(trx, { postId, authorId: user.userId, parentId, text });
    await bumpCounts(trx, postId, { comments: 1 });
    await writePostEvents(
      ctx.outbox,
      trx,
      postEvent("CommentCreated", user.userId, {
        postId,
        commentId: row.id,
        authorId: user.userId,
        postAuthorId: post.author_id,
        parentId,
        parentAuthorId: parent?.authorId ?? null,
        mentionIds,
        text,
      }),
    );
    return row;
  });
  await ctx.changed([postId]);
  return create(CreateCommentResponseSchema, { comment: toComment(comment) });
}

/**
 * The comment a reply attaches to and the author of the one it answers; NOT_FOUND naming parentId
 * unless it is a live comment of this post.
 */
async function topLevelParent(
  trx: ContentTrx,
  postId: string,
  parentId: string,
): Promise<{ id: string; authorId: string }> {
  const parent = await liveComment(trx, parentId);
  if (!parent || parent.post_id !== postId) {
    throw new NovaError("NOT_FOUND", "parent comment not found on this post", { field: "parentId" });
  }
  // One level deep: a reply to a reply belongs to the top-level comment (its author is the one answered).
  return { id: parent.parent_id ?? parentId, authorId: parent.author_id };
}
