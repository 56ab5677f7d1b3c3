/** Answering a follow request: shared by ApproveFollowRequest and ApproveAllFollowRequests. */
import type { GraphDeps } from "./deps.ts";
import { relationshipEvent, writeRelationshipEvents } from "./events.ts";
import type { PairChange } from "./pair.ts";
import { addFollow, removeFollowRequest } from "./queries.ts";

/**
 * The change of (owner, requester) that approves a pending request: the requester follows the owner,
 * with a Followed (feed, counts) and a FollowRequestApproved (the requester is told). False when no
 * request was pending.
 */
export function approveChange(deps: GraphDeps): PairChange {
  return async (trx, owner, requester) => {
    if (!(await removeFollowRequest(trx, requester, owner))) return false;
    const events = [relationshipEvent("FollowRequestApproved", { userId: requester, targetId: owner }, owner)];
    if (await addFollow(trx, requester, owner)) {
      events.push(relationshipEvent("Followed", { userId: requester, targetId: owner }, owner));
    }
    await writeRelationshipEvents(deps.outbox, trx, ...events);
    return true;
  };
}
