/**
 * GetComments: live comments by id, in the order asked. What a report names is looked up here (the
 * moderation module); who may see a comment in a list stays the gateway's rules step.
 */
import { create } from "@bufbuild/protobuf";
import {
  type GetCommentsRequest,
  type GetCommentsResponse,
  GetCommentsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { uuids } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { toComment } from "../messages.ts";
import { liveComments } from "../queries.ts";
import { LIMITS } from "../validation.ts";

export async function getComments(ctx: ContentContext, req: GetCommentsRequest): Promise<GetCommentsResponse> {
  const ids = uuids("commentIds", req.commentIds, LIMITS.batchMax);
  // The primary: a comment reported the moment it appears is not NOT_FOUND because a replica lags (reports are rare).
  const found = new Map((await liveComments(ctx.writer, [...new Set(ids)])).map((c) => [c.id, c]));
  const comments = ids.flatMap((id) => {
    const c = found.get(id);
    return c ? [toComment(c)] : [];
  });
  return create(GetCommentsResponseSchema, { comments });
}
