/**
 * ListQueue (moderators only): skeleton of subjects in the filter's state, most recently reported
 * first (keyset on the report sequence), then each one's newest reports in one query.
 */
import { create } from "@bufbuild/protobuf";
import {
  type ListQueueRequest,
  type ListQueueResponse,
  ListQueueResponseSchema,
} from "../../../gen/nova/moderation/v1/moderation_pb.ts";
import { decodeCursor, keysetPage, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { requireModerator } from "../../../platform/rpc/authz.ts";
import type { ModerationDeps } from "../deps.ts";
import { toQueueEntry } from "../messages.ts";
import { queueQuery, reportsOf } from "../queries.ts";
import { categoryFilter, kindFilter, LIMITS, stateFilter } from "../validation.ts";

export function listQueue(deps: ModerationDeps) {
  return async (req: ListQueueRequest): Promise<ListQueueResponse> => {
    requireModerator();
    const filter = {
      kind: kindFilter(req.subjectKind),
      category: categoryFilter(req.category),
      state: stateFilter(req.state) ?? "open",
    };
    const limit = pageSize(req.limit, LIST);
    const after = decodeCursor(req.cursor, SEQ);
    const page = await keysetPage(queueQuery(deps.db.reader, filter), {
      key: "moderation.subjects.last_seq",
      after,
      limit,
      position: (s) => s.last_seq,
    });
    const reports = await reportsOf(
      deps.db.reader,
      page.rows.map((s) => s.id),
      LIMITS.reportsPerEntry,
    );
    return create(ListQueueResponseSchema, {
      entries: page.rows.map((s) => toQueueEntry(s, reports.get(s.id))),
      nextCursor: page.nextCursor,
      cursors: page.cursors,
    });
  };
}
