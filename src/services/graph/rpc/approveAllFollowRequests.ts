/**
 * ApproveAllFollowRequests: every pending request to the caller is approved (their account turned
 * public), each under its own pair lock and in its own transaction, as one ApproveFollowRequest would.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { GraphDeps } from "../deps.ts";
import { changePair } from "../pair.ts";
import { followRequestsPage } from "../queries.ts";
import { approveChange } from "../requests.ts";

const BATCH = 100;

export function approveAllFollowRequests(
  deps: GraphDeps,
): ServiceImpl<typeof GraphService>["approveAllFollowRequests"] {
  return async () => {
    const me = requireUser().userId;
    const change = approveChange(deps);
    let approved = 0;
    let before: string | undefined;
    for (;;) {
      // From the primary, older pages by seq: a request answered meanwhile is simply not changed again.
      const page = await followRequestsPage(deps.db.writer, me, before, BATCH);
      for (const r of page.rows) {
        if ((await changePair(deps, r.id, change, { mustExist: false })).changed) approved++;
      }
      const last = page.rows[page.rows.length - 1];
      if (!page.nextCursor || !last) break;
      before = last.seq;
    }
    return { approved };
  };
}
