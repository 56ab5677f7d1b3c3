/**
 * The erasure job (hourly, from module.ts; README "Account deletion"): accounts whose deletion is due
 * (ACCOUNT_ERASE_AFTER_DAYS after the request, no sign-in since) are erased. Identity deletes its own
 * rows of the account and forgets its events, and writes one AccountErased naming the id, in one
 * transaction; every other service erases what it holds on that event (`erasureConsumer`).
 */
import type { Transaction } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { forgetEventsOf } from "../../platform/events/forget.ts";
import type { Outbox } from "../../platform/events/outbox.ts";
import { ACCOUNT_EVENTS, accountEvent, writeAccountEvents } from "./events.ts";
import { deleteUserRows, dueForErasure, type IdentityDb, type IdentityTables } from "./queries.ts";

export const ERASED_EVENT = "AccountErased";

/**
 * Erases the accounts due at `nowMs`, in batches, one transaction per account; several erasers may
 * run (due rows are locked, SKIP LOCKED). Returns the ids erased; `erased` is told after each commit.
 */
export async function eraseDueAccounts(
  db: IdentityDb,
  outbox: Outbox,
  nowMs: number,
  erased?: (userId: string) => Promise<void>,
  batch = 50,
): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const n = await db.transaction().execute(async (trx) => {
      const due = await dueForErasure(trx, new Date(nowMs), batch);
      for (const { id } of due) await eraseIn(trx, outbox, id);
      return due.map((d) => d.id);
    });
    for (const id of n) await erased?.(id);
    out.push(...n);
    if (n.length < batch) break;
  }
  return out;
}

async function eraseIn(trx: Transaction<IdentityTables>, outbox: Outbox, userId: string): Promise<void> {
  await deleteUserRows(trx, userId);
  await forgetEventsOf(trx as Transaction<unknown>, "identity", userId, ERASED_EVENT);
  await writeAccountEvents(outbox, trx, accountEvent("AccountErased", { userId }));
}

const erasedReader = ACCOUNT_EVENTS.reader({ AccountErased: { userId: true } });

/**
 * A service's consumer of AccountErased (topic nova.identity.account): `erase` deletes or redacts
 * what the service holds of the user inside the consumer's transaction, then the service's own
 * outbox and DLQ forget the user's events. Delivery is at least once: `erase` must be idempotent
 * (the platform's processed_events stops a plain redelivery; a replay from the DLQ may still run it twice).
 */
export function erasureConsumer(
  name: string,
  schema: string,
  erase: (userId: string, trx: Transaction<unknown>) => Promise<void>,
): EventHandler {
  return {
    name,
    schema,
    topics: [ACCOUNT_EVENTS.topic],
    async handle(event, trx) {
      const e = erasedReader(event);
      if (!e) return;
      await erase(e.payload.userId, trx);
      await forgetEventsOf(trx, schema, e.payload.userId, ERASED_EVENT);
    },
  };
}
