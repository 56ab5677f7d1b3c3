/**
 * What an archive holds, asked of each owner through its RPCs as the user themself (their claims
 * travel with each call, so every service answers exactly what the user may read): identity's
 * profile, content's posts, comments and likes, the graph's followers and following, messaging's
 * conversations and messages, and media's files of the user's own uploads.
 */
import { toJson } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { ContentService } from "../../gen/nova/content/v1/content_pb.ts";
import { CommentSchema, PostSchema } from "../../gen/nova/content/v1/content_pb.ts";
import type { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import type { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { UserSchema } from "../../gen/nova/identity/v1/identity_pb.ts";
import type { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import type { MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import { ConversationSchema } from "../../gen/nova/messaging/v1/messaging_pb.ts";

export interface ExportClients {
  identity: Client<typeof IdentityService>;
  content: Client<typeof ContentService>;
  graph: Client<typeof GraphService>;
  messaging: Client<typeof MessagingService>;
  media: Client<typeof MediaService>;
}

/** One of the user's media files: where its bytes are read from, and the archive's name for it. */
export interface MediaFile {
  mediaId: string;
  /** The blob of its largest variant (the re-encoded original; a video's stream). */
  variant: { name: string; contentType: string };
  purpose: string;
}

export interface Gathered {
  /** `<name>.json` -> its value. */
  json: Record<string, unknown>;
  media: MediaFile[];
}

const PAGE = 100;

/** Every item of a paged list (a cursor until it is empty). */
async function all<T>(page: (cursor: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const out: T[] = [];
  let cursor = "";
  do {
    const r = await page(cursor);
    out.push(...r.items);
    cursor = r.next;
  } while (cursor);
  return out;
}

/** `ids` in batches of 100 through `get`. */
async function batched<I, T>(ids: I[], get: (ids: I[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += PAGE) out.push(...(await get(ids.slice(i, i + PAGE))));
  return out;
}

/** Ids with their usernames (who the user follows and who follows them, as they saw it). */
async function withNames(c: ExportClients, ids: string[]) {
  const users = await batched(ids, async (b) => (await c.identity.batchGetUsers({ ids: b })).users);
  const names = new Map(users.map((u) => [u.id, u.username]));
  return ids.map((id) => ({ userId: id, username: names.get(id) ?? "" }));
}

async function gatherMessages(c: ExportClients) {
  const ids = await all(async (cursor) => {
    const r = await c.messaging.listConversations({ cursor, limit: PAGE });
    return { items: r.conversationIds, next: r.nextCursor };
  });
  const conversations = await batched(
    ids,
    async (b) => (await c.messaging.getConversations({ conversationIds: b })).conversations,
  );
  const out = [];
  for (const conv of conversations) {
    const messageIds = await all(async (cursor) => {
      const r = await c.messaging.listMessages({ conversationId: conv.id, cursor, limit: PAGE });
      return { items: r.messageIds, next: r.nextCursor };
    });
    const messages = await batched(
      messageIds,
      async (b) => (await c.messaging.getMessages({ messageIds: b })).messages,
    );
    out.push({
      ...(toJson(ConversationSchema, conv) as object),
      id: conv.id,
      // Oldest first; an encrypted message is kept as its ciphertext (base64), opaque to Nova.
      messages: messages
        .map((m) => ({
          id: m.id,
          senderId: m.senderId,
          createdAt: m.createdAt,
          encrypted: m.encrypted,
          ...(m.encrypted
            ? { ciphertext: Buffer.from(m.ciphertext).toString("base64"), keyId: m.keyId }
            : { text: m.text }),
          attachments: m.attachments.map((a) => ({ mediaId: a.mediaId, alt: a.alt })),
        }))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)),
    });
  }
  return out;
}

/** The user's own media among what their posts and messages carry, READY, with its largest variant. */
async function gatherMedia(c: ExportClients, userId: string, refs: { mediaId: string; conversationId: string }[]) {
  const unique = [...new Map(refs.map((r) => [r.mediaId, r])).values()];
  // Post media is asked without conversations, message media through its conversation (GetMedia takes
  // either none or one per id).
  const onPosts = unique.filter((r) => !r.conversationId).map((r) => r.mediaId);
  const inMessages = unique.filter((r) => r.conversationId);
  const media = [
    ...(await batched(onPosts, async (b) => (await c.media.getMedia({ mediaIds: b })).media)),
    ...(await batched(inMessages, async (b) => {
      const r = await c.media.getMedia({
        mediaIds: b.map((x) => x.mediaId),
        conversationIds: b.map((x) => x.conversationId),
      });
      return r.media;
    })),
  ];
  const files: MediaFile[] = [];
  for (const m of media) {
    if (m.ownerId !== userId || m.state !== "READY") continue;
    const variant = m.variants.find((v) => v.name === "video") ?? m.variants.find((v) => v.name === "original");
    if (variant)
      files.push({
        mediaId: m.id,
        variant: { name: variant.name, contentType: variant.contentType },
        purpose: m.purpose,
      });
  }
  return files;
}

/** Everything the archive holds of `userId`; to be run with the user's claims as the call's user. */
export async function gather(c: ExportClients, userId: string): Promise<Gathered> {
  const profile = (await c.identity.getUser({ id: userId })).user;
  const postIds = await all(async (cursor) => {
    const r = await c.content.listUserPosts({ userId, cursor, limit: PAGE });
    return { items: r.postIds, next: r.nextCursor };
  });
  const posts = await batched(postIds, async (b) => (await c.content.getPosts({ postIds: b })).posts);
  const comments = await all(async (cursor) => {
    const r = await c.content.listOwnComments({ cursor, limit: PAGE });
    return { items: r.comments, next: r.nextCursor };
  });
  const likes = await all(async (cursor) => {
    const r = await c.content.listOwnLikes({ cursor, limit: PAGE });
    return { items: r.likes.map((l) => ({ postId: l.postId, likedAt: l.likedAt })), next: r.nextCursor };
  });
  const following = await all(async (cursor) => {
    const r = await c.graph.listFollowing({ userId, cursor, limit: PAGE });
    return { items: r.userIds, next: r.nextCursor };
  });
  const followers = await all(async (cursor) => {
    const r = await c.graph.listFollowers({ userId, cursor, limit: PAGE });
    return { items: r.userIds, next: r.nextCursor };
  });
  const conversations = await gatherMessages(c);
  const refs = [
    ...posts.flatMap((p) => p.attachments.map((a) => ({ mediaId: a.mediaId, conversationId: "" }))),
    ...conversations.flatMap((conv) =>
      conv.messages
        .filter((m) => m.senderId === userId)
        .flatMap((m) => m.attachments.map((a) => ({ mediaId: a.mediaId, conversationId: conv.id as string }))),
    ),
  ];
  return {
    json: {
      profile: profile ? toJson(UserSchema, profile) : null,
      // Oldest first, as the user wrote them.
      posts: posts.map((p) => toJson(PostSchema, p)).reverse(),
      comments: comments.map((x) => toJson(CommentSchema, x)),
      likes,
      following: await withNames(c, following),
      followers: await withNames(c, followers),
      messages: conversations,
    },
    media: await gatherMedia(c, userId, refs),
  };
}
