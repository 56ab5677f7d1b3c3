/**
 * A consumer's `handleBatch` must leave exactly the state its `handle` leaves
 * when the same events are applied one at a time (the consumers catch up in
 * batches of hundreds; a failed batch falls back to `handle`). For random
 * event sequences over a few users and posts, each property runs both ways in
 * a transaction on the real PostgreSQL, reads what the handler owns, rolls
 * back, and compares: the follow counts (with clamping at zero), the feed's
 * follows, counters, celebrity threshold crossings and timelines (not the hot
 * rank: it depends on now(), which differs between the two transactions), and the
 * notification inbox's groups and NotificationCreated events.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { type Kysely, sql, type Transaction } from "kysely";
import pino from "pino";
import type { z } from "zod";
import { Database } from "../src/platform/db/pool.ts";
import type { EventHandler } from "../src/platform/events/consumer.ts";
import { checkPayload } from "../src/platform/events/declare.ts";
import type { Envelope } from "../src/platform/events/envelope.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { uuidv7 } from "../src/platform/validate.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { POST_EVENTS } from "../src/services/content/events.ts";
import { createFeed } from "../src/services/feed/service.ts";
import { postgresStore } from "../src/services/feed/store.ts";
import { GRAPH_EVENTS } from "../src/services/graph/events.ts";
import { followCounts } from "../src/services/identity/consumers.ts";
import { MESSAGING } from "../src/services/messaging/events.ts";
import { createInbox } from "../src/services/notifications/consumers.ts";
import { services } from "./helpers.ts";

let db: Database;
let k: Kysely<unknown>;

before(async () => {
  const s = await services();
  db = new Database({ writerUrl: s.postgres, poolMax: 2, applicationName: "batch-handlers-test" });
  k = db.kysely<unknown>().writer;
  await runMigrations(db, resolveTargets(["all"]), createLogger({ level: "warn" }));
});
after(async () => {
  await db.close();
});

class Rollback extends Error {
  constructor(readonly state: unknown) {
    super("rollback");
  }
}

/** Runs fn in a transaction that is always rolled back; returns what fn read. */
async function inRollback(fn: (trx: Transaction<unknown>) => Promise<unknown>): Promise<unknown> {
  try {
    await k.transaction().execute(async (trx) => {
      throw new Rollback(await fn(trx));
    });
  } catch (err) {
    if (err instanceof Rollback) return err.state;
    throw err;
  }
  throw new Error("unreachable");
}

/** The declarations the generated events must match (a generator that drifts from one fails here). */
const DECLARED = [POST_EVENTS, GRAPH_EVENTS, MESSAGING];

function envelope(type: string, aggregateType: string, payload: Record<string, unknown>): Envelope {
  const set = DECLARED.find((s) => s.has(type));
  if (!set) throw new Error(`no declaration of ${type}`);
  const env: Envelope = {
    id: uuidv7(),
    type,
    aggregate_type: aggregateType,
    aggregate_id: String(payload.postId ?? payload.userId ?? payload.conversationId ?? "x"),
    occurred_at: new Date().toISOString(),
    actor_id: null,
    schema_version: 1,
    traceparent: null,
    payload,
  };
  checkPayload(set.schemas[type as keyof typeof set.schemas] as z.ZodType, env);
  return env;
}

/** A complete payload of a content event `kind` on `post`, done by `actor`. */
function postPayload(kind: string, post: { id: string; author: string }, actor: string): Record<string, unknown> {
  const on = { postId: post.id, authorId: post.author };
  switch (kind) {
    case "PostLiked":
    case "PostUnliked":
      return { ...on, userId: actor };
    case "CommentCreated":
      return {
        postId: post.id,
        commentId: randomUUID(),
        authorId: actor,
        postAuthorId: post.author,
        parentId: null,
        text: "nice",
      };
    case "CommentDeleted":
      return { postId: post.id, commentId: randomUUID(), authorId: actor, deletedBy: actor };
    case "PostDeleted":
      return { ...on, deletedBy: post.author };
    default:
      throw new Error(`no payload for ${kind}`);
  }
}

/**
 * Applies `events` one at a time through `handle` and, separately, through `handleBatch` (in chunks
 * of `chunk`, as consumer batches); asserts both leave the same state.
 */
async function sameBothWays(
  make: (trx: Transaction<unknown>) => Promise<EventHandler>,
  seed: (trx: Transaction<unknown>) => Promise<void>,
  events: Envelope[],
  chunk: number,
  read: (trx: Transaction<unknown>) => Promise<unknown>,
) {
  const one = await inRollback(async (trx) => {
    await seed(trx);
    const h = await make(trx);
    for (const e of events) await h.handle(e, trx);
    return read(trx);
  });
  const batched = await inRollback(async (trx) => {
    await seed(trx);
    const h = await make(trx);
    assert.ok(h.handleBatch, `${h.name} has a handleBatch`);
    for (let i = 0; i < events.length; i += chunk) await h.handleBatch(events.slice(i, i + chunk), trx);
    return read(trx);
  });
  assert.deepEqual(batched, one);
}

