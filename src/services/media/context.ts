/**
 * What every media handler and the processing consumer work with, the blob keys, and the two
 * shared steps: presenting rows as `Media` messages and rejecting an upload.
 */
import { create } from "@bufbuild/protobuf";
import type { Transaction } from "kysely";
import { type Media, MediaSchema } from "../../gen/nova/media/v1/media_pb.ts";
import type { EntityCache } from "../../platform/cache/cache.ts";
import type { NovaError } from "../../platform/errors.ts";
import type { Outbox } from "../../platform/events/outbox.ts";
import type { BlobStore } from "../../platform/storage/blobs.ts";
import { mediaEvent } from "./events.ts";

export { uploadKey, variantKey } from "./keys.ts";

import type { MediaLimits } from "./process.ts";
import { type MediaDb, type MediaRow, type MediaTables, markRejected, transition, type VariantRow } from "./queries.ts";

export interface MediaContext {
  writer: MediaDb;
  reader: MediaDb;
  outbox: Outbox;
  store: BlobStore;
  limits: MediaLimits;
  /** How long an upload target stays valid. */
  uploadExpiryS: number;
  /** How long a read URL stays valid (S3 presigned URLs; the fs store's never expire). */
  readUrlExpiryS: number;
  /** How long a signed URL of private (message) media stays valid, in both stores. */
  privateUrlExpiryS: number;
  /** Per-user upload quotas over what createUpload declared. */
  quota: { bytesPerDay: number; filesPerHour: number };
  /** The gateway's upload route, for stores that take no direct uploads: `<uploadPath>/<id>`. */
  uploadPath: string;
  /**
   * READY media with its variants, by id (two queries a feed page no longer makes): nothing about
   * it changes but its attachment, which invalidates it, as every delete does. Absent: no cache.
   */
  ready?: EntityCache<ReadyMedia>;
}

/** A READY media row and its variants, as the cache keeps them. */
export interface ReadyMedia {
  row: MediaRow;
  variants: VariantRow[];
}

/** JSON keeps no Date: the row's times travel as ISO strings. */
export const READY_MEDIA_CODEC = {
  encode: (m: ReadyMedia): unknown => m,
  decode: (json: unknown): ReadyMedia => {
    const m = json as { row: Record<string, unknown>; variants: VariantRow[] };
    const at = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
    return {
      row: {
        ...(m.row as unknown as MediaRow),
        created_at: at(m.row.created_at) as Date,
        updated_at: at(m.row.updated_at) as Date,
        attached_at: at(m.row.attached_at),
      },
      variants: m.variants,
    };
  },
};

/** Drops `ids` from the READY cache, after the write that changed or deleted them committed. */
export async function mediaChanged(ctx: Pick<MediaContext, "ready">, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await ctx.ready?.invalidate(ids);
}

/**
 * Rows as `Media`; `viewer` (the owner) also sees what was declared and why it was rejected. The
 * variants of message media get short-lived signed URLs (never the public base URL).
 */
export async function present(
  ctx: MediaContext,
  rows: MediaRow[],
  variants: VariantRow[],
  viewer: string | undefined,
): Promise<Media[]> {
  const out: Media[] = [];
  for (const r of rows) {
    const own = viewer !== undefined && viewer === r.owner_id;
    const mine = variants.filter((v) => v.media_id === r.id);
    out.push(
      create(MediaSchema, {
        id: r.id,
        ownerId: r.owner_id,
        kind: r.kind,
        state: r.state,
        variants: await Promise.all(
          mine.map(async (v) => ({
            name: v.name,
            url:
              r.purpose === "MESSAGE"
                ? await ctx.store.signedUrl(v.blob_key, ctx.privateUrlExpiryS)
                : await ctx.store.readUrl(v.blob_key, ctx.readUrlExpiryS),
            width: v.width,
            height: v.height,
            contentType: v.content_type,
          })),
        ),
        blurhash: r.blurhash ?? "",
        width: r.width ?? 0,
        height: r.height ?? 0,
        rejectReason: own ? (r.reject_reason ?? "") : "",
        rejectField: own ? (r.reject_field ?? "") : "",
        contentType: own ? r.content_type : "",
        byteSize: own ? BigInt(r.byte_size) : 0n,
        createdAt: r.created_at.toISOString(),
        animated: r.animated,
        durationMs: r.duration_ms ?? 0,
        purpose: r.purpose,
        conversationId: r.conversation_id ?? "",
      }),
    );
  }
  return out;
}

/**
 * What every viewer but the owner gets for READY post media, made once per cached entry: the entry
 * is immutable and lives in L1 for seconds, so a feed page's media cost a lookup, not a message
 * and a URL per variant. Read URLs stay valid for days; a memo older than half that is remade.
 */
const presented = new WeakMap<ReadyMedia, { media: Media; until: number }>();

export async function presentPublic(ctx: MediaContext, m: ReadyMedia): Promise<Media> {
  const hit = presented.get(m);
  if (hit && hit.until > Date.now()) return hit.media;
  const [media] = await present(ctx, [m.row], m.variants, undefined);
  if (!media) throw new Error(`media ${m.row.id} was not presented`);
  presented.set(m, { media, until: Date.now() + ctx.readUrlExpiryS * 500 });
  return media;
}

/**
 * Inside `trx`: marks the upload REJECTED with the error's code and field and writes MediaRejected
 * (the consumer then deletes its blobs: nothing refused stays stored). Media that is READY or
 * REJECTED already is left as it is (false).
 */
export async function reject(
  trx: Transaction<MediaTables>,
  outbox: Outbox,
  row: MediaRow,
  err: NovaError,
): Promise<boolean> {
  if (!(await transition(trx, row.id, ["PENDING", "UPLOADED", "PROCESSING"], "PROCESSING"))) return false;
  const field = err.field ?? "file";
  await markRejected(trx, row.id, err.code, field);
  await outbox.emit(
    trx as unknown as Transaction<unknown>,
    mediaEvent("MediaRejected", { mediaId: row.id, ownerId: row.owner_id, reason: err.code, field }, row.owner_id),
  );
  return true;
}
