/**
 * DecideAppeal: a moderator who neither took the action nor filed the appeal upholds or overturns
 * an open one. Overturning a suspension or ban that still holds lifts it (AccountReinstated, which
 * identity applies); other overturns are recorded (content removed stays removed: content has no
 * undelete yet). Audited with the standing before and after.
 */
import { create } from "@bufbuild/protobuf";
import {
  AppealState,
  type DecideAppealRequest,
  type DecideAppealResponse,
  DecideAppealResponseSchema,
} from "../../../gen/nova/moderation/v1/moderation_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireModerator } from "../../../platform/rpc/authz.ts";
import { text, uuid } from "../../../platform/validate.ts";
import type { ModerationDeps } from "../deps.ts";
import { MODERATION_EVENTS } from "../events.ts";
import { toAppeal } from "../messages.ts";
import {
  actionById,
  appendAudit,
  clearStanding,
  decideAppeal as decide,
  lockAppeal,
  lockStanding,
  pseudonymsOf,
  restricts,
} from "../queries.ts";

export function decideAppeal(deps: ModerationDeps) {
  return async (req: DecideAppealRequest): Promise<DecideAppealResponse> => {
    const me = requireModerator().userId;
    const appealId = uuid("appealId", req.appealId, "an appeal id");
    const state =
      req.decision === AppealState.UPHELD ? "upheld" : req.decision === AppealState.OVERTURNED ? "overturned" : null;
    if (!state) throw invalid("decision", "must be UPHELD or OVERTURNED");
    const reason = text("reason", req.reason, { max: 1_000, multiline: true });
    const decided = await deps.db.writer.transaction().execute(async (trx) => {
      const appeal = await lockAppeal(trx, appealId);
      if (!appeal) throw new NovaError("NOT_FOUND", "appeal not found", { field: "appealId" });
      if (appeal.state !== "open") throw new NovaError("ALREADY_EXISTS", "decided already", { field: "appealId" });
      const action = await actionById(trx, appeal.action_id);
      if (!action) throw new NovaError("NOT_FOUND", "action not found", { field: "appealId" });
      if (action.actor_id === me || appeal.appellant_id === me) {
        throw new NovaError("FORBIDDEN", "another moderator than the one who acted decides an appeal", {
          field: "appealId",
        });
      }
      const before = await lockStanding(trx, action.user_id);
      // Only the standing this action set is undone (a later action may have replaced it).
      const lifts = state === "overturned" && restricts(before) && before?.action_id === action.id;
      if (lifts) {
        await clearStanding(trx, action.user_id);
        await MODERATION_EVENTS.write(
          deps.outbox,
          trx,
          MODERATION_EVENTS.event("AccountReinstated", me, { actionId: action.id, userId: action.user_id }),
        );
      }
      const row = await decide(trx, appealId, { state, by: me, reason });
      const names = await pseudonymsOf(trx, [me, action.user_id]);
      const standing = (on: boolean) => (on ? { standing: before?.state } : { standing: "good" });
      await appendAudit(trx, {
        entry: "appeal_decided",
        actor: names.get(me) as string,
        subjectUser: names.get(action.user_id) as string,
        subjectKind: action.subject_kind,
        subjectRef: action.subject_kind === "account" ? (names.get(action.user_id) as string) : action.subject_id,
        actionId: action.id,
        decision: state,
        reason,
        before: { appeal: "open", ...standing(restricts(before)) },
        after: { appeal: state, ...standing(restricts(before) && !lifts) },
      });
      return row;
    });
    return create(DecideAppealResponseSchema, { appeal: toAppeal(decided) });
  };
}
