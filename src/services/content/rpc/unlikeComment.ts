/** UnlikeComment: Take back a comment like (idempotent; no event). The toggle is in ../toggles.ts. */
import type { UnlikeCommentRequest } from "../../../gen/nova/content/v1/content_pb.ts";
import type { ContentContext } from "../context.ts";
import { toggleCommentLike } from "../toggles.ts";

export function unlikeComment(ctx: ContentContext, req: UnlikeCommentRequest) {
  return toggleCommentLike(ctx, false, req.commentId);
}
