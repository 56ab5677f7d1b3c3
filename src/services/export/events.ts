/**
 * The events the export module writes, on topic nova.export.archive keyed by the user, read only by
 * its own consumers (consumers.ts): ExportRequested starts a build, ExportReady sends the mail. Both
 * name only ids: the link is signed when the mail is made, never carried in an event.
 */
import { z } from "zod";
import { type DeclaredEvent, defineEvents, payloadId } from "../../platform/events/declare.ts";

export const ARCHIVE_AGGREGATE = "archive" as const;

const archivePayload = z.object({ userId: payloadId("a user id"), exportId: payloadId("an export id") });

export const exportEvents = {
  /** Build the user's archive (a row PENDING). */
  ExportRequested: archivePayload,
  /** The archive is READY: mail its owner the link. */
  ExportReady: archivePayload,
} as const;
export type ExportEventType = keyof typeof exportEvents;

export const EXPORT_EVENTS = defineEvents("export", ARCHIVE_AGGREGATE, exportEvents, (p) => p.userId);
export const ARCHIVE_TOPIC = EXPORT_EVENTS.topic;

export type ExportEvent = DeclaredEvent<typeof ARCHIVE_AGGREGATE, ExportEventType>;

export function exportEvent(type: ExportEventType, userId: string, exportId: string): ExportEvent {
  return EXPORT_EVENTS.event(type, userId, { userId, exportId });
}

export const writeExportEvents = EXPORT_EVENTS.write;
