/**
 * Who may take a username: nobody else's in use, nor one given up by someone in the last 30 days
 * (it stays theirs to take back). Both are answered like any taken name, so a reserved name is not
 * told from a used one. Claims on one name are serialised (an advisory lock per name).
 */
import { NovaError } from "../../platform/errors.ts";
import { type IdentityDb, lockUsernames, usernameHeldByOther } from "./queries.ts";

export function usernameTakenError(): NovaError {
  return new NovaError("ALREADY_EXISTS", "username: is already taken", { field: "username" });
}

/** Locks the names for `trx` and throws the "taken" answer when `username` is not free for `userId`. */
export async function claimUsername(
  trx: IdentityDb,
  username: string,
  userId: string | undefined,
  now: Date,
  alsoLock: string[] = [],
): Promise<void> {
  await lockUsernames(trx, [username, ...alsoLock]);
  if (await usernameHeldByOther(trx, username, userId, now)) throw usernameTakenError();
}
