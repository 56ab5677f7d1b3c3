/**
 * Which BlobStore holds the media: THE one place that chooses. The media module stores through
 * it, and the gateway (which takes uploads and serves files only for a store that cannot do that
 * itself) asks it too, so both always agree.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FsBlobStore, fsStore } from "../../platform/storage/fs.ts";
import { type S3BlobStore, s3Store } from "../../platform/storage/s3.ts";
import type { Config } from "../../runtime/config.ts";

/** The gateway's routes for the fs store: uploads are PUT to `<UPLOAD_PATH>/<id>`, files served under MEDIA_PATH. */
export const MEDIA_PATH = "/media";
export const UPLOAD_PATH = "/media/upload";

/** The folder of the fs store: `<NOVA_DATA_DIR>/media/`. */
export const mediaDir = (config: Pick<Config, "dataDir">) => join(config.dataDir, "media");

/**
 * With S3 settings (S3_BUCKET), the S3-compatible store, in distributed and embedded mode alike:
 * the gateway then registers no media routes (uploads go straight to the store with a presigned
 * PUT, reads to MEDIA_PUBLIC_BASE_URL or presigned GETs). Without them, the folder.
 */
export function openMediaStore(config: Config): FsBlobStore | S3BlobStore {
  if (config.s3) return s3Store({ ...config.s3, publicBaseUrl: config.mediaPublicBaseUrl });
  return fsStore({ root: mediaDir(config), publicPath: MEDIA_PATH, signingKey: fsSigningKey(config) });
}

/** Where the fs store's URL-signing key is kept: `<NOVA_DATA_DIR>/secrets/media-url.key`. */
export const fsSigningKeyFile = (config: Pick<Config, "dataDir">) => join(config.dataDir, "secrets", "media-url.key");

/**
 * The key of the fs store's signed URLs (message media, data exports), shared by every store of
 * the data dir: the fs store runs in one process only (media refuses to start on it in distributed
 * mode). Made once and kept under the data dir (like identity's signing key), so a data export's
 * link, which lives 7 days, still works after a restart.
 */
function fsSigningKey(config: Pick<Config, "dataDir">): Buffer {
  const file = fsSigningKeyFile(config);
  if (!existsSync(file)) {
    mkdirSync(join(config.dataDir, "secrets"), { recursive: true, mode: 0o700 });
    // wx: two stores opening at once keep the first one's key.
    try {
      writeFileSync(file, randomBytes(32), { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return readFileSync(file);
}
