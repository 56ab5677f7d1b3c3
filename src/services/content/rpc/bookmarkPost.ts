/** BookmarkPost: Bookmark a post the user may see (idempotent; no event). The toggle is in ../toggles.ts. */
import type { BookmarkPostRequest } from "../../../gen/nova/content/v1/content_pb.ts";
import type { ContentContext } from "../context.ts";
import { togglePostMark } from "../toggles.ts";

export function bookmarkPost(ctx: ContentContext, req: BookmarkPostRequest) {
  return togglePostMark(ctx, "bookmark", true, req.postId);
}
