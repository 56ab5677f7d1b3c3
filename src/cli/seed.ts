/**
 * `nova seed --users N --follows-per-user M --posts P [--seed S]`: a
 * realistic, reproducible dataset written the way the services write it —
 * rows in each service's schema and their events in the same transaction
 * (outbox), so the projections (identity's counts, the feed) are built by
 * the running consumers. The same seed gives the same users, graph and posts.
 *
 * - Follows are power-law: followees are drawn by Zipf rank (s = 1.1), so a
 *   few accounts are celebrities with very many followers.
 * - Posts are spread over the last 30 days (their UUIDv7 ids carry that
 *   time), authors drawn with a milder Zipf; texts carry hashtags.
 * - Every post gets Zipf-distributed likes and some comments.
 */

import type { Kysely, Transaction } from "kysely";
import { sql } from "kysely";
import { createOutbox, type NewEvent } from "../platform/events/outbox.ts";
import { hashPassword } from "../platform/security/password.ts";

export interface SeedOptions {
  users: number;
  followsPerUser: number;
  posts: number;
  seed: number;
  /** Progress lines (the CLI draws a bar on stderr). */
  progress?: (phase: string, done: number, total: number) => void;
}

export interface SeedResult {
  users: number;
  follows: number;
  posts: number;
  likes: number;
  comments: number;
  seconds: number;
  /** ids of the seeded users, most-followed first. */
  celebrities: string[];
  usernames: string[];
  userIds: string[];
  password: string;
}

