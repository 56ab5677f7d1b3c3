/** UnbookmarkPost: Remove a bookmark (idempotent; no event). The toggle is in ../toggles.ts. */
import type { UnbookmarkPostRequest } from "../../../gen/nova/content/v1/content_pb.ts";
import type { ContentContext } from "../context.ts";
import { togglePostMark } from "../toggles.ts";

export function unbookmarkPost(ctx: ContentContext, req: UnbookmarkPostRequest) {
  return togglePostMark(ctx, "bookmark", false, req.postId);
}
