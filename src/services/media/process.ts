/**
 * Image checks and processing (sharp over libvips). The type is taken from the bytes only
 * (file-type), never from a name or a header; JPEG, PNG, WebP, AVIF and GIF are accepted, HEIC/HEIF
 * is refused with its own code (the prebuilt libvips cannot read it), SVG and everything else are
 * refused. `inspect` reads headers only (cheap: CompleteUpload runs it); `processImage` decodes with
 * sharp's pixel limit (decompression bombs), auto-orients, drops every piece of metadata (sharp writes
 * none unless asked: no EXIF, GPS, XMP, IPTC or ICC profile leaves here) and makes the variants: 320,
 * 640 and 1080 wide WebP (never upscaled) and the re-encoded original (WebP at full size; an animated
 * GIF stays animated). A small semaphore bounds how many images are decoded at once, so memory stays
 * bounded whatever the queue holds.
 */
import { encode } from "blurhash";
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";
import { NovaError } from "../../platform/errors.ts";

export const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/webp", "image/avif", "image/gif"] as const;
export type AcceptedType = (typeof ACCEPTED_TYPES)[number];
export const HEIC_TYPES = ["image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"];
export const VARIANT_WIDTHS = [320, 640, 1080] as const;

/** Short video's limits and the programs that process it (video.ts). */
export interface VideoLimits {
  maxBytes: number;
  maxSeconds: number;
  ffmpeg: string;
  ffprobe: string;
}

export interface MediaLimits {
  maxBytes: number;
  /** width × height (× frames, for animations) above which an image is refused. */
  maxPixels: number;
  /** Short video's limits and tools; undefined when video is off (no ffmpeg here: video.ts). */
  video?: VideoLimits;
}

export interface Inspected {
  contentType: AcceptedType;
  width: number;
  height: number;
  pages: number;
  /** The EXIF orientation (1 to 8; 1 when there is none). */
  orientation: number;
}

export interface OutputVariant {
  name: string;
  width: number;
  height: number;
  /** image/webp; a video's `video` variant is video/mp4 or video/webm. */
  contentType: string;
  bytes: Buffer;
}

export interface Processed {
  width: number;
  height: number;
  blurhash: string;
  animated: boolean;
  /** A video's length; undefined for an image. */
  durationMs?: number;
  variants: OutputVariant[];
}

const fail = (code: ConstructorParameters<typeof NovaError>[0], field: string, detail?: string) =>
  new NovaError(code, detail ? `${field}: ${detail}` : undefined, { field });

export const isAccepted = (t: string): t is AcceptedType => (ACCEPTED_TYPES as readonly string[]).includes(t);

/** Refuses a declared content type Nova does not take (field `contentType`). */
export function checkDeclaredType(contentType: string): AcceptedType {
  const t = contentType.trim().toLowerCase();
  if (HEIC_TYPES.includes(t)) throw fail("MEDIA_HEIC_UNSUPPORTED", "contentType");
  if (!isAccepted(t)) throw fail("MEDIA_TYPE_UNSUPPORTED", "contentType", `${contentType} is not accepted`);
  return t;
}

/** The type found in the bytes, checked against what was declared. */
export async function sniff(bytes: Buffer, declared: string): Promise<AcceptedType> {
  if (bytes.length === 0) throw fail("MEDIA_EMPTY", "file");
  const found = await fileTypeFromBuffer(bytes);
  if (found && HEIC_TYPES.includes(found.mime)) throw fail("MEDIA_HEIC_UNSUPPORTED", "file");
  if (!found || !isAccepted(found.mime)) {
    throw fail("MEDIA_TYPE_UNSUPPORTED", "file", `the bytes are ${found ? found.mime : "not an image Nova takes"}`);
  }
  if (found.mime !== declared) {
    throw fail("MEDIA_TYPE_MISMATCH", "contentType", `declared ${declared} but the bytes are ${found.mime}`);
  }
  return found.mime;
}

/**
 * The size (in bytes) of the image at the start of `b`, from its own structure, or undefined when
 * its end is missing (truncated). More bytes after that end means a second file rides along (a
 * polyglot: a JPEG that is also a ZIP, a PNG that is also HTML).
 */
export function imageEnd(b: Buffer, type: AcceptedType): number | undefined {
  switch (type) {
    case "image/jpeg":
      return jpegEnd(b);
    case "image/png": {
      const i = b.indexOf("IEND", 8, "latin1");
      return i < 0 ? undefined : i + 8;
    }
    case "image/webp":
      // RIFF: the chunk size after "RIFF" counts everything after its own 8 bytes.
      return b.length >= 12 ? b.readUInt32LE(4) + 8 : undefined;
    case "image/gif": {
      // The trailer byte; a GIF's blocks are not walked here (sharp decodes every frame anyway).
      return b[b.length - 1] === 0x3b ? b.length : undefined;
    }
    default:
      return b.length; // AVIF (ISO BMFF boxes): sharp's decoder is the check.
  }
}

