/**
 * CreateConversation: a direct conversation with one other user (at most one per pair: asking
 * again answers the existing one) or a group of up to LIMITS.groupMembersMax members, the
 * caller included. Refused across a block and for users that do not exist.
 */
import { invalid } from "../../../platform/errors.ts";
import { requireVerifiedUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { emitConversationEvent } from "../events.ts";
import { directBetween, insertDirect, insertGroup, insertMembers, type Kind, touch } from "../queries.ts";
import { refuseBlocked, refuseMissing } from "../rules.ts";
import { LIMITS } from "../validation.ts";
import { viewOf } from "../views.ts";

export function createConversation(deps: MessagingDeps): Rpc<"createConversation"> {
  return async (req) => {
    const me = requireVerifiedUser().userId;
    const ids = uuids("memberIds", req.memberIds, LIMITS.batchMax);
    const fieldOf = (id: string) => `memberIds[${ids.indexOf(id)}]`;
    const others = [...new Set(ids)].filter((id) => id !== me);
    if (others.length === 0) throw invalid("memberIds", "must name at least one other user");
    if (others.length > LIMITS.groupMembersMax - 1) {
      throw invalid("memberIds", `a group has at most ${LIMITS.groupMembersMax} members, you included`);
    }
    await refuseMissing(deps.peers, others, fieldOf);
    await refuseBlocked(deps.peers, others, fieldOf);
    const kind: Kind = others.length === 1 && !req.group ? "direct" : "group";
    const members = [me, ...others];
    return deps.db.writer.transaction().execute(async (trx) => {
      let id: string | undefined;
      if (kind === "direct") {
        const [low, high] = me < (others[0] as string) ? [me, others[0]] : [others[0], me];
        id = await insertDirect(trx, me, low as string, high as string);
        if (!id) {
          // The pair's conversation exists (maybe created a moment ago by the other user).
          const existing = await directBetween(trx, low as string, high as string);
          return { conversation: await viewOf(trx, me, existing as string), created: false };
        }
      } else {
        id = await insertGroup(trx, me);
      }
      await insertMembers(trx, id, members);
      await touch(trx, id);
      await emitConversationEvent(deps.outbox, trx, "ConversationCreated", me, {
        conversationId: id,
        creatorId: me,
        memberIds: members,
        kind,
      });
      return { conversation: await viewOf(trx, me, id), created: true };
    });
  };
}
