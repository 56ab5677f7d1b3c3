/** Mute: it ends no follow. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { addMute } from "../queries.ts";

export function mute(deps: GraphDeps): ServiceImpl<typeof GraphService>["mute"] {
  return (req) =>
    changePair(deps, req.userId, async (trx, me, target) => {
      if (!(await addMute(trx, me, target))) return false;
      await writeRelationshipEvents(deps.outbox, trx, relationshipEvent("Muted", { userId: me, targetId: target }, me));
      return true;
    });
}
