/**
 * Identity's event consumers. `identity.follow-counts` keeps the follower and
 * following counts on the profile from the graph's Followed/Unfollowed events
 * (topic nova.graph.relationship, keyed by the follower, so one follower's
 * follow and unfollow arrive in order). Identity never reads the graph's tables.
 */
import { sql } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { topicOf } from "../../platform/events/envelope.ts";

export const GRAPH_RELATIONSHIP_TOPIC = topicOf("graph", "relationship");

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `invalidate` drops the cached profiles whose counts moved. It runs inside the batch's transaction,
 * so a read racing the commit can cache the old counts again for up to the L1 TTL (identity:user);
 * the counts the gateway shows come from the graph's exact GetCounts, not from here.
 */
export function followCounts(invalidate?: (ids: string[]) => Promise<void>): EventHandler {
  return {
    name: "identity.follow-counts",
    schema: "identity",
    topics: [GRAPH_RELATIONSHIP_TOPIC],
    async handle(event, trx) {
      if (event.type !== "Followed" && event.type !== "Unfollowed") return;
      const { userId, targetId } = event.payload;
      if (typeof userId !== "string" || !uuid.test(userId) || typeof targetId !== "string" || !uuid.test(targetId)) {
        throw new Error(`${event.type} ${event.id}: payload.userId and payload.targetId must be user ids`);
      }
      const d = event.type === "Followed" ? 1 : -1;
      // Both rows in one statement, in id order, so concurrent consumers never deadlock.
      await sql`UPDATE identity.users u SET
          following_count = GREATEST(0, following_count + CASE WHEN u.id = ${userId}::uuid THEN ${d}::int ELSE 0 END),
          follower_count = GREATEST(0, follower_count + CASE WHEN u.id = ${targetId}::uuid THEN ${d}::int ELSE 0 END)
        WHERE u.id IN (${userId}::uuid, ${targetId}::uuid)`.execute(trx);
      await invalidate?.([userId.toLowerCase(), targetId.toLowerCase()]);
    },
  };
}
