import { randomUUID } from "node:crypto";
import type { Transaction } from "kysely";
import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import { MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import type { MessagingPeers } from "./deps.ts";
import { eraseMember, type MessagingTables } from "./queries.ts";
import { createMessagingService } from "./service.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const graph = ctx.client(GraphService);
  const identity = ctx.client(IdentityService);
  const media = ctx.client(MediaService);
  const peers: MessagingPeers = {
    // Not cached: starting a conversation, adding a member and sending are rare enough per user to
    // ask the graph every time, and a block then stops the very next message.
    async blockedWith(userIds) {
      // GetRelationships answers for the caller, who is the acting user of this call; from the
      // primary, so a block committed a moment ago stops this message.
      const res = await graph.getRelationships({ userIds, fresh: true });
      return new Set(res.relationships.filter((r) => r.blocking || r.blockedBy).map((r) => r.userId));
    },
    async existing(userIds) {
      const res = await identity.batchGetUsers({ ids: userIds });
      return new Set(res.users.map((u) => u.id));
    },
    async attachMedia(mediaIds, conversationId) {
      await media.attachMedia({ mediaIds, conversationId });
    },
  };
  const impl = createMessagingService({ db: ctx.db().kysely<MessagingTables>(), outbox: ctx.outbox(), peers });
  // An erased account's messages stay as "deleted message" under an opaque sender, one per erasure
  // (random: nothing leads back from it to the account).
  const erasure = erasureConsumer("messaging.erasure", "messaging", async (userId, trx) => {
    await eraseMember(trx as unknown as Transaction<MessagingTables>, userId, randomUUID());
  });
  return { services: [{ service: MessagingService, impl }], consumers: [erasure] };
}
