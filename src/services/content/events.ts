/**
 * Every event the content service writes. All are about a post (aggregate `post`, so they share
 * the topic `nova.content.post` keyed by the post's id and stay in order per post), and each payload
 * starts with that `postId`. Writers build them with `postEvent`, whose payload type is inferred from
 * the schema below, so changing a payload here breaks its writers (and typed consumers) at compile time.
 * Consumers may parse an envelope with `parsePostEvent`; the schemas accept added keys, so a new
 * optional field does not break a consumer that does not know it yet.
 */
import type { Transaction } from "kysely";
import { z } from "zod";
import type { Envelope } from "../../platform/events/envelope.ts";
import { topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";

export const POST_AGGREGATE = "post";
/** `nova.content.post`. */
export const POST_TOPIC = topicOf("content", POST_AGGREGATE);

// Ids in payloads are UUIDs as Nova writes them (lower-case text); a timestamp is RFC 3339 text.
const id = z.string();

export const postEventSchemas = {
  /** A post was written. `createdAt` is the row's timestamp as PostgreSQL prints it in JSON. */
  PostCreated: z.object({
    postId: id,
    authorId: id,
    text: z.string(),
    hashtags: z.array(z.string()),
    mentionIds: z.array(id),
    mediaCount: z.number().int(),
    createdAt: z.string(),
  }),
  /** One per existing user the post @mentions (never the author). */
  Mentioned: z.object({ postId: id, authorId: id, mentionedId: id }),
  /** The author changed the text (the old text is in content.post_edits). */
  PostEdited: z.object({ postId: id, authorId: id, text: z.string(), hashtags: z.array(z.string()) }),
  /** Soft-deleted by its author or an admin (`deletedBy`). */
  PostDeleted: z.object({ postId: id, authorId: id, deletedBy: id }),
  /** Hard-deleted by the purge job, after CONTENT_PURGE_AFTER_DAYS; the actor is the author. */
  PostPurged: z.object({ postId: id, authorId: id }),
  /** `parentId`: the top-level comment it replies to (replies are one level deep), or null. */
  CommentCreated: z.object({
    postId: id,
    commentId: id,
    authorId: id,
    postAuthorId: id,
    parentId: id.nullable(),
    text: z.string(),
  }),
  /** `authorId` is the comment's author; `deletedBy` may be the post's author or an admin. */
  CommentDeleted: z.object({ postId: id, commentId: id, authorId: id, deletedBy: id }),
  /** `userId` liked the post of `authorId` (only when the like is new). */
  PostLiked: z.object({ postId: id, userId: id, authorId: id }),
  /** `userId` took back a like (only when there was one). */
  PostUnliked: z.object({ postId: id, userId: id, authorId: id }),
} as const;

export type PostEventType = keyof typeof postEventSchemas;
export type PostEventPayload<T extends PostEventType> = z.infer<(typeof postEventSchemas)[T]>;
export const POST_EVENT_TYPES = Object.keys(postEventSchemas) as PostEventType[];

/** A content event ready for the outbox; `T` keeps its payload tied to its type. */
export interface PostEvent<T extends PostEventType = PostEventType> extends NewEvent {
  type: T;
  aggregateType: typeof POST_AGGREGATE;
  payload: PostEventPayload<T>;
}

/** The event of `type` about `payload.postId`, done by `actorId`. */
export function postEvent<T extends PostEventType>(
  type: T,
  actorId: string,
  payload: PostEventPayload<T>,
): PostEvent<T> {
  return { type, aggregateType: POST_AGGREGATE, aggregateId: payload.postId, actorId, payload };
}

/** Writes content events into content's outbox inside the caller's transaction (whatever its tables' type). */
export async function writePostEvents<DB>(outbox: Outbox, trx: Transaction<DB>, ...events: PostEvent[]): Promise<void> {
  await outbox.emit(trx as Transaction<unknown>, ...events);
}

/** A received content event, discriminated by its type. */
export type ReceivedPostEvent = { [T in PostEventType]: { type: T; payload: PostEventPayload<T> } }[PostEventType];

/** The typed event of an envelope from `nova.content.post`; undefined for a type this build does not know. */
export function parsePostEvent(env: Envelope): ReceivedPostEvent | undefined {
  if (!Object.hasOwn(postEventSchemas, env.type)) return undefined;
  const type = env.type as PostEventType;
  return { type, payload: postEventSchemas[type].parse(env.payload) } as ReceivedPostEvent;
}
