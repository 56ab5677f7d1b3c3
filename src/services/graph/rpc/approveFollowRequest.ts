/** ApproveFollowRequest: the caller (a private account) lets the requester follow them. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { changePair } from "../pair.ts";
import { approveChange } from "../requests.ts";

export function approveFollowRequest(deps: GraphDeps): ServiceImpl<typeof GraphService>["approveFollowRequest"] {
  return (req) => changePair(deps, req.userId, approveChange(deps), { mustExist: false });
}
