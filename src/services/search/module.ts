import { ContentService } from "../../gen/nova/content/v1/content_pb.ts";
import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { SearchService } from "../../gen/nova/search/v1/search_pb.ts";
import { ConfigError } from "../../runtime/config.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import { indexConsumer } from "./consumers.ts";
import { eraseDocuments, postgresIndex, type SearchIndex } from "./projection.ts";
import { createReindexer, type Sources } from "./reindex.ts";
import { createSearch } from "./service.ts";
import { LANGUAGES } from "./validation.ts";

/** Index backends by SEARCH_BACKEND (projection.ts, `SearchIndex`): PostgreSQL full text + pg_trgm today. */
const BACKENDS: Record<string, SearchIndex> = { postgres: postgresIndex };

/** A scan page (up to 1,000 rows) may take a while on a busy source. */
const SCAN_TIMEOUT_MS = 60_000;
const SCAN_PAGE = 500;

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const db = ctx.db().kysely<unknown>();
  const c = ctx.config;
  if (!LANGUAGES[c.SEARCH_LANGUAGE]) {
    throw new ConfigError([
      `SEARCH_LANGUAGE: no stemmer for "${c.SEARCH_LANGUAGE}" (one of ${Object.keys(LANGUAGES).join(", ")})`,
    ]);
  }
  const index = BACKENDS[c.SEARCH_BACKEND];
  if (!index) throw new ConfigError([`SEARCH_BACKEND: unknown backend "${c.SEARCH_BACKEND}"`]);
  const search = createSearch({
    db,
    options: {
      language: c.SEARCH_LANGUAGE,
      fuzzyThreshold: c.SEARCH_FUZZY_THRESHOLD,
      postCandidates: c.SEARCH_POST_CANDIDATES,
      trendingHalfLifeHours: c.SEARCH_TRENDING_HALF_LIFE_HOURS,
    },
  });
  // `nova search reindex` reads the sources through their RPCs, as the search module (admin-only scans).
  const identity = ctx.client(IdentityService);
  const content = ctx.client(ContentService);
  const graph = ctx.client(GraphService);
  const opts = { timeoutMs: SCAN_TIMEOUT_MS };
  const sources: Sources = {
    async users(cursor) {
      const r = await identity.scanUsers({ cursor, limit: SCAN_PAGE }, opts);
      return {
        items: r.users.map((u) => ({
          userId: u.id,
          username: u.username,
          displayName: u.displayName,
          createdAt: u.createdAt,
        })),
        next: r.nextCursor,
        total: cursor === "" ? Number(r.total) : undefined,
      };
    },
    async posts(cursor) {
      const r = await content.scanPosts({ cursor, limit: SCAN_PAGE }, opts);
      return {
        items: r.posts.map((p) => ({
          postId: p.id,
          authorId: p.authorId,
          text: p.text,
          hashtags: p.hashtags,
          createdAt: p.createdAt,
          language: search.postLanguage(undefined),
        })),
        next: r.nextCursor,
        total: cursor === "" ? Number(r.total) : undefined,
      };
    },
    async blocks(cursor) {
      const r = await graph.scanBlocks({ cursor, limit: SCAN_PAGE }, opts);
      return {
        items: r.blocks.map((b) => ({ blockerId: b.blockerId, blockedId: b.blockedId })),
        next: r.nextCursor,
        total: cursor === "" ? Number(r.total) : undefined,
      };
    },
  };
  const reindexer = createReindexer({
    db: db.writer,
    sources,
    postLanguage: search.postLanguage,
    log: ctx.log,
    index,
  });
  return {
    services: [{ service: SearchService, impl: search.service }],
    consumers: [
      indexConsumer(search.postLanguage, index),
      // An erased account's documents go (identity's AccountErased).
      erasureConsumer("search.erasure", "search", (userId, trx) => eraseDocuments(trx, userId)),
    ],
    async stop() {
      await reindexer.stop();
    },
  };
}
