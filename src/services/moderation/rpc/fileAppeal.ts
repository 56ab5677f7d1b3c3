/**
 * FileAppeal: the account an action touched appeals it, once (a second is ALREADY_EXISTS), with a
 * statement; DISMISS and LIFT touch no one's standing or content and cannot be appealed. Audited.
 */
import { create } from "@bufbuild/protobuf";
import {
  type FileAppealRequest,
  type FileAppealResponse,
  FileAppealResponseSchema,
} from "../../../gen/nova/moderation/v1/moderation_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { text, uuid, uuidv7 } from "../../../platform/validate.ts";
import type { ModerationDeps } from "../deps.ts";
import { toAppeal } from "../messages.ts";
import { actionById, appendAudit, insertAppeal, pseudonymsOf } from "../queries.ts";

export function fileAppeal(deps: ModerationDeps) {
  return async (req: FileAppealRequest): Promise<FileAppealResponse> => {
    const me = requireUser().userId;
    const actionId = uuid("actionId", req.actionId, "an action id");
    const statement = text("statement", req.statement, { max: 2_000, multiline: true });
    const action = await actionById(deps.db.writer, actionId);
    if (!action) throw new NovaError("NOT_FOUND", "action not found", { field: "actionId" });
    if (action.user_id !== me) {
      throw new NovaError("FORBIDDEN", "only the account an action touched may appeal it", { field: "actionId" });
    }
    if (action.action === "dismiss" || action.action === "lift") throw invalid("actionId", "cannot be appealed");
    const appeal = await deps.db.writer.transaction().execute(async (trx) => {
      const filed = await insertAppeal(trx, { id: uuidv7(), actionId, appellantId: me, statement });
      if (!filed) throw new NovaError("ALREADY_EXISTS", "this action was appealed already", { field: "actionId" });
      const names = await pseudonymsOf(trx, [me]);
      const who = names.get(me) as string;
      await appendAudit(trx, {
        entry: "appeal_filed",
        actor: who,
        subjectUser: who,
        subjectKind: action.subject_kind,
        subjectRef: action.subject_kind === "account" ? who : action.subject_id,
        actionId,
        decision: "appeal",
        reason: statement,
        before: {},
        after: { appeal: "open" },
      });
      return filed;
    });
    return create(FileAppealResponseSchema, { appeal: toAppeal(appeal) });
  };
}