/** mulberry32: small, fast, reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws ranks 0..n-1 with P(r) ∝ 1/(r+1)^s, by inverse CDF over a precomputed table. */
function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** A UUIDv7 for a given time, its random bits from `random` (reproducible). */
function uuidv7At(ms: number, random: () => number): string {
  const hex = (n: number, len: number) => Math.floor(n).toString(16).padStart(len, "0");
  const t = hex(ms, 12);
  const r = () => hex(random() * 0x10000, 4);
  const variant = hex(0x8000 | (random() * 0x3fff), 4);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r().slice(1)}-${variant}-${r()}${r()}${r()}`;
}

const TAGS = ["nova", "music", "dev", "cats", "news", "sports", "art", "food", "travel", "books", "photo", "games"];
const WORDS =
  "the a of and to in is it you that he was for on are with as his they be at one have this from or had by".split(" ");

export async function seed(db: Kysely<unknown>, opts: SeedOptions): Promise<SeedResult> {
  const t0 = Date.now();
  const random = rng(opts.seed);
  const password = "seeded password 1";
  const hash = await hashPassword(password);
  // Usernames depend on the seed only, so a dataset is reproducible (and seeding twice with one seed is refused).
  const run = `seed${opts.seed}`;
  await refuseTakenSeed(db, opts.seed, run);
  const ctx: SeedRun = { db, opts, random, now: Date.now(), progress: opts.progress ?? (() => {}) };
  // The phases draw from one random stream in this order; reordering them changes the dataset of a seed.
  const { userIds, usernames } = await seedUsers(ctx, run, hash);
  const { follows, followerCount } = await seedFollows(ctx, userIds);
  const { likes, comments } = await seedPosts(ctx, userIds);
  const celebrities = [...followerCount.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([r]) => userIds[r] as string);
  return {
    users: opts.users,
    follows,
    posts: opts.posts,
    likes,
    comments,
    seconds: (Date.now() - t0) / 1000,
    celebrities,
    usernames,
    userIds,
    password,
  };
}

/** What every phase of one seeding shares. */
interface SeedRun {
  db: Kysely<unknown>;
  opts: SeedOptions;
  random: () => number;
  /** One clock reading for the whole dataset: users 40 days back, posts over the last 30. */
  now: number;
  progress: (phase: string, done: number, total: number) => void;
}

const DAY_MS = 86_400_000;

async function refuseTakenSeed(db: Kysely<unknown>, seedNumber: number, run: string): Promise<void> {
  const taken = await sql`SELECT 1 FROM identity.users WHERE username = ${`${run}_0`}`.execute(db);
  if (taken.rows.length)
    throw new SeedTakenError(
      `seed ${seedNumber} already applied: usernames ${run}_0… exist (this database already holds the dataset of --seed ${seedNumber}); use another --seed`,
    );
}

const outbox = (service: string) => createOutbox({ service, schema: service });
const inTransaction = <T>(db: Kysely<unknown>, fn: (trx: Transaction<unknown>) => Promise<T>) =>
  db.transaction().execute(fn);

// ---- users ----

async function seedUsers(ctx: SeedRun, run: string, hash: string): Promise<{ userIds: string[]; usernames: string[] }> {
  const { opts } = ctx;
  const userIds: string[] = [];
  const usernames: string[] = [];
  for (let i = 0; i < opts.users; i++) {
    userIds.push(uuidv7At(ctx.now - 40 * DAY_MS + i, ctx.random));
    usernames.push(`${run}_${i}`.slice(0, 30));
  }
  for (let i = 0; i < opts.users; i += 1_000) {
    const ids = userIds.slice(i, i + 1_000);
    const names = usernames.slice(i, i + 1_000);
    await inTransaction(ctx.db, (trx) => writeUsers(trx, ids, names, hash));
    ctx.progress("users", Math.min(opts.users, i + 1_000), opts.users);
  }
  return { userIds, usernames };
}

async function writeUsers(trx: Transaction<unknown>, ids: string[], names: string[], hash: string): Promise<void> {
  const inserted = await sql<{
    id: string;
    display_name: string;
  }>`INSERT INTO identity.users (id, email, username, password_hash, display_name)
    SELECT id, n || '@seed.example', n, ${hash}, initcap(replace(n, '_', ' '))
      FROM unnest(${ids}::uuid[], ${names}::text[]) AS x(id, n) RETURNING id::text AS id, display_name`.execute(trx);
  // The events carry the profile as written (consumers such as search index the display name).
  const displayName = new Map(inserted.rows.map((r) => [r.id, r.display_name]));
  await outbox("identity").emit(
    trx,
    ...ids.map(
      (id, j): NewEvent => ({
        type: "UserRegistered",
        aggregateType: "user",
        aggregateId: id,
        actorId: id,
        payload: {
          userId: id,
          username: names[j],
          displayName: displayName.get(id) ?? "",
          bio: "",
          avatarUrl: "",
          createdAt: new Date().toISOString(),
        },
      }),
    ),
  );
}

// ---- follows ----

/** Each user follows M distinct others, followees by Zipf rank (rank 0 = the biggest celebrity). */
async function seedFollows(
  ctx: SeedRun,
  userIds: string[],
): Promise<{ follows: number; followerCount: Map<number, number> }> {
  const { opts } = ctx;
  const pickFollowee = zipf(opts.users, 1.1, ctx.random);
  let follows = 0;
  const followerCount = new Map<number, number>();
  const batch: [number, number][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch.splice(0);
    await inTransaction(ctx.db, (trx) => writeFollows(trx, rows, userIds));
  };
  for (let u = 0; u < opts.users; u++) {
    for (const r of drawFollowees(u, opts, pickFollowee)) {
      batch.push([u, r]);
      followerCount.set(r, (followerCount.get(r) ?? 0) + 1);
      follows++;
    }
    if (batch.length >= 2_000) await flush();
    if (u % 500 === 0 || u === opts.users - 1) ctx.progress("follows", u + 1, opts.users);
  }
  await flush();
  await writeFollowCounts(ctx.db, userIds);
  return { follows, followerCount };
}

/** Up to M distinct followee ranks for user `u`, never `u` itself. */
function drawFollowees(u: number, opts: SeedOptions, pickFollowee: () => number): Set<number> {
  const chosen = new Set<number>();
  const want = Math.min(opts.followsPerUser, opts.users - 1);
  for (let tries = 0; chosen.size < want && tries < want * 20; tries++) {
    const r = pickFollowee();
    if (r !== u) chosen.add(r);
  }
  return chosen;
}

async function writeFollows(trx: Transaction<unknown>, rows: [number, number][], userIds: string[]): Promise<void> {
  const f = rows.map(([a]) => userIds[a] as string);
  const t = rows.map(([, b]) => userIds[b] as string);
  await sql`INSERT INTO graph.follows (follower_id, followee_id)
    SELECT * FROM unnest(${f}::uuid[], ${t}::uuid[]) ON CONFLICT DO NOTHING`.execute(trx);
  await outbox("graph").emit(
    trx,
    ...rows.map(
      ([a, b]): NewEvent => ({
        type: "Followed",
        aggregateType: "relationship",
        aggregateId: userIds[a] as string,
        actorId: userIds[a] as string,
        payload: { userId: userIds[a], targetId: userIds[b] },
      }),
    ),
  );
}

async function writeFollowCounts(db: Kysely<unknown>, userIds: string[]): Promise<void> {
  await sql`INSERT INTO graph.counts (user_id, follower_count, following_count)
    SELECT u, (SELECT count(*) FROM graph.follows WHERE followee_id = u), (SELECT count(*) FROM graph.follows WHERE follower_id = u)
      FROM unnest(${userIds}::uuid[]) AS x(u)
    ON CONFLICT (user_id) DO UPDATE SET follower_count = EXCLUDED.follower_count, following_count = EXCLUDED.following_count`.execute(
    db,
  );
}

// ---- posts, likes, comments ----

interface SeededPost {
  id: string;
  author: string;
  at: string;
  text: string;
  tag: string;
}
/** [postId, userId] */
type LikeRow = [string, string];
/** [commentId, postId, authorId] */
type CommentRow = [string, string, string];

/** Posts over the last 30 days, in time order, 500 a transaction; likes and comments with them. */
async function seedPosts(ctx: SeedRun, userIds: string[]): Promise<{ likes: number; comments: number }> {
  const { opts, random } = ctx;
  const pickAuthor = zipf(opts.users, 0.8, random);
  const pickLiker = () => Math.floor(random() * opts.users);
  let likes = 0;
  let comments = 0;
  const start = ctx.now - 30 * DAY_MS;
  for (let i = 0; i < opts.posts; i += 500) {
    const n = Math.min(500, opts.posts - i);
    const posts = Array.from({ length: n }, (_, j) => {
      const at = start + Math.floor(((i + j) / opts.posts) * 30 * DAY_MS);
      return drawPost(at, userIds[pickAuthor()] as string, random);
    });
    const { likeRows, commentRows } = drawReactions(posts, () => userIds[pickLiker()] as string, random);
    await inTransaction(ctx.db, async (trx) => {
      await writePosts(trx, posts, likeRows, commentRows);
      const events = postEvents(posts, likeRows, commentRows);
      for (let e = 0; e < events.length; e += 1_000) await outbox("content").emit(trx, ...events.slice(e, e + 1_000));
    });
    likes += likeRows.length;
    comments += commentRows.length;
    ctx.progress("posts", i + n, opts.posts);
  }
  return { likes, comments };
}

function drawPost(at: number, author: string, random: () => number): SeededPost {
  const tag = TAGS[Math.floor(random() * TAGS.length)] as string;
  const words = Array.from({ length: 8 + Math.floor(random() * 20) }, () => WORDS[Math.floor(random() * WORDS.length)]);
  return {
    id: uuidv7At(at, random),
    author,
    at: new Date(at).toISOString(),
    text: `${words.join(" ")} #${tag}`,
    tag,
  };
}

