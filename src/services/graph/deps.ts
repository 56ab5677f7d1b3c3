/** What the graph service is built from. */
import type { Kysely } from "kysely";
import type { Outbox } from "../../platform/events/outbox.ts";
import type { GraphTables } from "./queries.ts";

export interface GraphDeps {
  db: { writer: Kysely<GraphTables>; reader: Kysely<GraphTables> };
  outbox: Outbox;
  /** Whether a user exists (identity's answer). */
  userExists(id: string): Promise<boolean>;
  /**
   * The user, if they exist, and whether their account is private (identity's answer, one call: Follow
   * asks it instead of `userExists`); without it, `userExists` answers and no account is private.
   */
  lookupUser?(id: string): Promise<{ isPrivate: boolean } | undefined>;
  /** Called after a change commits with the users whose relationships changed. */
  changed?: (userIds: string[]) => Promise<void> | void;
}
