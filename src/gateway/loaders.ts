/**
 * Per-request DataLoaders over the services' batch RPCs (ARCHITECTURE §6,
 * "hydrate"): every field of a page asks its loader, and each loader makes
 * one batch call per tick (at most 100 ids a call), so the number of backend
 * calls for a page does not grow with the page size.
 */
import DataLoader from "dataloader";
import type { PostCounts, Post as PostMsg, ViewerState } from "../gen/nova/content/v1/content_pb.ts";
import type { Counts, MutedWord, Relationship } from "../gen/nova/graph/v1/graph_pb.ts";
import type { User } from "../gen/nova/identity/v1/identity_pb.ts";
import type { Media as MediaMsg } from "../gen/nova/media/v1/media_pb.ts";
import type { Conversation, Message } from "../gen/nova/messaging/v1/messaging_pb.ts";
import type { Notification } from "../gen/nova/notifications/v1/notifications_pb.ts";
import type { BackendClients } from "./backends.ts";

export interface Loaders {
  users: DataLoader<string, User | undefined>;
  userCounts: DataLoader<string, Counts | undefined>;
  /** The viewer's relationship to each user (only with a signed-in viewer). */
  relationships: DataLoader<string, Relationship | undefined>;
  posts: DataLoader<string, PostMsg | undefined>;
  postCounts: DataLoader<string, PostCounts | undefined>;
  /** Whether the viewer liked / bookmarked each post (only with a signed-in viewer). */
  viewerState: DataLoader<string, ViewerState | undefined>;
  /** The viewer's conversations and the messages they may read (only with a signed-in viewer). */
  conversations: DataLoader<string, Conversation | undefined>;
  messages: DataLoader<string, Message | undefined>;
  /** The viewer's notifications by id (GetNotifications). */
  notifications: DataLoader<string, Notification | undefined>;
  /** Uploaded media (the viewer's own in any state, others' when READY). */
  media: DataLoader<string, MediaMsg | undefined>;
  /** The viewer's muted words (keyed by the viewer: one call per request). */
  mutedWords: DataLoader<string, MutedWord[]>;
  /** Media of messages, by `messageMediaKey` (the conversation it is read through and the media id). */
  messageMedia: DataLoader<string, MediaMsg | undefined>;
}

type Call = <T>(fn: () => Promise<T>) => Promise<T>;

function loader<V>(
  fetch: (ids: string[]) => Promise<V[]>,
  keyOf: (v: V) => string,
  batch: boolean,
): DataLoader<string, V | undefined> {
  return new DataLoader<string, V | undefined>(
    async (ids) => {
      const found = new Map((await fetch([...ids])).map((v) => [keyOf(v), v]));
      return ids.map((id) => found.get(id));
    },
    // batch: false is the N+1 baseline the feed benchmark compares against (GATEWAY_DATALOADER=false).
    { maxBatchSize: 100, batch },
  );
}

/** The key of the message-media loader: the conversation the media is read through, and its id. */
export const messageMediaKey = (conversationId: string, mediaId: string) => `${conversationId}:${mediaId}`;

export function createLoaders(deps: BackendClients & { batching?: boolean }, call: Call): Loaders {
  const b = deps.batching !== false;
  return {
    users: loader(
      async (ids) => (await call(() => deps.identity.batchGetUsers({ ids }))).users,
      (u) => u.id,
      b,
    ),
    userCounts: loader(
      async (userIds) => (await call(() => deps.graph.getCounts({ userIds }))).counts,
      (c) => c.userId,
      b,
    ),
    relationships: loader(
      async (userIds) => (await call(() => deps.graph.getRelationships({ userIds }))).relationships,
      (r) => r.userId,
      b,
    ),
    posts: loader(
      async (postIds) => (await call(() => deps.content.getPosts({ postIds }))).posts,
      (p) => p.id,
      b,
    ),
    postCounts: loader(
      async (postIds) => (await call(() => deps.content.getCounts({ postIds }))).counts,
      (c) => c.postId,
      b,
    ),
    viewerState: loader(
      async (postIds) => (await call(() => deps.content.getViewerState({ postIds }))).states,
      (s) => s.postId,
      b,
    ),
    conversations: loader(
      async (conversationIds) => (await call(() => deps.messaging.getConversations({ conversationIds }))).conversations,
      (c) => c.id,
      b,
    ),
    messages: loader(
      async (messageIds) => (await call(() => deps.messaging.getMessages({ messageIds }))).messages,
      (m) => m.id,
      b,
    ),
    notifications: loader(
      async (notificationIds) =>
        (await call(() => deps.notifications.getNotifications({ notificationIds }))).notifications,
      (n) => n.id,
      b,
    ),
    media: loader(
      async (mediaIds) => (await call(() => deps.media.getMedia({ mediaIds }))).media,
      (m) => m.id,
      b,
    ),
    mutedWords: new DataLoader<string, MutedWord[]>(async (viewers) => {
      const words = (await call(() => deps.graph.listMutedWords({}))).words;
      return viewers.map(() => words);
    }),
    messageMedia: loader(
      async (keys) => {
        const pairs = keys.map((k) => k.split(":") as [string, string]);
        const req = { conversationIds: pairs.map((p) => p[0]), mediaIds: pairs.map((p) => p[1]) };
        return (await call(() => deps.media.getMedia(req))).media;
      },
      (m) => messageMediaKey(m.conversationId, m.id),
      b,
    ),
  };
}
