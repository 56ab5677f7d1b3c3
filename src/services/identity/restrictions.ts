/**
 * Accounts the moderation module suspended or banned, applied from its events (consumer
 * `identity.restrictions`, topic nova.moderation.action, keyed by the account, so a suspension and
 * its lift arrive in order): the restriction is kept, every session of the account is revoked in the
 * same transaction, and every gateway is told on the bus to drop what it cached about the account's
 * sessions. While the restriction holds no session opens (openSession asks `refuseRestricted`) and
 * the account's public profile is not served (queries.ts), which hides its content in the gateway.
 */
import { sql, type Transaction } from "kysely";
import { NovaError } from "../../platform/errors.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Bus } from "../../platform/pubsub/bus.ts";
import { MODERATION_EVENTS } from "../moderation/events.ts";
import { type IdentityDb, type IdentityTables, revokeAllSessions } from "./queries.ts";

/** The bus channel on which a user's sessions are announced revoked: the message is the user id. */
export const SESSIONS_REVOKED_CHANNEL = "nova:identity:sessions-revoked";

const restriction = MODERATION_EVENTS.reader({
  AccountSuspended: { userId: true, actionId: true, until: true },
  AccountBanned: { userId: true, actionId: true },
  AccountReinstated: { userId: true, actionId: true },
});

export function restrictionsConsumer(
  bus: Bus | undefined,
  invalidate?: (ids: string[]) => Promise<void>,
): EventHandler {
  return {
    name: "identity.restrictions",
    schema: "identity",
    topics: [MODERATION_EVENTS.topic],
    async handle(event, trx) {
      const e = restriction(event);
      if (!e) return;
      const t = trx as unknown as Transaction<IdentityTables>;
      const { userId, actionId } = e.payload;
      if (e.type === "AccountReinstated") {
        await sql`DELETE FROM identity.account_restrictions WHERE user_id = ${userId}::uuid`.execute(t);
        await invalidate?.([userId]);
        return;
      }
      const until = e.type === "AccountSuspended" ? e.payload.until : null;
      const state = e.type === "AccountSuspended" ? "suspended" : "banned";
      // An account erased meanwhile has no row to restrict (the FK): nothing to do.
      await sql`INSERT INTO identity.account_restrictions (user_id, state, until, action_id)
        SELECT id, ${state}, ${until}::timestamptz, ${actionId}::uuid FROM identity.users WHERE id = ${userId}::uuid
        ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, until = excluded.until,
          action_id = excluded.action_id`.execute(t);
      await revokeAllSessions(t, userId, state);
      // The cached public profile goes: BatchGetUsers serves none while the restriction holds.
      await invalidate?.([userId]);
      // Every gateway drops the account's cached session state (and re-asks identity for a few seconds, so
      // an answer read before this transaction commits is not cached again).
      await bus?.publish(SESSIONS_REVOKED_CHANNEL, userId);
    },
  };
}

/** ACCOUNT_SUSPENDED when the account is suspended or banned now. */
export async function refuseRestricted(db: IdentityDb, userId: string): Promise<void> {
  const r = await sql<{ state: string; until: Date | null }>`SELECT state, until FROM identity.account_restrictions
    WHERE user_id = ${userId}::uuid AND (state = 'banned' OR until > now())`.execute(db);
  const row = r.rows[0];
  if (!row) return;
  throw new NovaError(
    "ACCOUNT_SUSPENDED",
    row.state === "banned" ? "this account is banned" : `this account is suspended until ${row.until?.toISOString()}`,
  );
}
