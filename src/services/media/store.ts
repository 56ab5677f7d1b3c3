/**
 * Which BlobStore holds the media: THE one place that chooses. The media module stores through
 * it, and the gateway (which takes uploads and serves files only for a store that cannot do that
 * itself) asks it too, so both always agree.
 */
import { randomBytes } from "node:crypto";
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
  return fsStore({ root: mediaDir(config), publicPath: MEDIA_PATH, signingKey: FS_SIGNING_KEY });
}

/**
 * The key of the fs store's signed URLs (message media), shared by the media module's store and the
 * gateway's in this process: the fs store runs in one process only (media refuses to start on it in
 * distributed mode), and its signed URLs live minutes, so a key made at start is enough (a restart
 * only makes clients fetch the messages again).
 */
const FS_SIGNING_KEY = randomBytes(32);
