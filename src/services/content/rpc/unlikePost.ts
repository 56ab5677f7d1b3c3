/** UnlikePost: Take back a like (idempotent); PostUnliked when there was one. The toggle is in ../toggles.ts. */
import type { UnlikePostRequest } from "../../../gen/nova/content/v1/content_pb.ts";
import type { ContentContext } from "../context.ts";
import { togglePostMark } from "../toggles.ts";

export function unlikePost(ctx: ContentContext, req: UnlikePostRequest) {
  return togglePostMark(ctx, "like", false, req.postId);
}
