/**
 * The distributed-mode BlobStore: an S3-compatible object store (AWS S3, SeaweedFS, Ceph RGW, R2, ...)
 * through `@aws-sdk/client-s3`. Uploads go straight to the store with a presigned PUT whose signature
 * covers the exact `Content-Length` and `Content-Type` declared when the upload was created, so the
 * store refuses a body of another size or type. Reads are under the public base URL (a CDN) when one is
 * configured, else presigned GETs.
 */
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { BlobInfo, BlobStore, DirectUpload } from "./blobs.ts";

export interface S3StoreOptions {
  /** undefined: AWS's own endpoint for the region */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** both or neither; neither: the SDK's default credential chain (IRSA, instance roles, env) */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** `<endpoint>/<bucket>/<key>` (most S3-compatible servers) rather than `<bucket>.<endpoint>/<key>` */
  forcePathStyle: boolean;
  /** reads are `<publicBaseUrl>/<key>` when set (a CDN in front of the bucket); else presigned GETs */
  publicBaseUrl?: string | undefined;
  /** a streamed put goes up in parts of this size (S3's minimum: 5 MiB); default 8 MiB */
  partSize?: number;
  /** keys per ListObjectsV2 page (S3's maximum and the default: 1000) */
  listPageSize?: number;
}

/** SigV4's longest presigned lifetime. */
const MAX_EXPIRES_S = 7 * 24 * 3600;
const MIN_PART = 5 * 1024 * 1024;
/** DeleteObjects takes at most this many keys per call. */
const DELETE_BATCH = 1000;

export interface S3BlobStore extends BlobStore {
  readonly kind: "s3";
  readonly bucket: string;
  /** Creates the bucket when it does not exist (start-up; the harness's tests). */
  ensureBucket(): Promise<void>;
  /** Closes the client's sockets. */
  close(): void;
}

/**
 * The SDK warns once per process on Node < 22 that its releases after January 2027 need Node 22. The
 * version is pinned in package.json and runs on Node 20 (engines >= 20): the warning is for whoever
 * bumps it, not for every process's log.
 */
export function quietAwsNodeWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}

export function s3Store(opts: S3StoreOptions): S3BlobStore {
  quietAwsNodeWarning();
  if ((opts.accessKeyId === undefined) !== (opts.secretAccessKey === undefined))
    throw new Error("s3Store: give both accessKeyId and secretAccessKey, or neither");
  const partSize = opts.partSize ?? 8 * 1024 * 1024;
  const MaxKeys = Math.min(1000, Math.max(1, opts.listPageSize ?? 1000));
  if (!Number.isInteger(partSize) || partSize < MIN_PART) throw new Error("s3Store: partSize must be at least 5 MiB");
  const client = new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle,
    ...(opts.accessKeyId && opts.secretAccessKey
      ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } }
      : {}),
    // Checksums only where the API demands them: a presigned PUT must not carry a checksum of a body
    // the SDK never saw, and not every S3-compatible server knows the newer checksum headers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
  const Bucket = opts.bucket;
  const base = opts.publicBaseUrl?.replace(/\/+$/, "");

  return {
    kind: "s3",
    bucket: Bucket,

    async ensureBucket() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
        return;
      } catch (err) {
        if (status(err) !== 404) throw err;
      }
      try {
        await client.send(new CreateBucketCommand({ Bucket }));
      } catch (err) {
        // made meanwhile by another replica
        if (!["BucketAlreadyOwnedByYou", "BucketAlreadyExists"].includes(errorName(err))) throw err;
      }
    },

    async directUpload(key, contentType, byteSize, expiresInS): Promise<DirectUpload> {
      if (!Number.isSafeInteger(byteSize) || byteSize < 0) throw new Error("s3: byteSize must be a whole number ≥ 0");
      if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(contentType)) throw new Error("s3: contentType must be printable ASCII");
      const expiresIn = lifetime(expiresInS);
      const command = new PutObjectCommand({ Bucket, Key: key, ContentType: contentType, ContentLength: byteSize });
      const url = await getSignedUrl(client, command, {
        expiresIn,
        // The presigner leaves Content-Type unsigned by default; both headers go into SignedHeaders, so
        // a PUT of another size or type fails the signature check (403 SignatureDoesNotMatch).
        signableHeaders: new Set(["content-type", "content-length"]),
      });
      return {
        url,
        method: "PUT",
        headers: { "content-type": contentType, "content-length": String(byteSize) },
        expiresAt: new Date(Date.now() + expiresIn * 1000),
      };
    },

    async put(key, body, contentType) {
      if (Buffer.isBuffer(body)) {
        await client.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: contentType }));
        return;
      }
      await putStream(client, Bucket, partSize, key, body, contentType);
    },

    async get(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket, Key: key }));
        if (!r.Body) return Buffer.alloc(0);
        return Buffer.from(await r.Body.transformToByteArray());
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },

    async stream(key, range) {
      try {
        const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
        const r = await client.send(new GetObjectCommand({ Bucket, Key: key, Range }));
        if (!r.Body) return Readable.from([]);
        return r.Body as Readable;
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },

    async head(key): Promise<BlobInfo | undefined> {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return { size: r.ContentLength ?? 0, contentType: r.ContentType, etag: r.ETag };
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },

    async delete(keys) {
      for (let i = 0; i < keys.length; i += DELETE_BATCH)
        await deleteBatch(client, Bucket, keys.slice(i, i + DELETE_BATCH));
    },

    async *list(prefix) {
      let ContinuationToken: string | undefined;
      do {
        const r = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: prefix || undefined, ContinuationToken, MaxKeys }),
        );
        for (const o of r.Contents ?? []) if (o.Key !== undefined) yield o.Key;
        ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },

    async readUrl(key, expiresInS) {
      if (base) return `${base}/${key.split("/").map(encodeURIComponent).join("/")}`;
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: lifetime(expiresInS) });
    },

    async signedUrl(key, expiresInS) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: lifetime(expiresInS) });
    },

    close() {
      client.destroy();
    },
  };
}

