/**
 * Every event the messaging service writes, all on one topic: nova.messaging.conversation, keyed by
 * the conversation id (so one conversation's events stay in order). Writers build them with
 * `conversationEvent`, whose payload type comes from the schema below, so a payload change breaks
 * at compile time; consumers parse with `parseMessagingPayload` instead of re-checking fields by hand.
 *
 * The payloads are written as the writers build them (not as the schemas would rebuild them): the
 * schemas describe the wire, they do not reshape it.
 */

import type { Transaction } from "kysely";
import { z } from "zod";
import type { Envelope } from "../../platform/events/envelope.ts";
import { topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { isUuid } from "../../platform/validate.ts";

export const MESSAGING_SERVICE = "messaging";
export const CONVERSATION_AGGREGATE = "conversation";
export const CONVERSATION_TOPIC = topicOf(MESSAGING_SERVICE, CONVERSATION_AGGREGATE);

// Ids as Postgres prints them; consumers have always accepted upper case too (and lower-cased it).
const id = z.string().refine((v) => isUuid(v.toLowerCase()), "must be an id (UUID)");
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
});

export const MESSAGING_EVENTS = {
  ConversationCreated: conversationCreated,
  MemberAdded: memberAdded,
  MemberRemoved: memberRemoved,
  MessagesRead: messagesRead,
  MessageSent: messageSent,
} as const;

export type MessagingEventType = keyof typeof MESSAGING_EVENTS;
export type MessagingPayload<T extends MessagingEventType> = z.infer<(typeof MESSAGING_EVENTS)[T]>;
export type ConversationCreated = MessagingPayload<"ConversationCreated">;
export type MemberAdded = MessagingPayload<"MemberAdded">;
export type MemberRemoved = MessagingPayload<"MemberRemoved">;
export type MessagesRead = MessagingPayload<"MessagesRead">;
export type MessageSent = MessagingPayload<"MessageSent">;

/** A messaging event for the outbox: its aggregate is the payload's conversation. */
export function conversationEvent<T extends MessagingEventType>(
  type: T,
  actorId: string,
  payload: MessagingPayload<T>,
): NewEvent {
  return {
    type,
    aggregateType: CONVERSATION_AGGREGATE,
    aggregateId: payload.conversationId,
    actorId,
    payload,
  };
}

/** Writes one messaging event into the outbox, in the transaction of the change it describes. */
export async function emitConversationEvent<T extends MessagingEventType, DB>(
  outbox: Outbox,
  trx: Transaction<DB>,
  type: T,
  actorId: string,
  payload: MessagingPayload<T>,
): Promise<void> {
  await outbox.emit(trx as Transaction<unknown>, conversationEvent(type, actorId, payload));
}

export function isMessagingEventType(type: string): type is MessagingEventType {
  return Object.hasOwn(MESSAGING_EVENTS, type);
}

/** The typed payload of a messaging event received by a consumer; throws when it does not match. */
export function parseMessagingPayload<T extends MessagingEventType>(type: T, event: Envelope): MessagingPayload<T> {
  if (event.type !== type) throw new Error(`expected a ${type} event, got ${event.type} (${event.id})`);
  const r = MESSAGING_EVENTS[type].safeParse(event.payload);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `payload.${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`${type} ${event.id}: ${issues}`);
  }
  return r.data as MessagingPayload<T>;
}
