/** Unfollow: allowed for any id (a deleted account can still be unfollowed); also withdraws a pending request. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { removeFollow, removeFollowRequest } from "../queries.ts";

export function unfollow(deps: GraphDeps): ServiceImpl<typeof GraphService>["unfollow"] {
  return (req) =>
    changePair(
      deps,
      req.userId,
      async (trx, me, target) => {
        if (await removeFollowRequest(trx, me, target)) {
          await writeRelationshipEvents(
            deps.outbox,
            trx,
            relationshipEvent("FollowRequestCanceled", { userId: me, targetId: target }, me),
          );
          return true;
        }
        if (!(await removeFollow(trx, me, target))) return false;
        await writeRelationshipEvents(
          deps.outbox,
          trx,
          relationshipEvent("Unfollowed", { userId: me, targetId: target }, me),
        );
        return true;
      },
      { mustExist: false },
    );
}
