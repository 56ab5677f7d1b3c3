/**
 * The consumer `search.index`: applies identity, graph and content events to
 * the projection, or, while a rebuild runs, parks them for the rebuild to
 * replay (see reindex.ts). One handler for the three topics: in the embedded
 * log they arrive in commit order.
 *
 * The payloads are read with their writers' declarations (identity/, graph/ and content/events.ts):
 * only the fields search uses, typed by the writer's schema. A payload that does not match throws,
 * naming the field; the types search does not show are left alone.
 */
import type { Kysely, Transaction } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { PayloadError } from "../../platform/events/declare.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { POST_EVENTS } from "../content/events.ts";
import { GRAPH_EVENTS } from "../graph/events.ts";
import { USER_EVENTS } from "../identity/events.ts";
import { type PostDoc, postgresIndex, type SearchIndex, type UserDoc } from "./projection.ts";
import { park, parkingJob } from "./queries.ts";

type Db = Kysely<unknown>;

export const SEARCH_TOPICS = [USER_EVENTS.topic, GRAPH_EVENTS.topic, POST_EVENTS.topic];

// ---- What search reads of each event: the fields it shows, as their writers declare them.

/** identity's UserRegistered and ProfileUpdated: the full profile (a missing name is "", a missing time the event's). */
const USER = { userId: true, username: true, displayName: "optional", createdAt: "optional" } as const;
const fromIdentity = USER_EVENTS.reader({ UserRegistered: USER, ProfileUpdated: USER });
/** graph's Blocked and Unblocked: userId blocked (or unblocked) targetId. */
const PAIR = { userId: true, targetId: true } as const;
const fromGraph = GRAPH_EVENTS.reader({ Blocked: PAIR, Unblocked: PAIR });
/** content's PostCreated, PostEdited (the new text and hashtags), PostDeleted and PostPurged. */
const fromContent = POST_EVENTS.reader({
  PostCreated: { postId: true, authorId: true, text: true, hashtags: "optional", createdAt: "optional" },
  PostEdited: { postId: true, text: true, hashtags: "optional" },
  PostDeleted: { postId: true },
  PostPurged: { postId: true },
});
type Read = NonNullable<
  ReturnType<typeof fromIdentity> | ReturnType<typeof fromGraph> | ReturnType<typeof fromContent>
>;

/** The event as search reads it; undefined for the types it does not show (follows, mutes, likes, comments, mentions). */
function read(event: Envelope): Read | undefined {
  return fromIdentity(event) ?? fromGraph(event) ?? fromContent(event);
}

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
  const e = read(event);
  if (e) await applyRead(db, event, e, language, index);
}

async function applyRead(db: Db, event: Envelope, e: Read, language: PostLanguage, index: SearchIndex) {
  switch (e.type) {
    case "UserRegistered":
    case "ProfileUpdated":
      await index.writeUsers(db, [userDoc(event, e.payload)]);
      return;
    case "Blocked":
      await index.writeBlocks(db, [{ blockerId: e.payload.userId, blockedId: e.payload.targetId }]);
      return;
    case "Unblocked":
      await index.removeBlock(db, e.payload.userId, e.payload.targetId);
      return;
    case "PostCreated":
      await index.writePosts(db, [postDoc(event, e.payload, language)]);
      return;
    case "PostEdited":
      await index.editPost(db, e.payload.postId, e.payload.text, tags(event, e.payload.hashtags));
      return;
    case "PostDeleted":
    case "PostPurged":
      await index.removePosts(db, [e.payload.postId]);
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
    const e = read(event);
    // Follows, mutes, likes, comments, mentions: nothing search shows.
    if (!e) continue;
    switch (e.type) {
      case "UserRegistered":
      case "ProfileUpdated": {
        const doc = userDoc(event, e.payload);
        users.delete(doc.userId);
        users.set(doc.userId, doc);
        continue;
      }
      case "PostCreated": {
        const doc = postDoc(event, e.payload, language);
        posts.delete(doc.postId);
        posts.set(doc.postId, doc);
        continue;
      }
      default:
        await flush();
        await applyRead(db, event, e, language, index);
    }
  }
  await flush();
}

type Payload<T extends Read["type"]> = Extract<Read, { type: T }>["payload"];

function userDoc(event: Envelope, p: Payload<"UserRegistered" | "ProfileUpdated">): UserDoc {
  return {
    userId: p.userId,
    username: p.username,
    displayName: p.displayName ?? "",
    createdAt: p.createdAt ?? event.occurred_at,
  };
}

/** `language` maps the post's optional language code (a key content does not declare yet: read as it comes). */
function postDoc(event: Envelope, p: Payload<"PostCreated">, language: PostLanguage): PostDoc {
  const code = event.payload.language;
  return {
    postId: p.postId,
    authorId: p.authorId,
    text: p.text,
    hashtags: tags(event, p.hashtags),
    createdAt: p.createdAt ?? event.occurred_at,
    language: language(typeof code === "string" ? code : undefined),
  };
}

/** Search's own bound on what it indexes: at most 100 hashtags of 1 to 64 characters (none when missing). */
function tags(event: Envelope, hashtags: string[] = []): string[] {
  if (hashtags.length > 100 || !hashtags.every((t) => t.length > 0 && t.length <= 64))
    throw new PayloadError(`${event.type} ${event.id}: payload.hashtags must be a list of hashtags`);
  return hashtags;
}
