/**
 * Where blobs live: one interface over a folder (embedded mode, `.nova/media/`) and an
 * S3-compatible object store (distributed mode). Keys are the caller's own (the media service's
 * `<mediaId>/original`, `<mediaId>/w640.webp`, ...); the store never parses them.
 */
import type { Readable } from "node:stream";

/** How a client sends an upload's bytes when they go straight to the store. */
export interface DirectUpload {
  url: string;
  method: "PUT";
  /** Headers the client must send as they are (the signature covers them). */
  headers: Record<string, string>;
  expiresAt: Date;
}

/** Bytes `start` to `end` of a blob, both inclusive (as HTTP's Range counts them). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobInfo {
  size: number;
  contentType: string | undefined;
  etag: string | undefined;
}

export interface BlobStore {
  /** "fs" or "s3": which one this is (for logs and health). */
  readonly kind: "fs" | "s3";
  /**
   * A presigned PUT that accepts exactly `byteSize` bytes of `contentType` at `key` until
   * `expiresInS`; undefined when the store cannot take direct uploads (the gateway takes them).
   */
  directUpload(
    key: string,
    contentType: string,
    byteSize: number,
    expiresInS: number,
  ): Promise<DirectUpload | undefined>;
  put(key: string, body: Buffer | Readable, contentType: string): Promise<void>;
  /** The bytes, or undefined when there is no such blob. */
  get(key: string): Promise<Buffer | undefined>;
  /** A stream of the bytes (for serving), or of bytes start..end (inclusive) of them; undefined when missing. */
  stream(key: string, range?: ByteRange): Promise<Readable | undefined>;
  head(key: string): Promise<BlobInfo | undefined>;
  /** Deletes the keys; a missing key is not an error. */
  delete(keys: string[]): Promise<void>;
  /** Every key under `prefix` (the orphan check walks the whole store with ""). */
  list(prefix: string): AsyncIterable<string>;
  /**
   * A URL a browser can GET the blob at: under the configured public base URL (a CDN) when set;
   * else presigned for `expiresInS` (S3) or the gateway's media route (fs).
   */
  readUrl(key: string, expiresInS: number): Promise<string>;
  /**
   * A URL that reads the blob only until `expiresInS` from now, never the public base URL: for
   * private blobs (a message's media). S3: a presigned GET; fs: the gateway's media route with an
   * expiry and an HMAC of the key and expiry, which the route checks.
   */
  signedUrl(key: string, expiresInS: number): Promise<string>;
}

/** Deletes every blob whose key starts with `prefix` (a media's `<id>/`, a user's exports). Repeatable. */
export async function deleteUnder(store: BlobStore, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  await store.delete(keys);
}