const pick = <T>(xs: T[]) => fc.integer({ min: 0, max: xs.length - 1 }).map((i) => xs[i] as T);
/** Steps [kind, user a, user b, post] over `users` users and `posts` posts, and a batch size. */
const stepsOf = (kinds: string[], users: number, posts: number) =>
  [
    fc.array(fc.tuple(pick(kinds), fc.nat(users - 1), fc.nat(users - 1), fc.nat(posts - 1)), {
      minLength: 1,
      maxLength: 50,
    }),
    fc.integer({ min: 1, max: 20 }),
  ] as const;
const RUNS = { numRuns: 25 };

describe("handleBatch equals handle one event at a time", () => {
  test("identity's follow counts, clamped at zero, over random follows and unfollows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 8, maxLength: 8 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat(3), fc.nat(3)), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 15 }),
        async (start, steps, chunk) => {
          const users = Array.from({ length: 4 }, () => randomUUID());
          const events = steps
            .filter(([, a, b]) => a !== b)
            .map(([follow, a, b]) =>
              envelope(follow ? "Followed" : "Unfollowed", "relationship", { userId: users[a], targetId: users[b] }),
            );
          await sameBothWays(
            async () => followCounts(),
            async (trx) => {
              for (const [i, u] of users.entries()) {
                await sql`INSERT INTO identity.users (id, email, username, password_hash, following_count, follower_count)
                  VALUES (${u}::uuid, ${`${u}@t.example`}, ${`b${u.slice(0, 8)}${i}`}, 'x', ${start[2 * i]}, ${start[2 * i + 1]})`.execute(
                  trx,
                );
              }
            },
            events,
            chunk,
            async (trx) =>
              (
                await sql`SELECT id::text, following_count, follower_count FROM identity.users
                  WHERE id = ANY(${users}::uuid[]) ORDER BY id`.execute(trx)
              ).rows,
          );
        },
      ),
      RUNS,
    );
  });

  test("the feed: follows across the celebrity threshold, posts, counters, unfollows, mutes, deletes", async () => {
    const kinds = [
      "Followed",
      "Followed",
      "Unfollowed",
      "PostCreated",
      "PostCreated",
      "PostLiked",
      "PostLiked",
      "PostUnliked",
      "CommentCreated",
      "CommentDeleted",
      "Muted",
      "PostDeleted",
    ];
    await fc.assert(
      fc.asyncProperty(...stepsOf(kinds, 5, 4), async (steps, chunk) => {
        const users = Array.from({ length: 5 }, () => randomUUID());
        // Post ids in time order (UUIDv7), each with a fixed author.
        const posts = Array.from({ length: 4 }, (_, i) => ({ id: uuidv7(), author: users[i % 3] as string }));
        const events: Envelope[] = [];
        for (const [kind, a, b, p] of steps) {
          const post = posts[p] as { id: string; author: string };
          if (kind === "Followed" || kind === "Unfollowed" || kind === "Muted") {
            if (a !== b) events.push(envelope(kind, "relationship", { userId: users[a], targetId: users[b] }));
          } else if (kind === "PostCreated") {
            events.push(
              envelope(kind, "post", {
                postId: post.id,
                authorId: post.author,
                text: "",
                hashtags: [],
                mentionIds: [],
                mediaCount: 0,
                createdAt: new Date().toISOString(),
              }),
            );
          } else {
            events.push(envelope(kind, "post", postPayload(kind, post, users[a] as string)));
          }
        }
        await sameBothWays(
          async (trx) =>
            createFeed({
              db: { writer: trx, reader: trx },
              store: postgresStore(trx, { size: 800 }),
              log: pino({ level: "silent" }),
              // A threshold of 2 followers: follows in one batch cross it.
              options: { celebrityThreshold: 2, timelineSize: 800, inactiveMs: 86_400_000, activityRecheckMs: 0 },
            }).consumers[0] as EventHandler,
          async (trx) => {
            // Everyone active (fan-out reaches them); two have built timelines (follows backfill them).
            await sql`INSERT INTO feed.activity (user_id, last_seen_at) SELECT u, now() FROM unnest(${users}::uuid[]) AS u`.execute(
              trx,
            );
            await sql`INSERT INTO feed.timeline_built (user_id) SELECT u FROM unnest(${users.slice(0, 2)}::uuid[]) AS u`.execute(
              trx,
            );
          },
          events,
          chunk,
          async (trx) => ({
            follows: (
              await sql`SELECT follower_id::text, followee_id::text FROM feed.follows
                  WHERE follower_id = ANY(${users}::uuid[]) ORDER BY 1, 2`.execute(trx)
            ).rows,
            authors: (
              await sql`SELECT author_id::text, followers FROM feed.authors
                  WHERE author_id = ANY(${users}::uuid[]) ORDER BY 1`.execute(trx)
            ).rows,
            posts: (
              await sql`SELECT post_id::text, like_count, comment_count, deleted FROM feed.posts WHERE author_id = ANY(${users}::uuid[]) ORDER BY 1`.execute(
                trx,
              )
            ).rows,
            timeline: (
              await sql`SELECT user_id::text, post_id::text FROM feed.timeline
                  WHERE user_id = ANY(${users}::uuid[]) ORDER BY 1, 2`.execute(trx)
            ).rows,
            hidden: (
              await sql`SELECT viewer_id::text, author_id::text FROM feed.hidden
                  WHERE viewer_id = ANY(${users}::uuid[]) ORDER BY 1, 2`.execute(trx)
            ).rows,
          }),
        );
      }),
      {
        ...RUNS,
        // A built timeline's owner follows first, then three more: the author passes the threshold in one batch.
        examples: [
          [
            [
              ["PostCreated", 0, 0, 0],
              ["Followed", 1, 0, 0],
              ["Followed", 2, 0, 0],
              ["Followed", 3, 0, 0],
              ["Followed", 4, 0, 0],
            ],
            20,
          ],
        ],
      },
    );
  });

  test("the inbox: grouping, blocks, mutes, preferences, messages and deleted posts", async () => {
    const kinds = [
      "Followed",
      "PostLiked",
      "PostLiked",
      "PostLiked",
      "CommentCreated",
      "CommentCreated",
      "MessageSent",
      "Blocked",
      "Muted",
      "Unblocked",
      "PostDeleted",
    ];
    await fc.assert(
      fc.asyncProperty(...stepsOf(kinds, 4, 3), async (steps, chunk) => {
        const users = Array.from({ length: 4 }, () => randomUUID());
        const posts = Array.from({ length: 3 }, (_, i) => ({ id: randomUUID(), author: users[i] as string }));
        const conversation = randomUUID();
        const events: Envelope[] = [];
        for (const [kind, a, b, p] of steps) {
          const post = posts[p] as { id: string; author: string };
          const [actor, other] = [users[a] as string, users[b] as string];
          if (kind === "Followed" || kind === "Blocked" || kind === "Muted" || kind === "Unblocked") {
            events.push(envelope(kind, "relationship", { userId: actor, targetId: other }));
          } else if (kind === "PostLiked") {
            events.push(envelope(kind, "post", { postId: post.id, userId: actor, authorId: post.author }));
          } else if (kind === "MessageSent") {
            events.push(
              envelope(kind, "conversation", {
                conversationId: conversation,
                messageId: uuidv7(),
                senderId: actor,
                recipientIds: users.filter((u) => u !== actor),
                text: "hi",
                encrypted: false,
                clientMessageId: randomUUID(),
                createdAt: new Date().toISOString(),
              }),
            );
          } else {
            events.push(envelope(kind, "post", postPayload(kind, post, actor)));
          }
        }
        const outbox = createOutbox({ service: "notifications", schema: "notifications" });
        await sameBothWays(
          async () => createInbox({ outbox, options: { groupWindowMs: 3_600_000 } }).handler,
          async (trx) => {
            // The last user does not want likes.
            await sql`INSERT INTO notifications.preferences (user_id, "like") VALUES (${users[3]}::uuid, false)`.execute(
              trx,
            );
          },
          events,
          chunk,
          async (trx) => {
            // Notification ids are new in each run: named by their first appearance instead.
            const names = new Map<string, number>();
            const name = (id: string) => {
              if (!names.has(id)) names.set(id, names.size);
              return names.get(id);
            };
            const rows = (
              await sql<Record<string, unknown> & { id: string }>`SELECT id::text, user_id::text, type, subject_id,
                    actor_count, activity_count, actor_ids::text[] AS actor_ids
                  FROM notifications.notifications WHERE user_id = ANY(${users}::uuid[]) ORDER BY seq`.execute(trx)
            ).rows;
            const emitted = (
              await sql<{ envelope: Envelope }>`SELECT envelope FROM notifications.outbox
                  WHERE key = ANY(${users}::text[]) ORDER BY seq`.execute(trx)
            ).rows.map(({ envelope: e }) => {
              const { notificationId, createdAt: _c, updatedAt: _u, ...rest } = e.payload;
              return { ...rest, notification: name(notificationId as string) };
            });
            return { notifications: rows.map(({ id, ...r }) => ({ ...r, notification: name(id) })), emitted };
          },
        );
      }),
      RUNS,
    );
  });
});
