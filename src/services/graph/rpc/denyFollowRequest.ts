/** DenyFollowRequest: the request is removed; the requester may ask again. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { removeFollowRequest } from "../queries.ts";

export function denyFollowRequest(deps: GraphDeps): ServiceImpl<typeof GraphService>["denyFollowRequest"] {
  return (req) =>
    changePair(
      deps,
      req.userId,
      async (trx, owner, requester) => {
        if (!(await removeFollowRequest(trx, requester, owner))) return false;
        await writeRelationshipEvents(
          deps.outbox,
          trx,
          relationshipEvent("FollowRequestDenied", { userId: requester, targetId: owner }, owner),
        );
        return true;
      },
      { mustExist: false },
    );
}
