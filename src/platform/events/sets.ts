/** Migration sets of the event backbone. */
import type { MigrationSet } from "../db/migrator.ts";

/** outbox, processed_events and dlq in a service schema. */
export function eventTables(schema: string): MigrationSet {
  return { schema, dir: new URL("./migrations/", import.meta.url), template: { prefix: "platform/events" } };
}

/** The embedded transport's log and consumer offsets. */
export const eventLog: MigrationSet = { schema: "nova_events", dir: new URL("./log-migrations/", import.meta.url) };
