/**
 * The gateway's backends: THE one table of the services it calls. module.ts
 * makes a client per entry and server.ts guards each one (call budget and
 * concurrency limit, budget.ts), so a service added here cannot be left
 * unguarded.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ContentService } from "../gen/nova/content/v1/content_pb.ts";
import { ExportService } from "../gen/nova/export/v1/export_pb.ts";
import { FeedService } from "../gen/nova/feed/v1/feed_pb.ts";
import { GraphService } from "../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../gen/nova/identity/v1/identity_pb.ts";
import { MediaService } from "../gen/nova/media/v1/media_pb.ts";
import { MessagingService } from "../gen/nova/messaging/v1/messaging_pb.ts";
import { ModerationService } from "../gen/nova/moderation/v1/moderation_pb.ts";
import { NotificationService } from "../gen/nova/notifications/v1/notifications_pb.ts";
import { SearchService } from "../gen/nova/search/v1/search_pb.ts";
import { ConcurrencyLimiter, guardClient } from "./budget.ts";

export const backends = {
  identity: IdentityService,
  graph: GraphService,
  content: ContentService,
  feed: FeedService,
  media: MediaService,
  messaging: MessagingService,
  notifications: NotificationService,
  search: SearchService,
  moderation: ModerationService,
  export: ExportService,
} as const;

export type BackendName = keyof typeof backends;
export type BackendClients = { [K in BackendName]: Client<(typeof backends)[K]> };

const names = Object.keys(backends) as BackendName[];

/** A client for every backend, made by `client` (the module context's). */
export function createBackendClients(client: <S extends DescService>(service: S) => Client<S>): BackendClients {
  return Object.fromEntries(names.map((n) => [n, client(backends[n])])) as unknown as BackendClients;
}

/** Every backend's client wrapped in the call budget and its own concurrency limiter. */
export function guardBackends(clients: BackendClients, concurrency: number, queue: number): BackendClients {
  return Object.fromEntries(
    names.map((n) => [n, guardClient(clients[n] as never, new ConcurrencyLimiter(n, concurrency, queue))]),
  ) as unknown as BackendClients;
}
