/** ListFollowing: whom `userId` follows, newest follow first. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { listFollows } from "../list.ts";

export function listFollowing(deps: GraphDeps): ServiceImpl<typeof GraphService>["listFollowing"] {
  return (req) => listFollows(deps, "following", req);
}
