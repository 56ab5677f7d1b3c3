/** ListComments: a visible post's live comments, oldest first, without those of authors in a block with the viewer. */
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
  const viewer = optionalUser()?.userId;
  await visiblePost(ctx, postId, viewer);
  const page = await keysetPage(commentsQuery(ctx.reader, postId), {
    key: "content.comments.id",
    after,
    limit,
    order: "asc",
    position: (c) => c.id,
  });
  // Comments of authors in a block with the viewer leave the page; the next page starts after the last one read.
  let rows = page.rows;
  if (viewer) {
    const authors = [...new Set(rows.map((c) => c.author_id).filter((a) => a !== viewer))];
    const hidden = authors.length ? await ctx.peers.blockedBetween(viewer, authors) : new Set<string>();
    rows = rows.filter((c) => !hidden.has(c.author_id));
  }
  return create(ListCommentsResponseSchema, {
    comments: rows.map(toComment),
    nextCursor: page.nextCursor,
  });
}
