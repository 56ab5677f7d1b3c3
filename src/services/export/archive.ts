/**
 * The archive's bytes: a ZIP (fflate's streaming Zip) written straight into the media store as it
 * is made, never whole in memory: the JSON files deflated, each media file stored as it is (WebP
 * and video are compressed already). Layout: `<name>.json` per part, `media/<mediaId>.<ext>`, and a
 * README.txt saying what is where.
 */
import { PassThrough } from "node:stream";
import { Zip, ZipDeflate, ZipPassThrough } from "fflate";
import type { BlobStore } from "../../platform/storage/blobs.ts";
import { variantKey } from "../media/keys.ts";
import type { Gathered, MediaFile } from "./gather.ts";

const EXT: Record<string, string> = { "image/webp": "webp", "video/mp4": "mp4", "video/webm": "webm" };

const README = `Your Nova data, as it was when this archive was made.

profile.json    your account (with your email address)
posts.json      your posts, oldest first, with their media ids
comments.json   your comments
likes.json      the posts you liked, and when
following.json  who you follow
followers.json  who follows you
messages.json   your conversations and every message you can read in them (an end-to-end
                encrypted message is kept as its ciphertext, base64: only your devices can open it)
media/          the files you uploaded to your posts and messages, named by media id
`;

/** The archive's name for one media file. */
export function mediaName(m: MediaFile): string {
  return `media/${m.mediaId}.${EXT[m.variant.contentType] ?? "bin"}`;
}

/** Media's key of the file (the store is shared; media/keys.ts is the one place that names its keys). */
function mediaKey(m: MediaFile): string {
  return variantKey(m.mediaId, m.variant.name, {
    contentType: m.variant.contentType,
    isPrivate: m.purpose === "MESSAGE",
  });
}

/** Writes the archive of `data` at `key`; answers its size in bytes. */
export async function writeArchive(store: BlobStore, key: string, data: Gathered): Promise<number> {
  const out = new PassThrough();
  let size = 0;
  const zip = new Zip((err, chunk, final) => {
    if (err) {
      out.destroy(err);
      return;
    }
    size += chunk.length;
    out.write(chunk);
    if (final) out.end();
  });
  const stored = store.put(key, out, "application/zip");
  // A failed put would leave the zip writing into a stream nobody reads.
  stored.catch(() => out.destroy());
  const text = (name: string, value: string) => {
    const f = new ZipDeflate(name, { level: 6 });
    zip.add(f);
    f.push(new TextEncoder().encode(value), true);
  };
  text("README.txt", README);
  for (const [name, value] of Object.entries(data.json)) text(`${name}.json`, `${JSON.stringify(value, null, 2)}\n`);
  for (const m of data.media) {
    const bytes = await store.get(mediaKey(m));
    if (!bytes) continue; // deleted since (a purged post): nothing to give
    const f = new ZipPassThrough(mediaName(m));
    zip.add(f);
    f.push(bytes, true);
  }
  zip.end();
  await stored;
  return size;
}
