/**
 * The events the media service writes, all on topic nova.media.media keyed by the media id:
 * MediaUploaded (CompleteUpload accepted the bytes; the processing consumer reads it),
 * MediaProcessed (variants made, READY) and MediaRejected (REJECTED, with the reason code).
 * Writers build them with `mediaEvent`; a consumer reads them with `MEDIA_EVENTS.payload`.
 */
import { z } from "zod";
import { type DeclaredEvent, defineEvents, payloadId } from "../../platform/events/declare.ts";

export const MEDIA_AGGREGATE = "media" as const;

export const mediaEvents = {
  MediaUploaded: z.object({
    mediaId: payloadId("a media id"),
    ownerId: payloadId("a user id"),
    kind: z.string(),
    /** The type sniffed from the bytes at completion (it matched the declared one). */
    contentType: z.string(),
    byteSize: z.number().int(),
  }),
  MediaProcessed: z.object({
    mediaId: payloadId("a media id"),
    ownerId: payloadId("a user id"),
    width: z.number().int(),
    height: z.number().int(),
    blurhash: z.string(),
    animated: z.boolean(),
    /** A video's length (added with video: absent on an image, and in events written before). */
    durationMs: z.number().int().positive().optional(),
    variants: z.array(z.object({ name: z.string(), width: z.number().int(), height: z.number().int() })),
  }),
  MediaRejected: z.object({
    mediaId: payloadId("a media id"),
    ownerId: payloadId("a user id"),
    /** A MEDIA_* code of the error catalogue. */
    reason: z.string(),
    field: z.string(),
  }),
} as const;
export type MediaEventType = keyof typeof mediaEvents;
export type MediaPayload<T extends MediaEventType> = z.input<(typeof mediaEvents)[T]>;

/** The declaration: topic nova.media.media, keyed by the media id. */
export const MEDIA_EVENTS = defineEvents("media", MEDIA_AGGREGATE, mediaEvents, (p) => p.mediaId);
export const MEDIA_TOPIC = MEDIA_EVENTS.topic;

/** An event of this service for the outbox, its payload typed by the declared schema. */
export function mediaEvent<T extends MediaEventType>(
  type: T,
  payload: MediaPayload<T>,
  actorId: string | null,
): DeclaredEvent<typeof MEDIA_AGGREGATE, T> {
  return MEDIA_EVENTS.event(type, actorId, payload);
}
