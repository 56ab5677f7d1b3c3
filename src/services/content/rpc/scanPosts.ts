/**
 * ScanPosts: every live post in id order, for modules that rebuild a projection (search) or an
 * admin; the first page also carries the total.
 */
import { create } from "@bufbuild/protobuf";
import {
  type ScanPostsRequest,
  type ScanPostsResponse,
  ScanPostsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, ID, keysetPage, pageSize, SCAN } from "../../../platform/paging.ts";
import { requireModuleOrAdmin } from "../../../platform/rpc/authz.ts";
import type { ContentContext } from "../context.ts";
import { toPost } from "../messages.ts";
import { countLivePosts, scanPostsQuery } from "../queries.ts";

/** Modules that may page through every post (to rebuild their projections). */
const SCANNERS = ["search"] as const;

export async function scanPosts(ctx: ContentContext, req: ScanPostsRequest): Promise<ScanPostsResponse> {
  requireModuleOrAdmin(SCANNERS);
  const limit = pageSize(req.limit, SCAN);
  const after = decodeCursor(req.cursor, ID);
  const page = await keysetPage(scanPostsQuery(ctx.reader), {
    key: "content.posts.id",
    after,
    limit,
    order: "asc",
    position: (p) => p.id,
  });
  const total = after ? 0n : await countLivePosts(ctx.reader);
  return create(ScanPostsResponseSchema, {
    posts: page.rows.map(toPost),
    nextCursor: page.nextCursor,
    total,
  });
}
