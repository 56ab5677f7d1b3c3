/**
 * Every event the messaging service writes, all on one topic: nova.messaging.conversation, keyed by
 * the conversation id (so one conversation's events stay in order). Writers build them with
 * `conversationEvent`, whose payload type comes from the schema below, so a payload change breaks
 * at compile time; consumers parse with `MESSAGING.parse` or a `MESSAGING.reader` instead of
 * re-checking fields by hand.
 *
 * The payloads are written as the writers build them (not as the schemas would rebuild them): the
 * schemas describe the wire, they do not reshape it.
 */

import type { Transaction } from "kysely";
import { z } from "zod";
import { defineEvents, payloadId } from "../../platform/events/declare.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import type { Outbox } from "../../platform/events/outbox.ts";

export const CONVERSATION_AGGREGATE = "conversation";

// Ids as Postgres prints them; consumers have always accepted upper case too (and read it lower-cased).
const id = payloadId();
const at = z.iso.datetime({ offset: true });

export const conversationCreated = z.object({
  conversationId: id,
  creatorId: id,
  /** The creator first, then the others in the order asked. */
  memberIds: z.array(id),
  kind: z.enum(["direct", "group"]),
});

export const memberAdded = z.object({ conversationId: id, userId: id, addedBy: id });

export const memberRemoved = z.object({
  conversationId: id,
  userId: id,
  removedBy: id,
  /** True when the member left on their own (then removedBy is themself). */
  left: z.boolean(),
  /** Set when the group's creator left and the group passed to the earliest member. */
  newCreatorId: id.optional(),
});

export const messagesRead = z.object({
  conversationId: id,
  userId: id,
  lastReadMessageId: id,
  readAt: at,
});

export const messageSent = z.object({
  conversationId: id,
  messageId: id,
  senderId: id,
  /** The current members the message reached, the sender left out (set by messaging.send_message). */
  recipientIds: z.array(id),
  /** '' for an encrypted message. */
  text: z.string(),
  encrypted: z.boolean(),
  /** Base64 of the ciphertext; only on an encrypted message, with its keyId. */
  ciphertext: z.string().optional(),
  keyId: id.optional(),
  clientMessageId: z.string(),
  createdAt: at,
  /** Uploaded media of a plaintext message, in order (absent in events written before they existed). */
  attachments: z.array(z.object({ mediaId: id, alt: z.string() })).optional(),
});

export const MESSAGING_EVENTS = {
  ConversationCreated: conversationCreated,
  MemberAdded: memberAdded,
  MemberRemoved: memberRemoved,
  MessagesRead: messagesRead,
  MessageSent: messageSent,
} as const;

/** The declaration: topic nova.messaging.conversation, keyed by the conversation. */
export const MESSAGING = defineEvents("messaging", CONVERSATION_AGGREGATE, MESSAGING_EVENTS, (p) => p.conversationId);
export const CONVERSATION_TOPIC = MESSAGING.topic;

export type MessagingEventType = keyof typeof MESSAGING_EVENTS;
export type MessagingPayload<T extends MessagingEventType> = z.infer<(typeof MESSAGING_EVENTS)[T]>;
export type ConversationCreated = MessagingPayload<"ConversationCreated">;
export type MemberAdded = MessagingPayload<"MemberAdded">;
export type MemberRemoved = MessagingPayload<"MemberRemoved">;
export type MessagesRead = MessagingPayload<"MessagesRead">;
export type MessageSent = MessagingPayload<"MessageSent">;

/** A messaging event for the outbox: its aggregate is the payload's conversation. */
export const conversationEvent = MESSAGING.event;

/** Writes one messaging event into the outbox, in the transaction of the change it describes. */
export async function emitConversationEvent<T extends MessagingEventType, DB>(
  outbox: Outbox,
  trx: Transaction<DB>,
  type: T,
  actorId: string,
  payload: z.input<(typeof MESSAGING_EVENTS)[T]>,
): Promise<void> {
  await MESSAGING.write(outbox, trx, conversationEvent(type, actorId, payload));
}

/** The typed payload of a messaging event received by a consumer; throws when it does not match. */
export function parseMessagingPayload<T extends MessagingEventType>(type: T, event: Envelope): MessagingPayload<T> {
  return MESSAGING.payload(type, event);
}
