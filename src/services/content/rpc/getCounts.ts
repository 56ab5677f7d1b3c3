/** GetCounts: exact counters by post id, in the order asked, through the cache (zeros for an unknown post). */
import { create } from "@bufbuild/protobuf";
import {
  type GetCountsRequest,
  type GetCountsResponse,
  GetCountsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { uuids } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { loadCounts, toCounts } from "../queries.ts";
import { LIMITS } from "../validation.ts";

export async function getCounts(ctx: ContentContext, req: GetCountsRequest): Promise<GetCountsResponse> {
  const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
  const unique = [...new Set(ids)];
  const counts = ctx.cache.counts ? await ctx.cache.counts(unique) : await loadCounts(ctx.reader, unique);
  return create(GetCountsResponseSchema, {
    counts: ids.map((id) => counts.get(id) ?? toCounts(id)),
  });
}
