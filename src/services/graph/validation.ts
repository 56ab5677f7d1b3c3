/** Input rules of the graph service. Every failure is VALIDATION_FAILED naming the field. */
import { invalid } from "../../platform/errors.ts";

export { decodeCursor, encodeCursor } from "../../platform/cursor.ts";

/** Most ids in one batch call (GetRelationships, GetCounts). */
export const MAX_BATCH = 100;
/** Largest page of ListFollowers / ListFollowing; 0 asks for DEFAULT_PAGE. */
export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A user id: a UUID, normalized to lower case. */
export function validateUserId(value: string, field = "userId"): string {
  const v = value.trim().toLowerCase();
  if (!UUID.test(v)) throw invalid(field, "must be a user id (UUID)");
  return v;
}

/** At most MAX_BATCH user ids; a bad one is named by its index (`userIds[3]`). */
export function validateUserIds(values: readonly string[], field = "userIds"): string[] {
  if (values.length > MAX_BATCH) throw invalid(field, `must have at most ${MAX_BATCH} ids`);
  return values.map((v, i) => validateUserId(v, `${field}[${i}]`));
}

export function validateLimit(limit: number, field = "limit"): number {
  if (limit === 0) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(field, `must be 1 to ${MAX_PAGE}`);
  return limit;
}
