/** ListFollowers: who follows `userId`, newest follow first. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "../deps.ts";
import { listFollows } from "../list.ts";

export function listFollowers(deps: GraphDeps): ServiceImpl<typeof GraphService>["listFollowers"] {
  return (req) => listFollows(deps, "followers", req);
}
