/** ListMuted: the accounts the caller muted, newest first (the caller's own list only). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { GraphDeps } from "../deps.ts";
import { listOwn } from "../list.ts";

export function listMuted(deps: GraphDeps): ServiceImpl<typeof GraphService>["listMuted"] {
  return (req) => listOwn(deps, "muted", requireUser().userId, req);
}
