/** The media service's blob keys (the store never parses them; the gateway serves only SERVED_KEY). */

/** The raw bytes as uploaded (never served; deleted once processed or rejected). */
export const uploadKey = (id: string) => `${id}/upload`;
/** The extension of each variant type (the fs store takes the served content type from it). */
const EXTENSIONS: Record<string, string> = { "image/webp": "webp", "video/mp4": "mp4", "video/webm": "webm" };
/** A processed variant (served with long cache lifetimes: a key is never rewritten with other bytes). */
export const variantKey = (id: string, name: string, contentType = "image/webp") =>
  `${id}/${name}.${EXTENSIONS[contentType] ?? "bin"}`;
/** The names a served key may have: a variant of a media id, never the raw upload. */
export const SERVED_KEY =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/((w320|w640|w1080|original)\.webp|video\.(mp4|webm))$/;
