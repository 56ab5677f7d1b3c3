/** Authorization rules shared by services: who may call an RPC beyond "any signed-in user". */
import { NovaError } from "../errors.ts";
import { currentCall } from "./context.ts";

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

/** Keyset paging of a scan: a page size of 1 to `max` (0 means `dflt`). */
export function scanLimit(limit: number, max = 1_000, dflt = 500): number {
  if (limit === 0) return dflt;
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new NovaError("VALIDATION_FAILED", `limit: must be 1 to ${max}`, { field: "limit" });
  return limit;
}
