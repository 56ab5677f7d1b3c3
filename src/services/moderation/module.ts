import { ContentService } from "../../gen/nova/content/v1/content_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import { ModerationService } from "../../gen/nova/moderation/v1/moderation_pb.ts";
import { fromError, NovaError } from "../../platform/errors.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import type { ActionEffects, SubjectLookup } from "./deps.ts";
import { STANDING_CHANNEL } from "./events.ts";
import { forgetPerson, type ModerationDb, type ModerationTables } from "./queries.ts";
import { createModerationService } from "./service.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const identity = ctx.client(IdentityService);
  const bus = ctx.bus();
  const content = ctx.client(ContentService);
  const messaging = ctx.client(MessagingService);
  // Asked with the reporter's claims (they travel with the call): messaging answers only what they may read.
  const subjects: SubjectLookup = {
    postAuthor: async (id) => (await content.getPosts({ postIds: [id] })).posts[0]?.authorId,
    commentAuthor: async (id) => (await content.getComments({ commentIds: [id] })).comments[0]?.authorId,
    userExists: async (id) => (await identity.batchGetUsers({ ids: [id] })).users.length === 1,
    readableMessages: async (ids) =>
      (await messaging.getMessages({ messageIds: ids })).messages.map((m) => ({
        id: m.id,
        conversationId: m.conversationId,
        senderId: m.senderId,
        text: m.text,
        encrypted: m.encrypted,
        createdAt: m.createdAt,
      })),
  };
  // Content's errors name its own fields (postId); here the subject is `subjectId`.
  const asSubject = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const e = fromError(err);
      if (e.code === "NOT_FOUND") throw new NovaError("NOT_FOUND", e.message, { field: "subjectId" });
      throw err;
    }
  };
  const effects: ActionEffects = {
    roleOf: async (id) => (await identity.getRoles({ userIds: [id] })).roles[0]?.role,
    removePost: (postId, reason) => asSubject(() => content.deletePost({ postId, reason })),
    removeComment: (commentId, reason) => asSubject(() => content.deleteComment({ commentId, reason })),
    markPostSensitive: (postId, contentWarning) =>
      asSubject(() => content.markPostSensitive({ postId, contentWarning })),
  };
  const impl = createModerationService({
    db: ctx.db().kysely<ModerationTables>(),
    outbox: ctx.outbox(),
    subjects,
    effects,
    announce: async (userId, restricted) => {
      // Best effort: identity's revocation from the log follows whatever the bus does.
      try {
        await bus.publish(STANDING_CHANNEL, JSON.stringify({ userId, restricted }));
      } catch (err) {
        ctx.log.warn({ err, userId }, "standing not announced on the bus");
      }
    },
  });
  // An erased account's reports go; the records keep only its (then untraceable) pseudonym.
  const erasure = erasureConsumer("moderation.erasure", "moderation", (userId, trx) =>
    forgetPerson(trx as unknown as ModerationDb, userId),
  );
  return { services: [{ service: ModerationService, impl }], consumers: [erasure] };
}
