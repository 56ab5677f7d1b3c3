/** What the export module's RPCs and consumers are built from. */
import type { Outbox } from "../../platform/events/outbox.ts";
import type { BlobStore } from "../../platform/storage/blobs.ts";
import type { ExportClients } from "./gather.ts";
import type { ExportDb } from "./queries.ts";

/** How long an archive's link works (and the archive is kept): 7 days, the longest an S3 presigned URL may live. */
export const LINK_TTL_S = 7 * 86_400;

export interface ExportContext {
  writer: ExportDb;
  reader: ExportDb;
  outbox: Outbox;
  /** The media store (the one media keeps its files in): archives go under `exports/`. */
  store: BlobStore;
  clients: ExportClients;
  linkTtlS: number;
  /** The wall clock in ms (tests move it). */
  now: () => number;
}

/** The archive's key in the store: under `exports/`, which media's routes and orphan check never take for theirs. */
export const archiveKey = (userId: string, exportId: string) => `${userPrefix(userId)}${exportId}/nova-export.zip`;

/** Every archive of one user is under this prefix (their erasure lists it). */
export const userPrefix = (userId: string) => `exports/${userId}/`;

const ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
/** An archive's key: served by the gateway's media route (folder store) only with a valid signature. */
export const EXPORT_KEY = new RegExp(`^exports/${ID}/${ID}/nova-export\\.zip$`);
