/** Input rules of the graph service. Every failure is VALIDATION_FAILED naming the field. */
import { uuid, uuids } from "../../platform/validate.ts";

/** Most ids in one batch call (GetRelationships, GetCounts). */
export const MAX_BATCH = 100;

/** A user id: a UUID, normalized to lower case. */
export function validateUserId(value: string, field = "userId"): string {
  return uuid(field, value, "a user id");
}

/** At most MAX_BATCH user ids; a bad one is named by its index (`userIds[3]`). */
export function validateUserIds(values: readonly string[], field = "userIds"): string[] {
  return uuids(field, values, MAX_BATCH, "a user id");
}
