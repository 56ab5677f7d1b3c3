/**
 * Follow: refused across a block (either way); a repeat changes nothing and writes nothing. A private
 * account is not followed at once: the follow becomes a request its owner answers.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import type { GraphDeps } from "../deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "../events.ts";
import { changePair } from "../pair.ts";
import { addFollow, addFollowRequest, blockedEitherWay, isFollowing } from "../queries.ts";
import { validateUserId } from "../validation.ts";

export function follow(deps: GraphDeps): ServiceImpl<typeof GraphService>["follow"] {
  return async (req) => {
    // Asked before the pair's transaction (identity is another service); a target turning private in
    // between is followed as public, as if the follow came a moment earlier.
    const id = validateUserId(req.userId);
    const found = deps.lookupUser
      ? await deps.lookupUser(id)
      : (await deps.userExists(id))
        ? { isPrivate: false }
        : undefined;
    if (!found) throw new NovaError("NOT_FOUND", "user not found", { field: "userId" });
    const closed = found.isPrivate;
    // Existence is asked above, with the privacy, in one call.
    const opts = { mustExist: false };
    return changePair(
      deps,
      req.userId,
      async (trx, me, target) => {
        if (await blockedEitherWay(trx, me, target)) {
          throw new NovaError("FORBIDDEN", "cannot follow across a block", { field: "userId" });
        }
        if (closed) {
          if ((await isFollowing(trx, me, target)) || !(await addFollowRequest(trx, me, target))) return false;
          await writeRelationshipEvents(
            deps.outbox,
            trx,
            relationshipEvent("FollowRequested", { userId: me, targetId: target }, me),
          );
          return true;
        }
        if (!(await addFollow(trx, me, target))) return false;
        await writeRelationshipEvents(
          deps.outbox,
          trx,
          relationshipEvent("Followed", { userId: me, targetId: target }, me),
        );
        return true;
      },
      opts,
    );
  };
}
