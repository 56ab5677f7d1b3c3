/** GetCounts: exact follower and following counts, in the request's order. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { counts } from "../queries.ts";
import { validateUserIds } from "../validation.ts";

export function getCounts(deps: GraphDeps): ServiceImpl<typeof GraphService>["getCounts"] {
  return async (req) => {
    const ids = validateUserIds(req.userIds);
    if (ids.length === 0) return { counts: [] };
    return { counts: await counts(deps.db.reader, ids) };
  };
}
