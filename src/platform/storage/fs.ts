/**
 * The BlobStore over a folder (embedded mode: `<NOVA_DATA_DIR>/media/`). Writes go to a temporary
 * file in the same folder and are renamed into place, so a reader never sees half a blob and a crash
 * leaves at most a `.tmp-*` file (never listed). Keys are validated before they touch a path: one or
 * more segments of [A-Za-z0-9._-] separated by "/", none of them "." or "..", so no key can name a
 * file outside the folder. No metadata is kept beside the bytes: the content type comes from the
 * key's extension (the media service's keys say what they hold). Direct uploads are not possible
 * (the gateway takes them on its upload route); read URLs are the gateway's media route.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore } from "./blobs.ts";

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** True when `key` is a key this store accepts (see the header). */
export function validKey(key: string): boolean {
  if (key.length === 0 || key.length > 512) return false;
  return key.split("/").every((s) => SEGMENT.test(s) && s !== "." && s !== ".." && !s.startsWith(".tmp-"));
}

function checkKey(key: string): string {
  if (!validKey(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
  return key;
}

const TYPES: Record<string, string> = {
  webp: "image/webp",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  avif: "image/avif",
  mp4: "video/mp4",
  webm: "video/webm",
  zip: "application/zip",
};

/** The content type a key's extension says (the fs store keeps no metadata besides the bytes). */
function typeOf(key: string): string {
  const ext = /\.([a-z0-9]+)$/.exec(key)?.[1];
  return (ext && TYPES[ext]) || "application/octet-stream";
}

export interface FsStoreOptions {
  /** The folder (created when missing). */
  root: string;
  /** Where the gateway serves the blobs: readUrl is `<publicPath>/<key>`. */
  publicPath?: string;
  /**
   * The HMAC key of signed URLs (signedUrl, checked by `verifySigned`): the stores of the media
   * module and of the gateway must share it (one process: store.ts holds one). Default: random.
   */
  signingKey?: Buffer;
}

/** The fs store, with the check of its signed URLs (the gateway's media route). */
export interface FsBlobStore extends BlobStore {
  readonly kind: "fs";
  /** True when `signature` is this store's for `key` until `expires` (unix seconds) and that is not past. */
  verifySigned(key: string, expires: string, signature: string): boolean;
}

export function fsStore(opts: FsStoreOptions): FsBlobStore {
  const root = opts.root;
  const signingKey = opts.signingKey ?? randomBytes(32);
  const sign = (key: string, expires: string) =>
    createHmac("sha256", signingKey).update(`${key}\n${expires}`).digest("base64url");
  const publicPath = (opts.publicPath ?? "/media").replace(/\/$/, "");
  const pathOf = (key: string) => join(root, ...checkKey(key).split("/"));

  async function put(key: string, body: Buffer | Readable, _contentType: string): Promise<void> {
    const target = pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(dirname(target), `.tmp-${randomUUID()}`);
    try {
      if (Buffer.isBuffer(body)) {
        const file = await open(tmp, "wx", 0o644);
        try {
          await file.writeFile(body);
          await file.sync();
        } finally {
          await file.close();
        }
      } else {
        // `flush`: the stream fsyncs the file before it closes, as sync() does above.
        await pipeline(body, createWriteStream(tmp, { flags: "wx", mode: 0o644, flush: true }));
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async function* walk(dir: string): AsyncIterable<string> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith(".tmp-")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) yield* walk(p);
      else if (e.isFile()) yield relative(root, p).split(sep).join("/");
    }
  }

  return {
    kind: "fs",
    async directUpload() {
      return undefined;
    },
    put,
    async get(key) {
      try {
        return await readFile(pathOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
    async stream(key, range) {
      const p = pathOf(key);
      try {
        await stat(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      return createReadStream(p, range) as Readable;
    },
    async head(key): Promise<BlobInfo | undefined> {
      try {
        const s = await stat(pathOf(key));
        if (!s.isFile()) return undefined;
        // Blobs are written once under a fresh key: size and mtime identify the bytes.
        const etag = `"${createHash("sha1").update(`${key}:${s.size}:${s.mtimeMs}`).digest("base64url")}"`;
        return { size: s.size, contentType: typeOf(key), etag };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
    async delete(keys) {
      for (const key of keys) await rm(pathOf(key), { force: true });
    },
    async *list(prefix) {
      for await (const key of walk(root)) if (key.startsWith(prefix)) yield key;
    },
    async readUrl(key) {
      return `${publicPath}/${checkKey(key)}`;
    },
    async signedUrl(key, expiresInS) {
      const expires = String(Math.floor(Date.now() / 1000) + Math.max(1, Math.ceil(expiresInS)));
      return `${publicPath}/${checkKey(key)}?expires=${expires}&signature=${sign(key, expires)}`;
    },
    verifySigned(key, expires, signature) {
      if (!/^\d{1,12}$/.test(expires) || Number(expires) < Date.now() / 1000) return false;
      const want = Buffer.from(sign(key, expires));
      const got = Buffer.from(signature);
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}
