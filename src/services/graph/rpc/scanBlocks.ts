/** ScanBlocks: every block, for modules that rebuild their projections; the total on the first page. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type GraphService, ScanBlocksResponseSchema } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { type CursorRule, decodeCursor, pageSize, SCAN } from "../../../platform/paging.ts";
import { requireModuleOrAdmin } from "../../../platform/rpc/authz.ts";
import { isUuid } from "../../../platform/validate.ts";
import type { GraphDeps } from "../deps.ts";
import { blocksPage, countBlocks } from "../queries.ts";

/** Modules that may page through every block (to rebuild their projections). */
const SCANNERS = ["search"] as const;

/** A position in the scan of blocks: `blocker:blocked`. */
const PAIR: CursorRule = {
  test(v) {
    const [a, b, ...rest] = v.split(":");
    return rest.length === 0 && isUuid(a ?? "") && isUuid(b ?? "");
  },
};

export function scanBlocks(deps: GraphDeps): ServiceImpl<typeof GraphService>["scanBlocks"] {
  return async (req) => {
    requireModuleOrAdmin(SCANNERS);
    const limit = pageSize(req.limit, SCAN);
    const after = decodeCursor(req.cursor, PAIR)?.split(":");
    const page = await blocksPage(deps.db.reader, after, limit);
    const total = after ? 0n : await countBlocks(deps.db.reader);
    return create(ScanBlocksResponseSchema, {
      blocks: page.rows.map((b) => ({ blockerId: b.blocker_id, blockedId: b.blocked_id })),
      nextCursor: page.nextCursor,
      total,
    });
  };
}
