/**
 * Which BlobStore holds the media: THE one place that chooses. The media module stores through
 * it, and the gateway (which takes uploads and serves files only for a store that cannot do that
 * itself) asks it too, so both always agree.
 */
import { join } from "node:path";
import type { Config } from "../../runtime/config.ts";
import type { BlobStore } from "./blobs.ts";
import { fsStore } from "./fs.ts";

/** The gateway's routes for the fs store: uploads are PUT to `<UPLOAD_PATH>/<id>`, files served under MEDIA_PATH. */
export const MEDIA_PATH = "/media";
export const UPLOAD_PATH = "/media/upload";

/** The folder of the fs store: `<NOVA_DATA_DIR>/media/`. */
export const mediaDir = (config: Pick<Config, "dataDir">) => join(config.dataDir, "media");

export function openMediaStore(config: Config): BlobStore {
  // ---- S3: when the S3 settings are present, the S3-compatible store (s3.ts) is chosen HERE, in
  // distributed mode and in embedded mode alike; the gateway then registers no media routes
  // (uploads go straight to the store with a presigned PUT, reads to its public base URL).
  // The lead wires `s3Store(...)` in at merge; until then every configuration uses the folder.
  return fsStore({ root: mediaDir(config), publicPath: MEDIA_PATH });
}
