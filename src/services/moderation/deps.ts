/** What the moderation service is built from. */
import type { Kysely } from "kysely";
import type { Outbox } from "../../platform/events/outbox.ts";
import type { ModerationTables } from "./queries.ts";

/** A message as the messaging service lets the reporter read it. */
export interface ReadableMessage {
  id: string;
  conversationId: string;
  senderId: string;
  text: string;
  encrypted: boolean;
  createdAt: string;
}

/** The owners' answers about what a report names (each asked as the reporter, with their claims). */
export interface SubjectLookup {
  /** A live post's author. */
  postAuthor(postId: string): Promise<string | undefined>;
  /** A live comment's author. */
  commentAuthor(commentId: string): Promise<string | undefined>;
  /** Whether the account exists. */
  userExists(userId: string): Promise<boolean>;
  /** The messages of `ids` the reporter may read (others left out). */
  readableMessages(ids: string[]): Promise<ReadableMessage[]>;
}

/** What an action asks of other services (as the acting moderator, with their claims). */
export interface ActionEffects {
  /** The user's role ("user", "moderator", "admin"), or undefined when there is no such account. */
  roleOf(userId: string): Promise<string | undefined>;
  /** Content's soft delete, with the moderator's reason (NOT_FOUND when it is gone). */
  removePost(postId: string, reason: string): Promise<void>;
  removeComment(commentId: string, reason: string): Promise<void>;
  /** With the post's new content warning ("" keeps the one it has). */
  markPostSensitive(postId: string, contentWarning: string): Promise<void>;
}

export interface ModerationDeps {
  db: { writer: Kysely<ModerationTables>; reader: Kysely<ModerationTables> };
  outbox: Outbox;
  subjects: SubjectLookup;
  effects: ActionEffects;
  /** Announces an account's new standing on the bus after its action commits (STANDING_CHANNEL). */
  announce?: (userId: string, restricted: boolean) => Promise<void>;
  /** Reports one user may file in an hour (LIMITS.reportsPerHour unless told). */
  reportsPerHour?: number;
}
