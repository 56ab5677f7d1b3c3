/**
 * The events the media service writes, all on topic nova.media.media keyed by the media id:
 * MediaUploaded (CompleteUpload accepted the bytes; the processing consumer reads it),
 * MediaProcessed (variants made, READY) and MediaRejected (REJECTED, with the reason code).
 */
import { z } from "zod";
import { topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent } from "../../platform/events/outbox.ts";

export const MEDIA_AGGREGATE = "media";
export const MEDIA_TOPIC = topicOf("media", MEDIA_AGGREGATE);

export const MediaUploadedSchema = z.object({
  mediaId: z.string(),
  ownerId: z.string(),
  kind: z.string(),
  /** The type sniffed from the bytes at completion (it matched the declared one). */
  contentType: z.string(),
  byteSize: z.number().int(),
});
export type MediaUploaded = z.infer<typeof MediaUploadedSchema>;

export const MediaProcessedSchema = z.object({
  mediaId: z.string(),
  ownerId: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  blurhash: z.string(),
  animated: z.boolean(),
  variants: z.array(z.object({ name: z.string(), width: z.number().int(), height: z.number().int() })),
});
export type MediaProcessed = z.infer<typeof MediaProcessedSchema>;

export const MediaRejectedSchema = z.object({
  mediaId: z.string(),
  ownerId: z.string(),
  /** A MEDIA_* code of the error catalogue. */
  reason: z.string(),
  field: z.string(),
});
export type MediaRejected = z.infer<typeof MediaRejectedSchema>;

export const MEDIA_EVENTS = {
  MediaUploaded: {
    type: "MediaUploaded",
    aggregateType: MEDIA_AGGREGATE,
    topic: MEDIA_TOPIC,
    payload: MediaUploadedSchema,
  },
  MediaProcessed: {
    type: "MediaProcessed",
    aggregateType: MEDIA_AGGREGATE,
    topic: MEDIA_TOPIC,
    payload: MediaProcessedSchema,
  },
  MediaRejected: {
    type: "MediaRejected",
    aggregateType: MEDIA_AGGREGATE,
    topic: MEDIA_TOPIC,
    payload: MediaRejectedSchema,
  },
} as const;

type Payloads = { MediaUploaded: MediaUploaded; MediaProcessed: MediaProcessed; MediaRejected: MediaRejected };

/** An event of this service for the outbox, its payload checked against the declared schema. */
export function mediaEvent<T extends keyof Payloads>(type: T, payload: Payloads[T], actorId: string | null): NewEvent {
  const def = MEDIA_EVENTS[type];
  return {
    type: def.type,
    aggregateType: MEDIA_AGGREGATE,
    aggregateId: payload.mediaId,
    actorId,
    payload: def.payload.parse(payload) as Record<string, unknown>,
  };
}
