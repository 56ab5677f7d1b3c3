/** Unmute: allowed for any id. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { removeMute } from "../queries.ts";

export function unmute(deps: GraphDeps): ServiceImpl<typeof GraphService>["unmute"] {
  return (req) =>
    changePair(
      deps,
      req.userId,
      async (trx, me, target) => {
        if (!(await removeMute(trx, me, target))) return false;
        await writeRelationshipEvents(
          deps.outbox,
          trx,
          relationshipEvent("Unmuted", { userId: me, targetId: target }, me),
        );
        return true;
      },
      { mustExist: false },
    );
}