/** Zipf-like likes (0..15, distinct users) and comments (0..2, a minute apart) for each post. */
function drawReactions(
  posts: SeededPost[],
  pickUser: () => string,
  random: () => number,
): { likeRows: LikeRow[]; commentRows: CommentRow[] } {
  const likeRows: LikeRow[] = [];
  const commentRows: CommentRow[] = [];
  for (const p of posts) {
    const k = Math.floor(random() ** 4 * 16);
    const seen = new Set<string>();
    for (let x = 0; x < k; x++) {
      const u = pickUser();
      if (!seen.has(u)) {
        seen.add(u);
        likeRows.push([p.id, u]);
      }
    }
    const c = Math.floor(random() ** 4 * 3);
    for (let x = 0; x < c; x++)
      commentRows.push([uuidv7At(Date.parse(p.at) + 60_000 * (x + 1), random), p.id, pickUser()]);
  }
  return { likeRows, commentRows };
}

async function writePosts(
  trx: Transaction<unknown>,
  posts: SeededPost[],
  likeRows: LikeRow[],
  commentRows: CommentRow[],
): Promise<void> {
  await sql`INSERT INTO content.posts (id, author_id, text, hashtags, created_at)
    SELECT id, a, t, ARRAY[g], c FROM unnest(${posts.map((p) => p.id)}::uuid[], ${posts.map((p) => p.author)}::uuid[],
      ${posts.map((p) => p.text)}::text[], ${posts.map((p) => p.tag)}::text[], ${posts.map((p) => p.at)}::timestamptz[]) AS x(id, a, t, g, c)`.execute(
    trx,
  );
  if (likeRows.length)
    await sql`INSERT INTO content.post_likes (post_id, user_id) SELECT * FROM unnest(${likeRows.map((l) => l[0])}::uuid[], ${likeRows.map((l) => l[1])}::uuid[])`.execute(
      trx,
    );
  if (commentRows.length)
    await sql`INSERT INTO content.comments (id, post_id, author_id, text)
      SELECT id, p, a, 'nice one' FROM unnest(${commentRows.map((c) => c[0])}::uuid[], ${commentRows.map((c) => c[1])}::uuid[], ${commentRows.map((c) => c[2])}::uuid[]) AS x(id, p, a)`.execute(
      trx,
    );
  await sql`INSERT INTO content.post_counts (post_id, like_count, comment_count)
    SELECT p.id, (SELECT count(*) FROM content.post_likes l WHERE l.post_id = p.id), (SELECT count(*) FROM content.comments c WHERE c.post_id = p.id)
      FROM unnest(${posts.map((p) => p.id)}::uuid[]) AS p(id)`.execute(trx);
}

