/** Input rules of the graph service. Every failure is VALIDATION_FAILED naming the field. */
import { invalid } from "../../platform/errors.ts";
import { uuid, uuids } from "../../platform/validate.ts";

export { decodeCursor, encodeCursor } from "../../platform/cursor.ts";

/** Most ids in one batch call (GetRelationships, GetCounts). */
export const MAX_BATCH = 100;
/** Largest page of ListFollowers / ListFollowing; 0 asks for DEFAULT_PAGE. */
export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 20;

/** A user id: a UUID, normalized to lower case. */
export function validateUserId(value: string, field = "userId"): string {
  return uuid(field, value, "a user id");
}

/** At most MAX_BATCH user ids; a bad one is named by its index (`userIds[3]`). */
export function validateUserIds(values: readonly string[], field = "userIds"): string[] {
  return uuids(field, values, MAX_BATCH, "a user id");
}

export function validateLimit(limit: number, field = "limit"): number {
  if (limit === 0) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(field, `must be 1 to ${MAX_PAGE}`);
  return limit;
}
