/**
 * The search service (nova.search.v1): a read-only projection (schema
 * `search`) fed by the identity, graph and content events, queried with
 * PostgreSQL full-text search and pg_trgm similarity. Answers are skeletons:
 * ids and cursors, hydrated by the caller (ARCHITECTURE §6).
 *
 * - Users: exact username / display name first, then prefixes (of the name
 *   or of one of its words), then similar names (trigram word similarity, so a
 *   typo still finds the user); ties by shorter username.
 * - Posts: the newest SEARCH_POST_CANDIDATES matches (stemmed in the query's
 *   language or by exact word) are ranked by ts_rank times a time decay
 *   computed at the moment of the first page (carried in the cursor), so pages
 *   keep one order while posts arrive; equal relevance: newer first.
 * - Blocks (either way) hide users and posts at read time, from the blocks
 *   projection (Blocked/Unblocked), without a call per search; deleted posts
 *   leave the projection with PostDeleted/PostPurged.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { z } from "zod";
import {
  HashtagSchema,
  type SearchService,
  type Suggestion,
  Suggestion_Kind,
  SuggestionSchema,
  TrendingHashtagSchema,
} from "../../gen/nova/search/v1/search_pb.ts";
import { PLAN_EACH_CALL } from "../../platform/db/pool.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { type Envelope, topicOf } from "../../platform/events/envelope.ts";
import { histogram } from "../../platform/observability/metrics.ts";
import { pageOf, pageSize } from "../../platform/paging.ts";
import { optionalUser } from "../../platform/rpc/context.ts";
import { applyEvents, postgresIndex, type SearchIndex } from "./projection.ts";
import {
  decodeCursor,
  encodeCursor,
  fingerprint,
  finite,
  isoTime,
  LANGUAGES,
  PAGES,
  prefixPattern,
  uuid,
  validateLanguage,
  validateQuery,
  validateTag,
} from "./validation.ts";

export interface SearchOptions {
  /** ISO 639-1 code of the default language (posts without one, queries without one). */
  language: string;
  /** Minimum trigram (word) similarity of a fuzzy user or hashtag match, 0 to 1. */
  fuzzyThreshold: number;
  /** How many of the newest matching posts are ranked. */
  postCandidates: number;
  /**
   * How many of the newest posts a post search reads in time order (btree) looking for its candidates
   * before it takes every match from the full-text index instead (words in fewer than 1 post in
   * postRecentScan / postCandidates get there); 0: 16 times postCandidates.
   */
  postRecentScan: number;
  /** Half-life of a hashtag use in the trending score. */
  trendingHalfLifeHours: number;
}

export const SEARCH_DEFAULTS: SearchOptions = {
  language: "en",
  fuzzyThreshold: 0.3,
  postCandidates: 500,
  postRecentScan: 0,
  trendingHalfLifeHours: 6,
};

export const SEARCH_TOPICS = [
  topicOf("identity", "user"),
  topicOf("graph", "relationship"),
  topicOf("content", "post"),
];

const searchSeconds = histogram("nova_search_query_seconds", "Search query time in the database, by kind", ["kind"]);

/** Runs a query and observes its time. */
async function timed<T>(kind: string, fn: () => Promise<T>): Promise<T> {
  const end = searchSeconds.startTimer({ kind });
  try {
    return await fn();
  } finally {
    end();
  }
}

/** In SQL, the LIKE pattern of the strings that start with `text` (prefixPattern's escapes; ESCAPE '\\'). */
export function likePrefix(text: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`(replace(replace(replace(${text}, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')`;
}

/** Ids the viewer must not see: users they block and users who block them. */
function hiddenFor(viewer: string | undefined) {
  return viewer
    ? sql`(SELECT blocked_id FROM search.blocks WHERE blocker_id = ${viewer}::uuid
           UNION ALL SELECT blocker_id FROM search.blocks WHERE blocked_id = ${viewer}::uuid)`
    : sql`(SELECT NULL::uuid WHERE false)`;
}

