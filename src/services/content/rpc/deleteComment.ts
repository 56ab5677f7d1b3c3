/** DeleteComment: a soft delete by the comment's author, the post's author, a moderator or an admin (with the moderator's reason), with CommentDeleted. */
import { create } from "@bufbuild/protobuf";
import {
  type DeleteCommentRequest,
  type DeleteCommentResponse,
  DeleteCommentResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { text, uuid } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { postEvent, writePostEvents } from "../events.ts";
import { bumpCounts, lockCommentForDelete, softDeleteComment } from "../queries.ts";

export async function deleteComment(ctx: ContentContext, req: DeleteCommentRequest): Promise<DeleteCommentResponse> {
  const user = requireUser();
  const commentId = uuid("commentId", req.commentId);
  const reason = text("reason", req.reason, { max: 1_000, multiline: true, optional: true });
  const postId = await ctx.writer.transaction().execute(async (trx) => {
    const c = await lockCommentForDelete(trx, commentId);
    if (!c) throw new NovaError("NOT_FOUND", "comment not found", { field: "commentId" });
    if (c.author_id !== user.userId && c.post_author_id !== user.userId && !user.admin && !user.moderator) {
      throw new NovaError("FORBIDDEN", "only the comment's or the post's author can delete a comment", {
        field: "commentId",
      });
    }
    await softDeleteComment(trx, commentId, user.userId, reason);
    await bumpCounts(trx, c.post_id, { comments: -1 });
    await writePostEvents(
      ctx.outbox,
      trx,
      postEvent("CommentDeleted", user.userId, {
        postId: c.post_id,
        commentId,
        authorId: c.author_id,
        deletedBy: user.userId,
        ...(reason ? { reason } : {}),
      }),
    );
    return c.post_id;
  });
  await ctx.changed([postId]);
  return create(DeleteCommentResponseSchema, {});
}
