/**
 * The consumer `search.index`: applies identity, graph and content events to
 * the projection, or, while a rebuild runs, parks them for the rebuild to
 * replay (see reindex.ts). One handler for the three topics: in the embedded
 * log they arrive in commit order.
 *
 * The payloads are read by hand, one small function per event type (below), until the producing
 * services declare their events; each then becomes the declared type's parse.
 */
import type { Kysely, Transaction } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { type Envelope, topicOf } from "../../platform/events/envelope.ts";
import { isUuid } from "../../platform/validate.ts";
import { type PostDoc, postgresIndex, type SearchIndex, type UserDoc } from "./projection.ts";
import { park, parkingJob } from "./queries.ts";

type Db = Kysely<unknown>;

export const SEARCH_TOPICS = [
  topicOf("identity", "user"),
  topicOf("graph", "relationship"),
  topicOf("content", "post"),
];

/** Maps a post's language code (from its event; undefined when it has none) to a text search configuration. */
export type PostLanguage = (code: string | undefined) => string;

export function indexConsumer(postLanguage: PostLanguage, index: SearchIndex = postgresIndex): EventHandler {
  /** Applies the events in order, or, while a rebuild runs, parks them for it (read FOR SHARE, kept till commit). */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    if (await parkingJob(trx)) {
      await park(trx, events);
      return;
    }
    await applyEvents(trx, events, postLanguage, index);
  }
  return {
    name: "search.index",
    schema: "search",
    topics: SEARCH_TOPICS,
    handle: (event, trx) => apply([event], trx),
    handleBatch: apply,
  };
}

/**
 * Applies one event of nova.identity.user, nova.graph.relationship or
 * nova.content.post. `language` maps a post to its text search configuration.
 */
export async function applyEvent(
  db: Db,
  event: Envelope,
  language: PostLanguage,
  index: SearchIndex = postgresIndex,
): Promise<void> {
  switch (event.type) {
    case "UserRegistered":
      await index.writeUsers(db, [userRegistered(event)]);
      return;
    case "ProfileUpdated":
      await index.writeUsers(db, [profileUpdated(event)]);
      return;
    case "Blocked":
      await index.writeBlocks(db, [blocked(event)]);
      return;
    case "Unblocked": {
      const b = unblocked(event);
      await index.removeBlock(db, b.blockerId, b.blockedId);
      return;
    }
    case "PostCreated":
      await index.writePosts(db, [postCreated(event, language)]);
      return;
    case "PostEdited": {
      const e = postEdited(event);
      await index.editPost(db, e.postId, e.text, e.hashtags);
      return;
    }
    case "PostDeleted":
    case "PostPurged":
      await index.removePosts(db, [postRemoved(event)]);
      return;
    default:
      // Follows, mutes, likes, comments, mentions: nothing search shows.
      return;
  }
}

/**
 * Applies events in order with the effect of applyEvent on each: consecutive profiles and new posts
 * are written together (every write sets the full state of what it touches, so the last document
 * of a user or post in a run is the one that counts).
 */
export async function applyEvents(
  db: Db,
  events: Envelope[],
  language: PostLanguage,
  index: SearchIndex = postgresIndex,
): Promise<void> {
  const users = new Map<string, UserDoc>();
  const posts = new Map<string, PostDoc>();
  const flush = async () => {
    if (users.size) await index.writeUsers(db, [...users.values()]);
    if (posts.size) await index.writePosts(db, [...posts.values()]);
    users.clear();
    posts.clear();
  };
  for (const event of events) {
    switch (event.type) {
      case "UserRegistered":
      case "ProfileUpdated": {
        const doc = event.type === "UserRegistered" ? userRegistered(event) : profileUpdated(event);
        users.delete(doc.userId);
        users.set(doc.userId, doc);
        continue;
      }
      case "PostCreated": {
        const doc = postCreated(event, language);
        posts.delete(doc.postId);
        posts.set(doc.postId, doc);
        continue;
      }
      case "Blocked":
      case "Unblocked":
      case "PostEdited":
      case "PostDeleted":
      case "PostPurged":
        await flush();
        await applyEvent(db, event, language, index);
        continue;
      default:
        // Follows, mutes, likes, comments, mentions: nothing search shows.
        continue;
    }
  }
  await flush();
}

// ---- The payloads, read by hand: one function per event type (to become the producers' declared types).

/** identity's UserRegistered (nova.identity.user). */
export function userRegistered(event: Envelope): UserDoc {
  return userDoc(event);
}

/** identity's ProfileUpdated (nova.identity.user): the full profile, as UserRegistered. */
export function profileUpdated(event: Envelope): UserDoc {
  return userDoc(event);
}

/** graph's Blocked (nova.graph.relationship): userId blocked targetId. */
export function blocked(event: Envelope): { blockerId: string; blockedId: string } {
  return { blockerId: id(event.payload, "userId"), blockedId: id(event.payload, "targetId") };
}

/** graph's Unblocked (nova.graph.relationship): userId unblocked targetId. */
export function unblocked(event: Envelope): { blockerId: string; blockedId: string } {
  return { blockerId: id(event.payload, "userId"), blockedId: id(event.payload, "targetId") };
}

/** content's PostCreated (nova.content.post); `language` maps its optional language code. */
export function postCreated(event: Envelope, language: PostLanguage): PostDoc {
  const p = event.payload;
  return {
    postId: id(p, "postId"),
    authorId: id(p, "authorId"),
    text: str(p, "text"),
    hashtags: tags(p),
    createdAt: str(p, "createdAt", event.occurred_at),
    language: language(typeof p.language === "string" ? p.language : undefined),
  };
}

/** content's PostEdited (nova.content.post): the new text and hashtags. */
export function postEdited(event: Envelope): { postId: string; text: string; hashtags: string[] } {
  const p = event.payload;
  return { postId: id(p, "postId"), text: str(p, "text"), hashtags: tags(p) };
}

/** content's PostDeleted and PostPurged (nova.content.post): the post id. */
export function postRemoved(event: Envelope): string {
  return id(event.payload, "postId");
}

function userDoc(event: Envelope): UserDoc {
  return {
    userId: id(event.payload, "userId"),
    username: str(event.payload, "username"),
    displayName: str(event.payload, "displayName", ""),
    createdAt: str(event.payload, "createdAt", event.occurred_at),
  };
}

function id(p: Record<string, unknown>, name: string): string {
  const v = p[name];
  if (typeof v !== "string" || !isUuid(v)) throw new Error(`payload.${name} must be an id`);
  return v;
}

function str(p: Record<string, unknown>, name: string, dflt?: string): string {
  const v = p[name] ?? dflt;
  if (typeof v !== "string") throw new Error(`payload.${name} must be a string`);
  return v;
}

function tags(p: Record<string, unknown>): string[] {
  const v = p.hashtags ?? [];
  if (!Array.isArray(v) || v.length > 100 || !v.every((t) => typeof t === "string" && t.length > 0 && t.length <= 64))
    throw new Error("payload.hashtags must be a list of hashtags");
  return v as string[];
}