export function createSearch(deps: {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  options?: Partial<SearchOptions>;
}) {
  const { reader } = deps.db;
  const opt = { ...SEARCH_DEFAULTS, ...deps.options };
  const defaultConfig = LANGUAGES[opt.language] ?? "english";

  /** A post's configuration: its `language` code when the event carries a known one, else the default. */
  const postLanguage = (p: Record<string, unknown>) =>
    typeof p.language === "string" && LANGUAGES[p.language.toLowerCase()]
      ? (LANGUAGES[p.language.toLowerCase()] as string)
      : defaultConfig;

  const service: ServiceImpl<typeof SearchService> = {
    async searchUsers(req) {
      const q = validateQuery("query", req.query);
      const limit = pageSize(req.limit, PAGES.results);
      const viewer = optionalUser()?.userId;
      const fp = fingerprint("users", q);
      const after = decodeCursor(
        req.cursor,
        fp,
        z.tuple([z.number().int().min(0).max(2), finite, z.string().max(64), uuid]),
      );
      // The fold (lower case, no accents) is computed in SQL, like the stored columns, and so is its LIKE
      // pattern (prefixPattern's escapes): one round trip; each (unnamed, custom) plan folds both to constants,
      // which the btree prefix conditions need.
      const f = sql`search.fold(${q}::text)`;
      const prefix = likePrefix(f);
      const wordPrefix = sql`('% ' || ${prefix})`;
      const r = await timed("users", () =>
        sql<{ id: string; tier: number; sim: number; username: string }>`${sql.raw(PLAN_EACH_CALL)}
          -- Candidates first (indexes: prefix by btree, similar by GiST nearest neighbours), then scores for
          -- those only: MATERIALIZED keeps the planner from scoring every user. The prefix matches are taken in
          -- the order of their text_pattern_ops index (USING ~<~: byte order), so a short prefix that matches
          -- everyone reads 200 index entries instead of sorting every user; the candidates carry the columns
          -- the scores need, so no join back to the table.
          WITH cand AS MATERIALIZED (
            (SELECT user_id, username, name_fold, doc FROM search.users WHERE username LIKE ${prefix} ESCAPE '\\'
              ORDER BY username USING ~<~ LIMIT 200)
            UNION
            (SELECT user_id, username, name_fold, doc FROM search.users WHERE name_fold LIKE ${prefix} ESCAPE '\\'
              ORDER BY name_fold USING ~<~ LIMIT 200)
            UNION
            (SELECT user_id, username, name_fold, doc FROM search.users ORDER BY ${f} <<-> doc LIMIT 50)
          ), scored AS MATERIALIZED (
            SELECT u.user_id, u.username,
              CASE WHEN u.username = ${f} OR u.name_fold = ${f} THEN 0
                   WHEN u.username LIKE ${prefix} ESCAPE '\\' OR u.name_fold LIKE ${prefix} ESCAPE '\\'
                     OR u.name_fold LIKE ${wordPrefix} ESCAPE '\\' THEN 1
                   ELSE 2 END AS tier,
              greatest(similarity(${f}, u.username), word_similarity(${f}, u.doc))::float8 AS sim
            FROM cand u
          )
          SELECT user_id::text AS id, tier, sim, username FROM scored
          WHERE (tier < 2 OR sim >= ${opt.fuzzyThreshold}) AND user_id NOT IN ${hiddenFor(viewer)}
            ${after ? sql`AND (tier, -sim, username, user_id) > (${after[0]}, ${-after[1]}::float8, ${after[2]}, ${after[3]}::uuid)` : sql``}
          ORDER BY tier, sim DESC, username, user_id LIMIT ${limit + 1}`.execute(reader),
      );
      const page = pageOf(r.rows, limit, (x) => encodeCursor(fp, [x.tier, x.sim, x.username, x.id]));
      return { userIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
    },

    async searchPosts(req) {
      const q = validateQuery("query", req.query);
      const limit = pageSize(req.limit, PAGES.results);
      const config = validateLanguage("language", req.language, defaultConfig);
      const viewer = optionalUser()?.userId;
      const fp = fingerprint("posts", q, config);
      // Position: [asOf, score, createdAt, postId]; asOf fixes the time decay and the set for every page.
      const after = decodeCursor(req.cursor, fp, z.tuple([isoTime, finite, isoTime, uuid]));
      const asOf = after?.[0] ?? new Date().toISOString();
      // The query is written inline (not in a CTE): statements go unnamed, planned with their parameters, so
      // the planner folds it to a constant (evaluated once, never per row) and estimates its selectivity.
      const tsq = sql`(websearch_to_tsquery(${config}::regconfig, search.fold(${q}))
        || websearch_to_tsquery('simple'::regconfig, search.fold(${q})))`;
      const n = opt.postCandidates;
      const k = opt.postRecentScan || 16 * n;
      const r = await timed("posts", () =>
        sql<{ id: string; score: number; created_at: string }>`${sql.raw(PLAN_EACH_CALL)}
          -- The candidates are the newest n matches (visible to the viewer, not newer than asOf), found in one of
          -- two ways; the second runs only when the first did not settle it (a one-time filter on its count):
          -- 1. recent: the matches among the k newest posts, by a btree-ordered scan (posts_recent) that stops at
          --    the n-th; a frequent word (a stop word of 'simple') settles it after about n / frequency rows.
          -- 2. older: fewer than n of them: every match (the GIN index for a rare word), the newest n kept.
          -- The planner may pick any plan for 2: without an ORDER BY ... LIMIT it has no reason to walk
          -- posts_recent hoping for matches that are not there.
          WITH hidden (id) AS MATERIALIZED ${hiddenFor(viewer)},
          recent AS MATERIALIZED (
            SELECT post_id, created_at, tsv FROM (
              SELECT post_id, author_id, created_at, tsv FROM search.posts
              WHERE created_at <= ${asOf}::timestamptz
              ORDER BY created_at DESC, post_id DESC LIMIT ${k}
            ) newest
            WHERE tsv @@ ${tsq} AND author_id NOT IN (SELECT id FROM hidden)
            ORDER BY created_at DESC, post_id DESC LIMIT ${n}
          ), older AS MATERIALIZED (
            SELECT post_id, created_at, tsv FROM search.posts
            WHERE (SELECT count(*) FROM recent) < ${n}
              AND tsv @@ ${tsq} AND created_at <= ${asOf}::timestamptz AND author_id NOT IN (SELECT id FROM hidden)
          ), cand AS (
            (SELECT post_id, created_at, tsv FROM recent WHERE (SELECT count(*) FROM recent) >= ${n})
            UNION ALL
            (SELECT post_id, created_at, tsv FROM older ORDER BY created_at DESC, post_id DESC LIMIT ${n})
          ), scored AS (
            SELECT post_id, created_at,
              (ts_rank(tsv, ${tsq}, 32)
                / (1 + extract(epoch FROM ${asOf}::timestamptz - created_at)::float8 / 604800))::float8 AS score
            FROM cand
          )
          SELECT post_id::text AS id, score, to_json(created_at) #>> '{}' AS created_at FROM scored
          ${after ? sql`WHERE (score, created_at, post_id) < (${after[1]}::float8, ${after[2]}::timestamptz, ${after[3]}::uuid)` : sql``}
          ORDER BY score DESC, created_at DESC, post_id DESC LIMIT ${limit + 1}`.execute(reader),
      );
      const page = pageOf(r.rows, limit, (x) => encodeCursor(fp, [asOf, x.score, x.created_at, x.id]));
      return { postIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
    },

    async searchHashtags(req) {
      const q = validateQuery("query", req.query).replace(/^#/, "");
      const limit = pageSize(req.limit, PAGES.results);
      const fp = fingerprint("hashtags", q);
      const after = decodeCursor(
        req.cursor,
        fp,
        z.tuple([z.number().int().min(0).max(2), z.number().int().min(0), z.string().max(64)]),
      );
      const r = await timed("hashtags", async () => {
        const f =
          q === "" ? "" : ((await sql<{ f: string }>`SELECT search.fold(${q}) AS f`.execute(reader)).rows[0]?.f ?? "");
        const prefix = prefixPattern(f);
        return sql<{ tag: string; tier: number; post_count: number }>`${sql.raw(PLAN_EACH_CALL)}
          WITH cand AS MATERIALIZED (
            (SELECT tag FROM search.hashtags WHERE tag LIKE ${prefix} ESCAPE '\\' ORDER BY post_count DESC, tag LIMIT 200)
            UNION
            (SELECT tag FROM search.hashtags ORDER BY tag <-> ${f} LIMIT 50)
          ), scored AS MATERIALIZED (
            SELECT h.tag, h.post_count,
              CASE WHEN h.tag = ${f} THEN 0 WHEN h.tag LIKE ${prefix} ESCAPE '\\' THEN 1 ELSE 2 END AS tier,
              similarity(h.tag, ${f})::float8 AS sim
            FROM cand JOIN search.hashtags h USING (tag)
          )
          SELECT tag, tier, post_count FROM scored
          WHERE (tier < 2 OR sim >= ${opt.fuzzyThreshold})
            ${after ? sql`AND (tier, -post_count, tag) > (${after[0]}, ${-after[1]}, ${after[2]})` : sql``}
          ORDER BY tier, post_count DESC, tag LIMIT ${limit + 1}`.execute(reader);
      });
      const page = pageOf(r.rows, limit, (x) => encodeCursor(fp, [x.tier, x.post_count, x.tag]));
      return {
        hashtags: page.rows.map((x) => create(HashtagSchema, { tag: x.tag, postCount: x.post_count })),
        cursors: page.cursors,
        nextCursor: page.nextCursor,
      };
    },

    async postsByHashtag(req) {
      const tag = validateTag("tag", req.tag);
      const limit = pageSize(req.limit, PAGES.results);
      const viewer = optionalUser()?.userId;
      const fp = fingerprint("tag", tag);
      // Newest first by post id (UUIDv7: time order), so pages hold still while posts arrive.
      const after = decodeCursor(req.cursor, fp, z.tuple([uuid]));
      const r = await timed("posts_by_hashtag", () =>
        sql<{ id: string }>`SELECT post_id::text AS id FROM search.post_hashtags
          WHERE tag = ${tag} AND author_id NOT IN ${hiddenFor(viewer)}
            ${after ? sql`AND post_id < ${after[0]}::uuid` : sql``}
          ORDER BY post_id DESC LIMIT ${limit + 1}`.execute(reader),
      );
      const page = pageOf(r.rows, limit, (x) => encodeCursor(fp, [x.id]));
      return { postIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
    },

    async suggestions(req) {
      const typed = validateQuery("prefix", req.prefix);
      const limit = pageSize(req.limit, PAGES.suggestions);
      const viewer = optionalUser()?.userId;
      const kind = typed.startsWith("#") ? "tags" : typed.startsWith("@") ? "users" : "both";
      const rest = kind === "both" ? typed : typed.slice(1);
      const r = await timed("suggestions", async () => {
        const f = (await sql<{ f: string }>`SELECT search.fold(${rest}) AS f`.execute(reader)).rows[0]?.f ?? "";
        const prefix = prefixPattern(f);
        const users =
          kind === "tags"
            ? { rows: [] as { id: string; username: string }[] }
            : await sql<{ id: string; username: string }>`
                SELECT user_id::text AS id, username FROM (
                  (SELECT user_id, username FROM search.users WHERE username LIKE ${prefix} ESCAPE '\\'
                    ORDER BY length(username), username LIMIT ${limit * 2})
                  UNION
                  (SELECT user_id, username FROM search.users WHERE name_fold LIKE ${prefix} ESCAPE '\\'
                    ORDER BY length(name_fold), name_fold LIMIT ${limit * 2})
                ) c WHERE user_id NOT IN ${hiddenFor(viewer)}
                ORDER BY username = ${f} DESC, username LIKE ${prefix} ESCAPE '\\' DESC, length(username), username
                LIMIT ${limit}`.execute(reader);
        const tags =
          kind === "users"
            ? { rows: [] as { tag: string }[] }
            : await sql<{ tag: string }>`SELECT tag FROM search.hashtags WHERE tag LIKE ${prefix} ESCAPE '\\'
                ORDER BY post_count DESC, tag LIMIT ${limit}`.execute(reader);
        return { users: users.rows, tags: tags.rows };
      });
      // Both kinds: alternate, so neither crowds the other out.
      const u = r.users.map((x) =>
        create(SuggestionSchema, { kind: Suggestion_Kind.USER, id: x.id, text: `@${x.username}` }),
      );
      const t = r.tags.map((x) =>
        create(SuggestionSchema, { kind: Suggestion_Kind.HASHTAG, id: x.tag, text: `#${x.tag}` }),
      );
      const out: Suggestion[] = [];
      for (let i = 0; out.length < limit && (i < u.length || i < t.length); i++) {
        const [ui, ti] = [u[i], t[i]];
        if (ui) out.push(ui);
        if (ti && out.length < limit) out.push(ti);
      }
      return { suggestions: out };
    },

    async trendingHashtags(req) {
      const limit = pageSize(req.limit, PAGES.trending);
      const r = await timed("trending", () =>
        sql<{ tag: string; score: number; posts: number }>`
          SELECT tag, sum(w)::float8 AS score, sum(n)::int AS posts FROM (
            SELECT tag, author_id, count(*) AS n,
              max(power(0.5, extract(epoch FROM now() - created_at)::float8 / ${opt.trendingHalfLifeHours * 3600})) AS w
            FROM search.post_hashtags
            WHERE created_at > now() - interval '24 hours' AND created_at <= now()
            GROUP BY tag, author_id
          ) per_author
          GROUP BY tag ORDER BY score DESC, tag LIMIT ${limit}`.execute(reader),
      );
      return {
        hashtags: r.rows.map((x) => create(TrendingHashtagSchema, { tag: x.tag, score: x.score, postCount: x.posts })),
      };
    },
  };

  return { service, postLanguage, options: opt };
}

/**
 * The consumer `search.index`: applies identity, graph and content events to
 * the projection, or, while a rebuild runs, parks them for the rebuild to
 * replay (see reindex.ts). One handler for the three topics: in the embedded
 * log they arrive in commit order.
 */
export function indexConsumer(
  postLanguage: (p: Record<string, unknown>) => string,
  index: SearchIndex = postgresIndex,
): EventHandler {
  /** Applies the events in order, or, while a rebuild runs, parks them for it (read FOR SHARE, kept till commit). */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    const r = await sql<{ job_id: string | null }>`SELECT job_id::text AS job_id FROM search.reindex_state
      FOR SHARE`.execute(trx);
    if (r.rows[0]?.job_id) {
      await sql`INSERT INTO search.reindex_buffer (envelope)
        SELECT e FROM unnest(${events.map((e) => JSON.stringify(e))}::jsonb[]) WITH ORDINALITY AS x(e, n) ORDER BY n`.execute(
        trx,
      );
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
