/** LikeComment: Like a comment on a post the user may see (idempotent; no event). The toggle is in ../toggles.ts. */
import type { LikeCommentRequest } from "../../../gen/nova/content/v1/content_pb.ts";
import type { ContentContext } from "../context.ts";
import { toggleCommentLike } from "../toggles.ts";

export function likeComment(ctx: ContentContext, req: LikeCommentRequest) {
  return toggleCommentLike(ctx, true, req.commentId);
}
