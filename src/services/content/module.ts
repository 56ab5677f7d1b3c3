import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ContentService, type PostCounts, PostCountsSchema } from "../../gen/nova/content/v1/content_pb.ts";
import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import { closedTo } from "../../platform/privacy.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import type { ContentPeers } from "./context.ts";
import { purgeDeleted } from "./purge.ts";
import { type ContentTables, type ContentTrx, eraseAuthor, loadCounts, loadPosts, type PostRow } from "./queries.ts";
import { createContentService } from "./service.ts";

/**
 * The graph's "these two users block each other (either way)" answer, cached under the graph's
 * entity `graph:blocked` with the pair's ids sorted and joined by ":" (the graph invalidates that
 * key on every replica through the cache bus when the pair's relationship changes: graph/module.ts).
 */
const pairKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const graph = ctx.client(GraphService);
  const identity = ctx.client(IdentityService);
  const media = ctx.client(MediaService);
  const blocks = ctx.cache().entity<{ blocked: boolean }>("graph", "blocked", 1);
  /** Of `ids`, those across a block from the caller, asked of the graph's primary. */
  const ask = async (ids: string[]): Promise<Set<string>> => {
    // GetRelationships answers for the caller, who is the viewer of this call.
    const res = await graph.getRelationships({ userIds: ids, fresh: true });
    return new Set(res.relationships.filter((r) => r.blockedBy || r.blocking).map((r) => r.userId));
  };
  const peers: ContentPeers = {
    async blockedBetween(viewerId, authorIds, fresh) {
      // A check that gates a write never trusts a cache: a block stops the very next like or comment.
      if (fresh) return authorIds.length ? ask(authorIds) : new Set();
      const byKey = new Map(authorIds.map((a) => [pairKey(viewerId, a), a]));
      const found = await blocks.getMany([...byKey.keys()], async (missing) => {
        const blocked = await ask(missing.map((k) => byKey.get(k) as string));
        return new Map(missing.map((k) => [k, { blocked: blocked.has(byKey.get(k) as string) }]));
      });
      const out = new Set<string>();
      for (const [k, v] of found) if (v.blocked) out.add(byKey.get(k) as string);
      return out;
    },
    async closedAuthors(viewerId, authorIds, fresh) {
      if (authorIds.length === 0) return new Set();
      // BatchGetUsers is served from identity's profile cache, dropped when a profile changes.
      const privates = (await identity.batchGetUsers({ ids: authorIds })).users.filter(
        (u) => u.isPrivate && u.id !== viewerId,
      );
      if (privates.length === 0 || !viewerId) return new Set(privates.map((u) => u.id));
      // GetRelationships answers for the caller, who is the viewer of this call.
      const res = await graph.getRelationships({ userIds: privates.map((u) => u.id), fresh: fresh === true });
      const follows = new Set(res.relationships.filter((r) => r.following).map((r) => r.userId));
      return new Set(privates.filter((u) => closedTo(viewerId, u, follows.has(u.id))).map((u) => u.id));
    },
    async mediaOf(ids) {
      // As the caller (the author): their own media in any state, others' only when READY.
      const res = await media.getMedia({ mediaIds: ids });
      return new Map(res.media.map((m) => [m.id, { ownerId: m.ownerId, state: m.state }]));
    },
    async attachMedia(ids) {
      await media.attachMedia({ mediaIds: ids });
    },
    async resolveUsernames(usernames) {
      if (usernames.length === 0) return new Map();
      const res = await identity.resolveUsernames({ usernames });
      return new Map(res.users.map((u) => [u.username, u.id]));
    },
  };
  const db = ctx.db().kysely<ContentTables>();
  const outbox = ctx.outbox();
  // Posts are read through the two-tier cache; loads go to the primary, so a read right after an
  // invalidating write never caches what a lagging replica still has.
  const posts = ctx.cache().entity<PostRow>("content", "post", 1);
  // Counters too: every write that moves one calls `changed` after it commits.
  const counts = ctx.cache().entity<PostCounts>("content", "counts", 1, {
    encode: (c) => toJson(PostCountsSchema, c),
    decode: (j) => fromJson(PostCountsSchema, j as JsonValue),
  });
  const impl = createContentService(
    {
      db,
      outbox,
      peers,
      changed: async (ids) => {
        await Promise.all([posts.invalidate(ids), counts.invalidate(ids)]);
      },
    },
    {
      posts: (ids) => posts.getMany(ids, (missing) => loadPosts(db.writer, missing)),
      counts: (ids) => counts.getMany(ids, (missing) => loadCounts(db.writer, missing)),
    },
  );
  const purgeAfterMs = ctx.config.CONTENT_PURGE_AFTER_DAYS * 86_400_000;
  const purge = async () => {
    try {
      const n = await purgeDeleted(db.writer, outbox, purgeAfterMs);
      if (n) ctx.log.info({ purged: n }, "purged deleted posts");
    } catch (err) {
      ctx.log.warn({ err }, "purge failed; will retry");
    }
  };
  const timer = setInterval(purge, 3_600_000);
  timer.unref();
  // An erased account's posts, comments, likes and bookmarks go; the counts they moved move back.
  const erasure = erasureConsumer("content.erasure", "content", async (userId, trx) => {
    const ids = await eraseAuthor(trx as unknown as ContentTrx, userId);
    await Promise.all([posts.invalidate(ids), counts.invalidate(ids)]);
  });
  return {
    services: [{ service: ContentService, impl }],
    consumers: [erasure],
    async stop() {
      clearInterval(timer);
    },
  };
}