/** The events content writes for these rows: every PostCreated, then every PostLiked, then every CommentCreated. */
function postEvents(posts: SeededPost[], likeRows: LikeRow[], commentRows: CommentRow[]): NewEvent[] {
  const events: NewEvent[] = [];
  for (const p of posts)
    events.push({
      type: "PostCreated",
      aggregateType: "post",
      aggregateId: p.id,
      actorId: p.author,
      payload: {
        postId: p.id,
        authorId: p.author,
        text: p.text,
        hashtags: [p.tag],
        mentionIds: [],
        mediaCount: 0,
        createdAt: p.at,
      },
    });
  const authorOf = new Map(posts.map((p) => [p.id, p.author]));
  for (const [postId, userId] of likeRows)
    events.push({
      type: "PostLiked",
      aggregateType: "post",
      aggregateId: postId,
      actorId: userId,
      payload: { postId, userId, authorId: authorOf.get(postId) },
    });
  for (const [commentId, postId, authorId] of commentRows)
    events.push({
      type: "CommentCreated",
      aggregateType: "post",
      aggregateId: postId,
      actorId: authorId,
      payload: {
        postId,
        commentId,
        authorId,
        postAuthorId: authorOf.get(postId),
        parentId: null,
        text: "nice one",
      },
    });
  return events;
}

/** Seeding twice with one seed: a user's mistake, reported in one line rather than a stack trace. */
export class SeedTakenError extends Error {}
