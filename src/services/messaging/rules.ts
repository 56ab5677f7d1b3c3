/** The checks several RPCs share: membership, blocks, existing users, group changes, resends. */
import type { Transaction } from "kysely";
import { NovaError } from "../../platform/errors.ts";
import type { MessagingPeers } from "./deps.ts";
import {
  type LockedConversation,
  lockConversationOf,
  type MessageAttachment,
  type MessageRow,
  type MessagingTables,
} from "./queries.ts";

/** A caller who is not a current member of a conversation gets NOT_FOUND from every RPC. */
export const notFound = (field = "conversationId") => new NovaError("NOT_FOUND", "conversation not found", { field });

/** Locks the conversation row (serialising its changes) and checks the caller is a current member. */
export async function lockAsMember(
  trx: Transaction<MessagingTables>,
  id: string,
  me: string,
): Promise<LockedConversation> {
  const row = await lockConversationOf(trx, id, me);
  if (!row) throw notFound();
  return row;
}

/** Locks a group the caller created, to add or remove one of its members. */
export async function lockGroupAsCreator(
  trx: Transaction<MessagingTables>,
  id: string,
  me: string,
  change: "add" | "remove",
): Promise<LockedConversation> {
  const c = await lockAsMember(trx, id, me);
  if (c.kind === "direct") {
    throw new NovaError("FORBIDDEN", "the members of a direct conversation cannot change", {
      field: "conversationId",
    });
  }
  if (c.creator_id !== me) {
    throw new NovaError("FORBIDDEN", `only the group's creator can ${change} members`, { field: "conversationId" });
  }
  return c;
}

/** Refuses a contact across a block (either direction) between the caller and any of `ids`. */
export async function refuseBlocked(
  peers: MessagingPeers,
  ids: string[],
  fieldOf: (id: string) => string,
): Promise<void> {
  if (ids.length === 0) return;
  const blocked = await peers.blockedWith(ids);
  const first = ids.find((id) => blocked.has(id));
  if (first) throw new NovaError("FORBIDDEN", "cannot message across a block", { field: fieldOf(first) });
}

export async function refuseMissing(
  peers: MessagingPeers,
  ids: string[],
  fieldOf: (id: string) => string,
): Promise<void> {
  const found = await peers.existing(ids);
  const missing = ids.find((id) => !found.has(id));
  if (missing) throw new NovaError("NOT_FOUND", "user not found", { field: fieldOf(missing) });
}

/** A resend must carry the same message: the same key for different content is a client bug. */
export function sameMessage(
  row: MessageRow,
  text: string,
  ciphertext: Buffer | null,
  keyId: string | null,
  attachments: MessageAttachment[],
): boolean {
  if (ciphertext) return row.ciphertext?.equals(ciphertext) === true && row.key_id === keyId;
  const had = row.attachments ?? [];
  const same = had.length === attachments.length && had.every((a, i) => a.mediaId === attachments[i]?.mediaId);
  return row.ciphertext === null && row.text === text && same;
}
