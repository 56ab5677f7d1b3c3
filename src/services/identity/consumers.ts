/**
 * Identity's event consumers. `identity.follow-counts` keeps the follower and
 * following counts on the profile from the graph's Followed/Unfollowed events
 * (topic nova.graph.relationship, keyed by the follower, so one follower's
 * follow and unfollow arrive in order). Identity never reads the graph's tables.
 */
import { sql, type Transaction } from "kysely";
import { ClampedCounters } from "../../platform/db/counters.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { GRAPH_EVENTS, RELATIONSHIP_TOPIC } from "../graph/events.ts";

export const GRAPH_RELATIONSHIP_TOPIC = RELATIONSHIP_TOPIC;

/**
 * `invalidate` drops the cached profiles whose counts moved. It runs inside the batch's transaction,
 * so a read racing the commit can cache the old counts again for up to the L1 TTL (identity:user);
 * the counts the gateway shows come from the graph's exact GetCounts, not from here.
 */
export function followCounts(invalidate?: (ids: string[]) => Promise<void>): EventHandler {
  /** The count changes of several events in one statement (see ClampedCounters). */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    const counts = new ClampedCounters(["following", "followers"]);
    for (const event of events) {
      if (event.type === "FollowsErased") {
        // An erased account's follows (graph's erasure): the counts it held up go down.
        const { userId, followers, following } = GRAPH_EVENTS.payload("FollowsErased", event);
        counts.add(userId, "followers", -followers);
        counts.add(userId, "following", -following);
        continue;
      }
      if (event.type !== "Followed" && event.type !== "Unfollowed") continue;
      // Checked against the graph's own declaration of the event (graph/events.ts), ids lower-cased;
      // a payload that does not match throws, naming the field.
      const { userId, targetId } = GRAPH_EVENTS.payload(event.type, event);
      const d = event.type === "Followed" ? 1 : -1;
      counts.add(userId, "following", d);
      counts.add(targetId, "followers", d);
    }
    if (counts.size === 0) return;
    // Rows locked in id order, so concurrent consumers never deadlock.
    const { ids, sum, floor } = counts.columns();
    await sql`WITH locked AS (SELECT id FROM identity.users WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE)
      UPDATE identity.users u SET
          following_count = GREATEST(x.ff, u.following_count + x.fs),
          follower_count = GREATEST(x.rf, u.follower_count + x.rs)
        FROM locked JOIN unnest(${ids}::uuid[], ${sum.following}::int[], ${floor.following}::int[],
          ${sum.followers}::int[], ${floor.followers}::int[]) AS x(id, fs, ff, rs, rf) ON x.id = locked.id
        WHERE u.id = x.id`.execute(trx);
    await invalidate?.(ids);
  }
  return {
    name: "identity.follow-counts",
    schema: "identity",
    topics: [GRAPH_RELATIONSHIP_TOPIC],
    handle: (event, trx) => apply([event], trx),
    handleBatch: apply,
  };
}
