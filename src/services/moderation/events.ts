/**
 * The events the moderation service writes (README "Events"): topic nova.moderation.action, keyed
 * by the account an action touches, so one account's suspension and its lift stay in order. Other
 * services apply them from the log: identity (sessions, sign-in), notifications (the author and the
 * reporters are told).
 */
import { z } from "zod";
import { defineEvents, payloadId } from "../../platform/events/declare.ts";

export const ACTION_AGGREGATE = "action" as const;

const id = payloadId();
const kind = z.enum(["post", "comment", "message", "account"]);

export const moderationEvents = {
  /** A moderator warned the account's owner. */
  AccountWarned: z.object({ actionId: id, userId: id, reason: z.string() }),
  /** Sessions end and sign-in is refused until `until` (RFC 3339). */
  AccountSuspended: z.object({ actionId: id, userId: id, until: z.string(), reason: z.string() }),
  /** Permanent: sessions end and sign-in is refused. */
  AccountBanned: z.object({ actionId: id, userId: id, reason: z.string() }),
  /** A suspension or ban was lifted (or overturned on appeal). */
  AccountReinstated: z.object({ actionId: id, userId: id }),
  /** A post or comment of `userId` was removed (content's soft delete, with the reason). */
  ContentRemoved: z.object({
    actionId: id,
    userId: id,
    subjectKind: z.enum(["post", "comment"]),
    subjectId: id,
    reason: z.string(),
  }),
  /** A post's media were marked sensitive. */
  ContentMarkedSensitive: z.object({ actionId: id, userId: id, postId: id }),
  /** The subject's open reports were closed: `outcome` for the reporters to learn. */
  ReportsResolved: z.object({
    actionId: id,
    userId: id,
    subjectKind: kind,
    subjectId: id,
    outcome: z.enum(["dismissed", "actioned"]),
    reporterIds: z.array(id),
  }),
} as const;

export const MODERATION_EVENTS = defineEvents("moderation", ACTION_AGGREGATE, moderationEvents, (p) => p.userId);
export const MODERATION_TOPIC = MODERATION_EVENTS.topic;

/**
 * The bus channel on which moderation announces, right after an action commits, that an account is
 * suspended or banned (`{"userId", "restricted": true}`) or reinstated (`false`): every gateway
 * refuses the account's tokens at once, without waiting for identity to apply the event from the
 * log (which revokes the sessions for good).
 */
export const STANDING_CHANNEL = "nova:moderation:standing";
