/**
 * TakeAction: validate, find the account the subject belongs to, apply the rules (a moderator or
 * admin; never on oneself, never on an admin; the subject still there), have content remove or
 * mark it through its own RPCs, then in one transaction: the action, the account's new standing,
 * the subject's reports closed, the audit row (people by pseudonym) and the events other services
 * apply (identity ends sessions; notifications tell the owner and the reporters).
 */
import { create } from "@bufbuild/protobuf";
import {
  type TakeActionRequest,
  type TakeActionResponse,
  TakeActionResponseSchema,
} from "../../../gen/nova/moderation/v1/moderation_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireModerator } from "../../../platform/rpc/authz.ts";
import { uuidv7 } from "../../../platform/validate.ts";
import type { ModerationDeps } from "../deps.ts";
import { toAction } from "../messages.ts";
import { subjectOf } from "../queries.ts";
import { recordAction } from "../record.ts";
import { type ActionInput, validateAction } from "../validation.ts";

export function takeAction(deps: ModerationDeps) {
  return async (req: TakeActionRequest): Promise<TakeActionResponse> => {
    const actor = requireModerator().userId;
    const input = validateAction(req);
    const userId = await ownerOf(deps, input);
    await checkRules(deps, actor, userId);
    await applyToContent(deps, input);
    const row = await recordAction(deps, { id: uuidv7(), actor, userId, input });
    if (input.action === "suspend" || input.action === "ban" || input.action === "lift") {
      await deps.announce?.(userId, input.action !== "lift");
    }
    return create(TakeActionResponseSchema, { action: toAction(row) });
  };
}

const notFound = (what: string) => new NovaError("NOT_FOUND", `${what} not found`, { field: "subjectId" });

/** The account the subject belongs to; a deleted post or comment, or an unknown account, is NOT_FOUND. */
async function ownerOf(deps: ModerationDeps, input: ActionInput): Promise<string> {
  switch (input.kind) {
    case "post": {
      const author = await deps.subjects.postAuthor(input.subjectId);
      if (!author) throw notFound("post");
      return author;
    }
    case "comment": {
      const author = await deps.subjects.commentAuthor(input.subjectId);
      if (!author) throw notFound("comment");
      return author;
    }
    case "message": {
      // A moderator cannot read others' conversations: a message is known only from its report.
      const s = await subjectOf(deps.db.writer, "message", input.subjectId);
      if (!s) throw notFound("reported message");
      return s.user_id;
    }
    case "account":
      return input.subjectId;
  }
}

async function checkRules(deps: ModerationDeps, actor: string, userId: string): Promise<void> {
  if (userId === actor)
    throw new NovaError("FORBIDDEN", "a moderator cannot act on themselves", { field: "subjectId" });
  const role = await deps.effects.roleOf(userId);
  if (role === undefined) throw notFound("user");
  if (role === "admin") throw new NovaError("FORBIDDEN", "a moderator cannot act on an admin", { field: "subjectId" });
}

/** Removal and the sensitive mark are content's writes, done by content before the action is recorded. */
async function applyToContent(deps: ModerationDeps, input: ActionInput): Promise<void> {
  if (input.action === "remove") {
    if (input.kind === "post") await deps.effects.removePost(input.subjectId, input.reason);
    else if (input.kind === "comment") await deps.effects.removeComment(input.subjectId, input.reason);
    else throw invalid("action", `does not apply to a ${input.kind}`);
  } else if (input.action === "mark_sensitive") {
    await deps.effects.markPostSensitive(input.subjectId, input.contentWarning);
  }
}
