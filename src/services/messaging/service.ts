/**
 * The messaging service: direct and group conversations, idempotent sends,
 * read positions with exact unread counts, and the public-key registry of
 * end-to-end encrypted messages. This file only wires: each RPC is in
 * rpc/<method>.ts, its SQL in queries.ts, the events it writes in events.ts.
 *
 * Concurrency: every change of a conversation (a message, a membership
 * change) runs under the conversation row's lock, so message positions
 * (`seq`) are handed out 1, 2, 3, ... and commit in that order. A member's
 * read position is a `seq` that only moves forward, and their unread count
 * is the number of others' messages after it: exact at any moment, whatever
 * runs concurrently (no counters to drift). Every write and its events
 * commit in one transaction (outbox); a caller who is not a current member
 * of a conversation gets NOT_FOUND from every RPC.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import type { MessagingDeps } from "./deps.ts";
import { addMember } from "./rpc/addMember.ts";
import { createConversation } from "./rpc/createConversation.ts";
import { getConversations } from "./rpc/getConversations.ts";
import { getMessages } from "./rpc/getMessages.ts";
import { getPublicKey } from "./rpc/getPublicKey.ts";
import { getPublicKeys } from "./rpc/getPublicKeys.ts";
import { leaveConversation } from "./rpc/leaveConversation.ts";
import { listConversations } from "./rpc/listConversations.ts";
import { listMessages } from "./rpc/listMessages.ts";
import { markRead } from "./rpc/markRead.ts";
import { removeMember } from "./rpc/removeMember.ts";
import { sendMessage } from "./rpc/sendMessage.ts";
import { uploadPublicKey } from "./rpc/uploadPublicKey.ts";

export type { MessagingDeps, MessagingPeers } from "./deps.ts";

export function createMessagingService(deps: MessagingDeps): ServiceImpl<typeof MessagingService> {
  return {
    createConversation: createConversation(deps),
    addMember: addMember(deps),
    removeMember: removeMember(deps),
    leaveConversation: leaveConversation(deps),
    sendMessage: sendMessage(deps),
    markRead: markRead(deps),
    listConversations: listConversations(deps),
    getConversations: getConversations(deps),
    listMessages: listMessages(deps),
    getMessages: getMessages(deps),
    uploadPublicKey: uploadPublicKey(deps),
    getPublicKey: getPublicKey(deps),
    getPublicKeys: getPublicKeys(deps),
  };
}
