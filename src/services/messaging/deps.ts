/** What the messaging service's handlers are built from (the module fills it; tests build their own). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import type { Outbox } from "../../platform/events/outbox.ts";
import type { MessagingTables } from "./queries.ts";

/** What messaging needs from other services (RPC-backed in the module). */
export interface MessagingPeers {
  /** Of `userIds`, those the calling user blocks or is blocked by (asked fresh: a block applies at once). */
  blockedWith(userIds: string[]): Promise<Set<string>>;
  /** Of `userIds`, those that exist. */
  existing(userIds: string[]): Promise<Set<string>>;
  /**
   * The media service's AttachMedia as the sender: each id must be their own READY media uploaded
   * for messages, and is bound to this conversation (coded errors naming attachments[i].mediaId).
   */
  attachMedia(mediaIds: string[], conversationId: string): Promise<void>;
}

export interface MessagingDeps {
  db: { writer: Kysely<MessagingTables>; reader: Kysely<MessagingTables> };
  outbox: Outbox;
  peers: MessagingPeers;
}

/** The handler of one RPC of the messaging service. */
export type Rpc<M extends keyof ServiceImpl<typeof MessagingService>> = ServiceImpl<typeof MessagingService>[M];