/** Walks a JPEG's markers to the end of image (EOI), stepping over entropy-coded scans. */
function jpegEnd(b: Buffer): number | undefined {
  let i = 2;
  while (i + 1 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] as number;
    if (marker === 0xd9) return i + 2;
    if (marker === 0xff) {
      i += 1;
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (i + 3 >= b.length) return undefined;
    i += 2 + b.readUInt16BE(i + 2);
    if (marker === 0xda) {
      while (
        i + 1 < b.length &&
        !(b[i] === 0xff && b[i + 1] !== 0 && !((b[i + 1] as number) >= 0xd0 && (b[i + 1] as number) <= 0xd7))
      )
        i += 1;
    }
  }
  return undefined;
}

/** Everything that can be checked without decoding pixels: size, type, structure, dimensions. */
export async function inspect(bytes: Buffer, declared: string, limits: MediaLimits): Promise<Inspected> {
  if (bytes.length === 0) throw fail("MEDIA_EMPTY", "file");
  if (bytes.length > limits.maxBytes) throw fail("MEDIA_TOO_LARGE", "file");
  const contentType = await sniff(bytes, declared);
  const end = imageEnd(bytes, contentType);
  if (end === undefined || end > bytes.length) throw fail("MEDIA_CORRUPT", "file", "the image is truncated");
  if (bytes.subarray(end).some((x) => x !== 0)) {
    throw fail("MEDIA_CORRUPT", "file", "there are more bytes after the end of the image (a polyglot file)");
  }
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw fail("MEDIA_CORRUPT", "file", "the image header cannot be read");
  }
  const width = meta.width ?? 0;
  const pages = meta.pages ?? 1;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw fail("MEDIA_CORRUPT", "file", "the image has no size");
  if (width * height * pages > limits.maxPixels) {
    throw fail("MEDIA_TOO_MANY_PIXELS", "file", `${width}×${height}${pages > 1 ? `×${pages}` : ""} is over the limit`);
  }
  return { contentType, width, height, pages, orientation: meta.orientation ?? 1 };
}

/** A counting semaphore: at most `n` holders at once, the rest wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly size: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/**
 * WebP effort of the re-encoded original: at full size, effort 4 took three quarters of an image's
 * CPU (bench/media.ts) for no smaller file than effort 2 on photos; the widths keep effort 4 (cheap
 * at their size, and they are what feeds serve).
 */
const ORIGINAL_EFFORT = 2;

/**
 * Decodes, checks and re-encodes an image (inspect first); a decoding failure is MEDIA_CORRUPT.
 * Every output is its own pipeline, run at once: each decodes the file again, which for a JPEG is
 * the cheap part (shrink-on-load decodes the small widths at a fraction of the size; one shared
 * decode with clone() measured no less CPU), and one image then uses every core while the queue is
 * short, which is what the upload → READY latency needs.
 */
export async function processImage(bytes: Buffer, declared: string, limits: MediaLimits): Promise<Processed> {
  const info = await inspect(bytes, declared, limits);
  const animated = info.contentType === "image/gif" || info.contentType === "image/webp" ? info.pages > 1 : false;
  const open = (all: boolean) =>
    sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: "truncated", animated: all && animated }).rotate();
  try {
    // The width once oriented, from the header: EXIF orientations 5 to 8 turn the image a quarter.
    const orientedWidth = info.orientation >= 5 ? info.height : info.width;
    const widths = VARIANT_WIDTHS.filter((w) => w < orientedWidth);
    const [original, blurhash, ...sized] = await Promise.all([
      open(true).webp({ quality: 90, effort: ORIGINAL_EFFORT }).toBuffer({ resolveWithObject: true }),
      blurhashOf(open(false)),
      ...widths.map((w) =>
        open(true)
          .resize({ width: w, withoutEnlargement: true })
          .webp({ quality: 80, effort: 4 })
          .toBuffer({ resolveWithObject: true }),
      ),
    ]);
    const width = original.info.width;
    const height = animated ? (original.info.pageHeight ?? info.height) : original.info.height;
    const variants: OutputVariant[] = sized.map((out, i) => {
      const w = widths[i] as number;
      const h = animated ? (out.info.pageHeight ?? Math.round((height * w) / width)) : out.info.height;
      return { name: `w${w}`, width: out.info.width, height: h, contentType: "image/webp", bytes: out.data };
    });
    variants.push({ name: "original", width, height, contentType: "image/webp", bytes: original.data });
    return { width, height, animated, blurhash, variants };
  } catch (err) {
    if (err instanceof NovaError) throw err;
    const message = (err as Error).message ?? "";
    if (/pixel limit/i.test(message)) throw fail("MEDIA_TOO_MANY_PIXELS", "file");
    throw fail("MEDIA_CORRUPT", "file", "the image cannot be decoded");
  }
}

/** A 4×3-component blurhash of the (oriented, first-frame) image, from a 32-pixel thumbnail. */
async function blurhashOf(img: sharp.Sharp): Promise<string> {
  const { data, info } = await img
    .resize(32, 32, { fit: "inside" })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return encode(new Uint8ClampedArray(data), info.width, info.height, 4, 3);
}
