/**
 * Every event the content service writes. All are about a post (aggregate `post`, so they share
 * the topic `nova.content.post` keyed by the post's id and stay in order per post), and each payload
 * starts with that `postId`. Writers build them with `postEvent`, whose payload type is inferred from
 * the schema below, so changing a payload here breaks its writers (and typed consumers) at compile time.
 * Consumers parse an envelope with `parsePostEvent` (every field) or a `POST_EVENTS.reader` (the
 * fields they use); the schemas accept added keys, so a new optional field does not break a consumer
 * that does not know it yet.
 */
import { z } from "zod";
import { type DeclaredEvent, defineEvents, payloadId, type Received } from "../../platform/events/declare.ts";
import type { Envelope } from "../../platform/events/envelope.ts";

export const POST_AGGREGATE = "post";

// Ids in payloads are UUIDs as Nova writes them (lower-case text); a timestamp is RFC 3339 text.
const id = payloadId();

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
  /** Soft-deleted by its author, a moderator or an admin (`deletedBy`); a moderator's `reason`. */
  PostDeleted: z.object({ postId: id, authorId: id, deletedBy: id, reason: z.string().optional() }),
  /** A moderator marked the post's media sensitive. */
  PostMarkedSensitive: z.object({ postId: id, authorId: id, markedBy: id }),
  /** Hard-deleted by the purge job, after CONTENT_PURGE_AFTER_DAYS; the actor is the author. */
  PostPurged: z.object({
    postId: id,
    authorId: id,
    /** The uploaded media the post carried: the media service erases them and their blobs. */
    mediaIds: z.array(id).default([]),
  }),
  /**
   * `parentId`: the top-level comment it replies to (replies are one level deep), or null, and
   * `parentAuthorId` its author; `mentionIds` the existing users the text @mentions (never the author).
   */
  CommentCreated: z.object({
    postId: id,
    commentId: id,
    authorId: id,
    postAuthorId: id,
    parentId: id.nullable(),
    parentAuthorId: id.nullable().default(null),
    mentionIds: z.array(id).default([]),
    text: z.string(),
  }),
  /** `userId` liked the comment of `authorId` (only when the like is new). */
  CommentLiked: z.object({ postId: id, commentId: id, userId: id, authorId: id }),
  /** `authorId` is the comment's author; `deletedBy` may be the post's author or an admin. */
  CommentDeleted: z.object({ postId: id, commentId: id, authorId: id, deletedBy: id, reason: z.string().optional() }),
  /** `userId` liked the post of `authorId` (only when the like is new). */
  PostLiked: z.object({ postId: id, userId: id, authorId: id }),
  /** `userId` took back a like (only when there was one). */
  PostUnliked: z.object({ postId: id, userId: id, authorId: id }),
} as const;

/** The declaration: topic `nova.content.post`, keyed by the post. */
export const POST_EVENTS = defineEvents("content", POST_AGGREGATE, postEventSchemas, (p) => p.postId);
/** `nova.content.post`. */
export const POST_TOPIC = POST_EVENTS.topic;

export type PostEventType = keyof typeof postEventSchemas;
export type PostEventPayload<T extends PostEventType> = z.infer<(typeof postEventSchemas)[T]>;
export const POST_EVENT_TYPES = POST_EVENTS.types;

/** A content event ready for the outbox; `T` keeps its payload tied to its type. */
export type PostEvent<T extends PostEventType = PostEventType> = DeclaredEvent<typeof POST_AGGREGATE, T>;

/** The event of `type` about `payload.postId`, done by `actorId`. */
export const postEvent = POST_EVENTS.event;

/** Writes content events into content's outbox inside the caller's transaction (whatever its tables' type). */
export const writePostEvents = POST_EVENTS.write;

/** A received content event, discriminated by its type. */
export type ReceivedPostEvent = Received<typeof postEventSchemas>;

/** The typed event of an envelope from `nova.content.post`; undefined for a type this build does not know. */
export function parsePostEvent(env: Envelope): ReceivedPostEvent | undefined {
  return POST_EVENTS.parse(env);
}
