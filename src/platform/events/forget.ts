/**
 * An erased account's events leave a service's outbox and DLQ (README "Account deletion"): every row
 * whose key or envelope names the user goes, but the erasure event itself (`keepType`), which is
 * what tells every service to erase and the one record that the account existed. The outbox is the
 * embedded log too: a consumer behind it misses the rows, which only described the erased account.
 */
import { sql, type Transaction } from "kysely";

export async function forgetEventsOf(
  trx: Transaction<unknown>,
  schema: string,
  userId: string,
  keepType: string,
): Promise<number> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema ${schema}`);
  // A uuid has no LIKE wildcards; lower case as Nova writes ids.
  const pattern = `%${userId.toLowerCase()}%`;
  const outbox = await sql`DELETE FROM ${sql.table(`${schema}.outbox`)}
    WHERE (key = ${userId} OR envelope::text LIKE ${pattern}) AND envelope->>'type' <> ${keepType}`.execute(trx);
  const dlq = await sql`DELETE FROM ${sql.table(`${schema}.dlq`)}
    WHERE (envelope::text LIKE ${pattern} OR error LIKE ${pattern}) AND envelope->>'type' <> ${keepType}`.execute(trx);
  return Number(outbox.numAffectedRows ?? 0n) + Number(dlq.numAffectedRows ?? 0n);
}