/** A body of unknown length, with bounded memory: at most one part is held; under one part it is a single PutObject. */
async function putStream(
  client: S3Client,
  Bucket: string,
  partSize: number,
  key: string,
  body: Readable,
  contentType: string,
): Promise<void> {
  const parts = chunks(body, partSize);
  const first = await parts.next();
  const firstBuf = first.done ? Buffer.alloc(0) : first.value;
  const second = first.done ? { done: true as const, value: undefined } : await parts.next();
  if (second.done) {
    await client.send(new PutObjectCommand({ Bucket, Key: key, Body: firstBuf, ContentType: contentType }));
    return;
  }
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: contentType }),
  );
  if (!UploadId) throw new Error(`s3: no upload id for ${key}`);
  try {
    const done: { ETag: string; PartNumber: number }[] = [];
    const upload = async (buf: Buffer) => {
      const PartNumber = done.length + 1;
      const r = await client.send(new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber, Body: buf }));
      done.push({ ETag: r.ETag ?? "", PartNumber });
    };
    await upload(firstBuf);
    await upload(second.value);
    for await (const buf of parts) await upload(buf);
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }),
    );
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId })).catch(() => undefined);
    throw err;
  }
}

async function deleteBatch(client: S3Client, Bucket: string, batch: string[]): Promise<void> {
  const r = await client.send(
    new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
  );
  const failed = (r.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
  if (failed.length)
    throw new Error(
      `s3: could not delete ${failed.length} of ${batch.length} keys, e.g. ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message ?? ""}`,
    );
}

function lifetime(expiresInS: number): number {
  const s = Math.ceil(expiresInS);
  if (!Number.isFinite(s) || s < 1 || s > MAX_EXPIRES_S)
    throw new Error(`s3: a presigned URL lives 1 s to 7 days (got ${expiresInS} s)`);
  return s;
}

/** The body in buffers of exactly `size` bytes (the last one shorter). */
async function* chunks(body: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let have = 0;
  for await (const piece of body) {
    let buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
    while (have + buf.length >= size) {
      const take = size - have;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      have = 0;
      buf = buf.subarray(take);
    }
    if (buf.length) {
      pending.push(buf);
      have += buf.length;
    }
  }
  if (have > 0) yield Buffer.concat(pending);
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? "";
}

function missing(err: unknown): boolean {
  return status(err) === 404 || ["NoSuchKey", "NotFound"].includes(errorName(err));
}
