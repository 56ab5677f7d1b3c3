/**
 * GetOwnActions: the caller's own actions by id, for the notification that tells them of one and the
 * appeal that names it. Moderators stay anonymous to the people they act on: no actor id.
 */
import { create } from "@bufbuild/protobuf";
import {
  type GetOwnActionsRequest,
  type GetOwnActionsResponse,
  GetOwnActionsResponseSchema,
} from "../../../gen/nova/moderation/v1/moderation_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { ModerationDeps } from "../deps.ts";
import { toAction } from "../messages.ts";
import { ownActions } from "../queries.ts";

export function getOwnActions(deps: ModerationDeps) {
  return async (req: GetOwnActionsRequest): Promise<GetOwnActionsResponse> => {
    const me = requireUser().userId;
    // The writer: a notification of an action can arrive before the replica has the action.
    const ids = [...new Set(uuids("actionIds", req.actionIds, 100, "an action id"))];
    const byId = new Map((await ownActions(deps.db.writer, me, ids)).map((r) => [r.id, r]));
    const actions = ids.flatMap((id) => {
      const row = byId.get(id);
      if (!row) return [];
      const action = toAction(row);
      action.actorId = "";
      return [action];
    });
    return create(GetOwnActionsResponseSchema, { actions });
  };
}
