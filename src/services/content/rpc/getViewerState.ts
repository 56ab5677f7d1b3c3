/** GetViewerState: whether the caller likes and bookmarks each post, in the order asked. */
import { create } from "@bufbuild/protobuf";
import {
  type GetViewerStateRequest,
  type GetViewerStateResponse,
  GetViewerStateResponseSchema,
  ViewerStateSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { viewerStates } from "../queries.ts";
import { LIMITS } from "../validation.ts";

export async function getViewerState(ctx: ContentContext, req: GetViewerStateRequest): Promise<GetViewerStateResponse> {
  const user = requireUser();
  const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
  const states = await viewerStates(ctx.reader, user.userId, ids);
  return create(GetViewerStateResponseSchema, {
    states: states.map((s) =>
      create(ViewerStateSchema, { postId: s.post_id, liked: s.liked, bookmarked: s.bookmarked }),
    ),
  });
}
