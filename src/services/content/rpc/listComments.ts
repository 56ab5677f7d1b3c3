/**
 * ListComments: a visible post's live comments, oldest first. Which comments the viewer may see
 * (blocks) is the gateway's rules step, as for every list; the post itself is checked here.
 */
import { create } from "@bufbuild/protobuf";
import {
  type ListCommentsRequest,
  type ListCommentsResponse,
  ListCommentsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, ID, keysetPage, LIST, pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { visiblePost } from "../access.ts";
import type { ContentContext } from "../context.ts";
import { toComment } from "../messages.ts";
import { commentsQuery } from "../queries.ts";

export async function listComments(ctx: ContentContext, req: ListCommentsRequest): Promise<ListCommentsResponse> {
  const postId = uuid("postId", req.postId);
  const limit = pageSize(req.limit, LIST);
  const after = decodeCursor(req.cursor, ID);
  await visiblePost(ctx, postId, optionalUser()?.userId);
  const page = await keysetPage(commentsQuery(ctx.reader, postId), {
    key: "content.comments.id",
    after,
    limit,
    order: "asc",
    position: (c) => c.id,
  });
  return create(ListCommentsResponseSchema, {
    comments: page.rows.map(toComment),
    nextCursor: page.nextCursor,
  });
}
