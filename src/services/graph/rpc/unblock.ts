/** Unblock: allowed for any id; the follows the block ended stay ended. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { removeBlock } from "../queries.ts";

export function unblock(deps: GraphDeps): ServiceImpl<typeof GraphService>["unblock"] {
  return (req) =>
    changePair(
      deps,
      req.userId,
      async (trx, me, target) => {
        if (!(await removeBlock(trx, me, target))) return false;
        await writeRelationshipEvents(
          deps.outbox,
          trx,
          relationshipEvent("Unblocked", { userId: me, targetId: target }, me),
        );
        return true;
      },
      { mustExist: false },
    );
}
