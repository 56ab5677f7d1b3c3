/** Follow: refused across a block (either way); a repeat changes nothing and writes nothing. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { addFollow, blockedEitherWay } from "../queries.ts";

export function follow(deps: GraphDeps): ServiceImpl<typeof GraphService>["follow"] {
  return (req) =>
    changePair(deps, req.userId, async (trx, me, target) => {
      if (await blockedEitherWay(trx, me, target)) {
        throw new NovaError("FORBIDDEN", "cannot follow across a block", { field: "userId" });
      }
      if (!(await addFollow(trx, me, target))) return false;
      await writeRelationshipEvents(
        deps.outbox,
        trx,
        relationshipEvent("Followed", { userId: me, targetId: target }, me),
      );
      return true;
    });
}
