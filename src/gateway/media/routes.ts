/**
 * The gateway's media routes, for a store that cannot take uploads or serve files itself (the fs
 * store of embedded mode; with S3, uploads go straight to the store with a presigned PUT and files
 * are read from its public base URL, and these routes are not registered).
 *
 * - `PUT /media/upload/:id`: the bytes of an upload the bearer declared with createUpload. Streamed
 *   to the store, never buffered whole, up to the media size limit (not the 1 MB GraphQL body
 *   limit); Content-Type and Content-Length must be what createUpload declared, and no more bytes
 *   than declared are taken. 204 when stored; then completeUpload. Each PUT spends one of the user's
 *   upload budget (GATEWAY_RATE_USER_UPLOADS a window): past it, 429 RATE_LIMITED with Retry-After.
 * - `GET /media/<id>/<variant>.webp` (and a video's `video.mp4` / `video.webm`): a processed
 *   variant, with `Cache-Control: public, max-age=31536000, immutable` (a key is never rewritten
 *   with other bytes), an ETag (304 on If-None-Match) and one byte range on request (206: a
 *   browser's video player seeks with ranges, and Safari plays nothing without them). The raw
 *   upload is never served.
 * - `GET /media/<id>/private/<variant>.webp?expires=…&signature=…`: a variant of message media,
 *   only with the store's valid, unexpired signature (which only a member's read of the message
 *   obtains, from the media service); otherwise 403 FORBIDDEN and no bytes. Cached privately until
 *   the signature expires.
 * - `GET /media/exports/<userId>/<exportId>/nova-export.zip?expires=…&signature=…`: a user's data
 *   export, likewise only with a valid, unexpired signature (the mailed link, or me { dataExport });
 *   a download (Content-Disposition: attachment), never cached by anyone else.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { Client } from "@connectrpc/connect";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import { catalogue, type ErrorCode, fromError, NovaError } from "../../platform/errors.ts";
import type { ByteRange } from "../../platform/storage/blobs.ts";
import type { FsBlobStore } from "../../platform/storage/fs.ts";
import { isUuid } from "../../platform/validate.ts";
import { EXPORT_KEY } from "../../services/export/context.ts";
import { PRIVATE_KEY, SERVED_KEY, uploadKey } from "../../services/media/keys.ts";
import { MEDIA_PATH, UPLOAD_PATH } from "../../services/media/store.ts";
import type { RateDecision } from "../ratelimit.ts";

export interface MediaRoutesOptions {
  store: FsBlobStore;
  maxBytes: number;
  media: Client<typeof MediaService>;
  /** Verifies the request's bearer token and sets its call's user (throws a NovaError otherwise). */
  authenticate(req: FastifyRequest): Promise<string>;
  /** Spends one upload of the user's budget (ratelimit.ts); refused: 429 RATE_LIMITED with Retry-After. */
  spendUpload(req: FastifyRequest, userId: string): Promise<RateDecision>;
  /** Runs a backend call inside the request's deadline, claims and trace. */
  run<T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T>;
}

const fail = (code: ErrorCode, field: string, message: string) =>
  new NovaError(code, `${field}: ${message}`, { field });

/** Thrown when the user's upload budget is spent: answered 429 with Retry-After. */
class UploadBudgetSpent extends NovaError {
  constructor(readonly retryAfterS: number) {
    super("RATE_LIMITED", `too many uploads; try again in ${retryAfterS} s`);
  }
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const e = fromError(err);
  if (err instanceof UploadBudgetSpent) reply.header("retry-after", String(err.retryAfterS));
  const status = e.code === "INTERNAL" ? 500 : catalogue[e.code].http;
  if (status === 401) reply.header("www-authenticate", `Bearer error="invalid_token"`);
  return reply.code(status).send({
    errors: [{ message: status === 500 ? "internal error" : e.message, extensions: { code: e.code, field: e.field } }],
  });
}

/** Passes at most `limit` bytes through and counts them; one byte more fails the stream. */
class Limit extends Transform {
  count = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.limit) done(fail("MEDIA_SIZE_MISMATCH", "byteSize", "more bytes than declared"));
    else done(null, chunk);
  }
}

