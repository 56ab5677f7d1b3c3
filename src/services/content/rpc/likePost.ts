/** LikePost: Like a post the user may see (idempotent); PostLiked when the like is new. The toggle is in ../toggles.ts. */
import type { LikePostRequest } from "../../../gen/nova/content/v1/content_pb.ts";
import type { ContentContext } from "../context.ts";
import { togglePostMark } from "../toggles.ts";

export function likePost(ctx: ContentContext, req: LikePostRequest) {
  return togglePostMark(ctx, "like", true, req.postId);
}
