/** What the graph service is built from. */
import type { Kysely } from "kysely";
import type { Outbox } from "../../platform/events/outbox.ts";
import type { GraphTables } from "./queries.ts";

export interface GraphDeps {
  db: { writer: Kysely<GraphTables>; reader: Kysely<GraphTables> };
  outbox: Outbox;
  /** Whether a user exists (identity's answer). */
  userExists(id: string): Promise<boolean>;
  /** Whether the user's account is private (identity's answer); without it no account is. */
  isPrivate?(id: string): Promise<boolean>;
  /** Called after a change commits with the users whose relationships changed. */
  changed?: (userIds: string[]) => Promise<void> | void;
}