async function receive(opts: MediaRoutesOptions, req: FastifyRequest, body: NodeJS.ReadableStream): Promise<void> {
  const user = await opts.authenticate(req);
  // Before any backend call or byte stored: a user cannot make the gateway stream without end.
  const budget = await opts.spendUpload(req, user);
  if (!budget.allowed) throw new UploadBudgetSpent(budget.retryAfterS);
  const id = (req.params as { id: string }).id.toLowerCase();
  if (!isUuid(id)) throw fail("VALIDATION_FAILED", "id", "must be a media id");
  const res = await opts.run(req, () => opts.media.getMedia({ mediaIds: [id] }));
  const m = res.media[0];
  if (!m) throw fail("NOT_FOUND", "id", "no such media");
  if (m.ownerId !== user) throw fail("FORBIDDEN", "id", "this media is someone else's");
  if (m.state !== "PENDING") throw new NovaError("MEDIA_ALREADY_COMPLETED", undefined, { field: "id" });
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase();
  if (type !== m.contentType)
    throw fail("MEDIA_TYPE_MISMATCH", "contentType", `createUpload declared ${m.contentType}`);
  const length = req.headers["content-length"];
  if (length !== undefined && /^\d+$/.test(length) && Number(length) > opts.maxBytes) {
    throw fail("MEDIA_TOO_LARGE", "byteSize", `at most ${opts.maxBytes} bytes`);
  }
  const declared = Number(m.byteSize);
  if (length === undefined || Number(length) !== declared) {
    throw fail("MEDIA_SIZE_MISMATCH", "byteSize", `Content-Length must be the ${declared} bytes declared`);
  }
  const limit = new Limit(declared);
  // A client that goes away mid-upload fails the write (pipe() alone would leave it waiting).
  body.once("error", (err) => limit.destroy(err as Error));
  req.raw.once("close", () => {
    if (!req.raw.complete) limit.destroy(fail("MEDIA_SIZE_MISMATCH", "byteSize", "the upload was cut off"));
  });
  try {
    await opts.store.put(uploadKey(id), body.pipe(limit), m.contentType);
    if (limit.count !== declared) throw fail("MEDIA_SIZE_MISMATCH", "byteSize", `received ${limit.count} bytes`);
  } catch (err) {
    await opts.store.delete([uploadKey(id)]);
    throw err;
  }
}

/**
 * The one range a `Range: bytes=…` header asks of `size` bytes (`a-b`, `a-`, `-n`); undefined means
 * the whole blob (no header, another unit, several ranges: RFC 9110 lets a server ignore Range),
 * "unsatisfiable" a range that starts past the end (416).
 */
export function byteRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  const [first, last] = [m[1] as string, m[2] as string];
  if (first === "") {
    const n = Math.min(Number(last), size);
    return n === 0 ? "unsatisfiable" : { start: size - n, end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return end < start ? undefined : { start, end };
}

/** The Cache-Control of a served key, or the error that refuses it (an unsigned or badly signed private key). */
function access(store: FsBlobStore, key: string, query: Record<string, string | undefined>): string | NovaError {
  if (SERVED_KEY.test(key)) return "public, max-age=31536000, immutable";
  const archive = EXPORT_KEY.test(key);
  if (!PRIVATE_KEY.test(key) && !archive) return fail("NOT_FOUND", "key", "no such file");
  const { expires = "", signature = "" } = query;
  if (!store.verifySigned(key, expires, signature)) {
    return archive
      ? fail("FORBIDDEN", "signature", "a data export is readable only through its signed, unexpired link")
      : fail("FORBIDDEN", "signature", "a message's media is readable only through its members' signed URLs");
  }
  if (archive) return "private, no-store";
  return `private, max-age=${Math.max(0, Number(expires) - Math.floor(Date.now() / 1000))}`;
}

async function serve(store: FsBlobStore, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const key = (req.params as { "*": string })["*"];
  const cacheControl = access(store, key, req.query as Record<string, string | undefined>);
  if (cacheControl instanceof NovaError) return sendError(reply, cacheControl);
  const head = await store.head(key);
  if (!head) return sendError(reply, fail("NOT_FOUND", "key", "no such file"));
  reply
    .header("cache-control", cacheControl)
    .header("cross-origin-resource-policy", "cross-origin")
    .header("x-content-type-options", "nosniff");
  if (head.etag) reply.header("etag", head.etag);
  const match = req.headers["if-none-match"];
  if (head.etag && match?.split(",").some((t) => t.trim() === head.etag || t.trim() === "*")) {
    return reply.code(304).send();
  }
  reply.header("accept-ranges", "bytes").header("content-type", head.contentType ?? "application/octet-stream");
  if (EXPORT_KEY.test(key)) reply.header("content-disposition", `attachment; filename="nova-export.zip"`);
  const range = byteRange(req.headers.range, head.size);
  if (range === "unsatisfiable") return reply.code(416).header("content-range", `bytes */${head.size}`).send();
  const stream = await store.stream(key, range);
  if (!stream) return sendError(reply, fail("NOT_FOUND", "key", "no such file"));
  if (!range) return reply.header("content-length", String(head.size)).send(stream);
  return reply
    .code(206)
    .header("content-range", `bytes ${range.start}-${range.end}/${head.size}`)
    .header("content-length", String(range.end - range.start + 1))
    .send(stream);
}

export async function registerMediaRoutes(app: FastifyInstance, opts: MediaRoutesOptions): Promise<void> {
  await app.register(async (scope) => {
    // The body is the upload's stream, whatever its type: receive() checks the type and counts the bytes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    scope.put(`${UPLOAD_PATH}/:id`, { bodyLimit: opts.maxBytes }, async (req, reply) => {
      try {
        await receive(opts, req, req.body as NodeJS.ReadableStream);
        return reply.code(204).send();
      } catch (err) {
        return sendError(reply, err);
      }
    });
  });
  app.get(`${MEDIA_PATH}/*`, (req, reply) => serve(opts.store, req, reply));
}
