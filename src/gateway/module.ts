import { Redis } from "ioredis";
import { ContentService } from "../gen/nova/content/v1/content_pb.ts";
import { FeedService } from "../gen/nova/feed/v1/feed_pb.ts";
import { GraphService } from "../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../gen/nova/identity/v1/identity_pb.ts";
import { MessagingService } from "../gen/nova/messaging/v1/messaging_pb.ts";
import { NotificationService } from "../gen/nova/notifications/v1/notifications_pb.ts";
import { SearchService } from "../gen/nova/search/v1/search_pb.ts";
import { createVerifier } from "../platform/security/jwt.ts";
import type { ModuleContext, ModuleInstance } from "../runtime/module.ts";
import { securityOptions } from "./security.ts";
import { buildGateway } from "./server.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const identity = ctx.client(IdentityService);
  const verify = createVerifier(async () => JSON.parse((await identity.getJwks({})).jwksJson));
  // Rate limits and Idempotency-Keys are shared through Redis when there is one (in-process otherwise).
  const redis = ctx.config.REDIS_URL
    ? new Redis(ctx.config.REDIS_URL, { commandTimeout: 500, maxRetriesPerRequest: 1, lazyConnect: false })
    : undefined;
  redis?.on("error", (err) => ctx.log.debug({ err }, "gateway redis error"));
  const app = await buildGateway({
    log: ctx.log,
    production: ctx.config.production,
    batching: ctx.config.GATEWAY_DATALOADER !== "false",
    requestTimeoutMs: ctx.config.REQUEST_TIMEOUT_MS,
    identity,
    graph: ctx.client(GraphService),
    content: ctx.client(ContentService),
    feed: ctx.client(FeedService),
    messaging: ctx.client(MessagingService),
    notifications: ctx.client(NotificationService),
    search: ctx.client(SearchService),
    verify,
    security: securityOptions(ctx.config),
    redis,
    bus: ctx.bus(),
  });
  const address = await app.listen({ host: ctx.config.HOST, port: ctx.config.PORT });
  ctx.log.info({ url: `${address}/graphql` }, "GraphQL gateway listening");
  return {
    address,
    ready: async () => true,
    async stop(graceMs) {
      // Stop accepting, let in-flight requests finish, then cut what is left.
      const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
      await app.close();
      clearTimeout(timer);
      redis?.disconnect();
    },
  };
}
