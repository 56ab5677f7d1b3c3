/** The media service's blob keys (the store never parses them; the gateway serves only SERVED_KEY and PRIVATE_KEY). */

/** The raw bytes as uploaded (never served; deleted once processed or rejected). */
export const uploadKey = (id: string) => `${id}/upload`;
/** The extension of each variant type (the fs store takes the served content type from it). */
const EXTENSIONS: Record<string, string> = { "image/webp": "webp", "video/mp4": "mp4", "video/webm": "webm" };
/**
 * A processed variant (served with long cache lifetimes: a key is never rewritten with other bytes).
 * Media uploaded for messages keeps its variants under `<id>/private/`, which nothing serves without
 * a signature (the gateway's route; a CDN in front of the bucket must not serve `private/` either).
 */
export const variantKey = (id: string, name: string, opts: { contentType?: string; isPrivate?: boolean } = {}) =>
  `${id}/${opts.isPrivate ? "private/" : ""}${name}.${EXTENSIONS[opts.contentType ?? "image/webp"] ?? "bin"}`;
const ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const NAME = "((w320|w640|w1080|original)\\.webp|video\\.(mp4|webm))";
/** The names a public served key may have: a variant of a media id, never the raw upload. */
export const SERVED_KEY = new RegExp(`^${ID}/${NAME}$`);
/** A variant of private (message) media: served only with a valid signature. */
export const PRIVATE_KEY = new RegExp(`^${ID}/private/${NAME}$`);
/** The media id a key is under (every key of the media service starts with it), or undefined. */
export const mediaIdOf = (key: string) => new RegExp(`^(${ID})/`).exec(key)?.[1];
