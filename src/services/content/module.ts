import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { LRUCache } from "lru-cache";
import { ContentService, type PostCounts, PostCountsSchema } from "../../gen/nova/content/v1/content_pb.ts";
import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import {
  type ContentPeers,
  createContentService,
  loadCounts,
  loadPosts,
  type PostRow,
  purgeDeleted,
} from "./service.ts";

/** How long a "these two users block each other" answer is reused. */
const BLOCK_TTL_MS = 10_000;

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const graph = ctx.client(GraphService);
  const identity = ctx.client(IdentityService);
  // viewer:author -> blocked either way. Short-lived: a new block shows within BLOCK_TTL_MS.
  const blocks = new LRUCache<string, boolean>({ max: 100_000, ttl: BLOCK_TTL_MS });
  const peers: ContentPeers = {
    async blockedBetween(viewerId, authorIds) {
      const out = new Set<string>();
      const missing: string[] = [];
      for (const a of authorIds) {
        const hit = blocks.get(`${viewerId}:${a}`);
        if (hit === undefined) missing.push(a);
        else if (hit) out.add(a);
      }
      if (missing.length) {
        // GetRelationships answers for the caller, who is the viewer of this call.
        const res = await graph.getRelationships({ userIds: missing });
        for (const r of res.relationships) {
          const blocked = r.blockedBy || r.blocking;
          blocks.set(`${viewerId}:${r.userId}`, blocked);
          if (blocked) out.add(r.userId);
        }
      }
      return out;
    },
    async resolveUsernames(usernames) {
      if (usernames.length === 0) return new Map();
      const res = await identity.resolveUsernames({ usernames });
      return new Map(res.users.map((u) => [u.username, u.id]));
    },
  };
  const db = ctx.db().kysely<unknown>();
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
  return {
    services: [{ service: ContentService, impl }],
    async stop() {
      clearInterval(timer);
    },
  };
}
