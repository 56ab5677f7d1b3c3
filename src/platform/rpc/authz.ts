/** Authorization rules shared by services: who may call an RPC beyond "any signed-in user". */
import { NovaError } from "../errors.ts";
import { currentCall, requireUser, type UserClaims } from "./context.ts";

/**
 * Allows a call made by one of `modules` on its own behalf (no end user in the
 * call: e.g. an indexer's background job; the caller is its mTLS identity when
 * remote) or by an admin user; refuses everything else with FORBIDDEN.
 */
export function requireModuleOrAdmin(modules: readonly string[]): void {
  const call = currentCall();
  if (call?.user?.admin) return;
  if (!call?.user && call?.caller && modules.includes(call.caller)) return;
  throw new NovaError("FORBIDDEN", `only ${modules.join(", ")} or an admin may call this`);
}

/** The signed-in moderator (or admin) making this call; FORBIDDEN for anyone else. */
export function requireModerator(): UserClaims {
  const user = requireUser();
  if (!user.admin && !user.moderator) throw new NovaError("FORBIDDEN", "only a moderator may do this");
  return user;
}
