/**
 * Block: ends the follows in both directions, each with its own Unfollowed (reason "blocked"), and the
 * pending follow requests in both, each with its FollowRequestCanceled.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { type RelationshipEvent, relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { addBlock, removeFollow, removeFollowRequest } from "../queries.ts";

export function block(deps: GraphDeps): ServiceImpl<typeof GraphService>["block"] {
  return (req) =>
    changePair(deps, req.userId, async (trx, me, target) => {
      if (!(await addBlock(trx, me, target))) return false;
      const events: RelationshipEvent[] = [relationshipEvent("Blocked", { userId: me, targetId: target }, me)];
      // Each ended follow is keyed by its follower; the blocker is its actor.
      if (await removeFollow(trx, me, target)) {
        events.push(relationshipEvent("Unfollowed", { userId: me, targetId: target, reason: "blocked" }, me));
      }
      if (await removeFollow(trx, target, me)) {
        events.push(relationshipEvent("Unfollowed", { userId: target, targetId: me, reason: "blocked" }, me));
      }
      if (await removeFollowRequest(trx, me, target)) {
        events.push(relationshipEvent("FollowRequestCanceled", { userId: me, targetId: target }, me));
      }
      if (await removeFollowRequest(trx, target, me)) {
        events.push(relationshipEvent("FollowRequestCanceled", { userId: target, targetId: me }, me));
      }
      await writeRelationshipEvents(deps.outbox, trx, ...events);
      return true;
    });
}
