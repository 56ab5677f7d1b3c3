/** GetRelationships: the caller's relationship to each user, in the request's order. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { GraphDeps } from "../deps.ts";
import { relationships } from "../queries.ts";
import { validateUserIds } from "../validation.ts";

export function getRelationships(deps: GraphDeps): ServiceImpl<typeof GraphService>["getRelationships"] {
  return async (req) => {
    const me = requireUser().userId;
    const ids = validateUserIds(req.userIds);
    if (ids.length === 0) return { relationships: [] };
    // `fresh` (checks that gate a write) reads the primary: a block committed a moment ago must count.
    return { relationships: await relationships(req.fresh ? deps.db.writer : deps.db.reader, me, ids) };
  };
}
