/**
 * Short video through ffmpeg (Debian's `ffmpeg` package: ffprobe and ffmpeg as child processes).
 * MP4, QuickTime and WebM are taken, checked from the bytes (file-type, then ffprobe), never from
 * a name or a header; at most MEDIA_VIDEO_MAX_S seconds and MEDIA_VIDEO_MAX_BYTES.
 *
 * The streams are remuxed, not re-encoded: every piece of container and stream metadata (titles,
 * GPS `location`, device names, chapters) is dropped and MP4 gets its index first (faststart), but
 * the pictures are copied as they are. Re-encoding a 60-second 1080p clip costs about a minute of
 * both cores of a small server; a remux costs milliseconds. The price is that only codecs browsers
 * play are taken (H.264, VP8, VP9, AV1; AAC, MP3, Opus, Vorbis): an HEVC clip is refused with a
 * code, as a HEIC photo is. The poster is one frame (at 1 s, or a third of a shorter clip),
 * auto-rotated by ffmpeg, and goes through the image pipeline, so a video has the same w320..original
 * variants and blurhash as a photo, plus the `video` variant.
 *
 * Images without ffmpeg (the distroless runtime) run with video off: createUpload answers
 * MEDIA_VIDEO_UNAVAILABLE naming `kind` (deploy/README.md: the media target's image has ffmpeg).
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileTypeFromBuffer } from "file-type";
import { NovaError } from "../../platform/errors.ts";
import { type MediaLimits, type OutputVariant, type Processed, processImage, type VideoLimits } from "./process.ts";

const run = promisify(execFile);

export const VIDEO_TYPES = ["video/mp4", "video/quicktime", "video/webm"] as const;
export type VideoType = (typeof VIDEO_TYPES)[number];
const VIDEO_CODECS = new Set(["h264", "vp8", "vp9", "av1"]);
const AUDIO_CODECS = new Set(["aac", "mp3", "opus", "vorbis"]);

export interface Probed {
  contentType: VideoType;
  /** As shown (a 90° rotation swaps the stored width and height). */
  width: number;
  height: number;
  durationMs: number;
}

const fail = (code: ConstructorParameters<typeof NovaError>[0], field: string, detail?: string) =>
  new NovaError(code, detail ? `${field}: ${detail}` : undefined, { field });

export const isVideoType = (t: string): t is VideoType => (VIDEO_TYPES as readonly string[]).includes(t);

/**
 * The video settings when ffmpeg and ffprobe both run here, else undefined (video off). Checked
 * once, at start, by running each with -version.
 */
export function videoTools(
  config: { MEDIA_FFMPEG: string; MEDIA_FFPROBE: string },
  limits: { maxBytes: number; maxSeconds: number },
): VideoLimits | undefined {
  const works = (bin: string) => spawnSync(bin, ["-version"], { stdio: "ignore", timeout: 10_000 }).status === 0;
  if (!works(config.MEDIA_FFMPEG) || !works(config.MEDIA_FFPROBE)) return undefined;
  return { ...limits, ffmpeg: config.MEDIA_FFMPEG, ffprobe: config.MEDIA_FFPROBE };
}

/** Refuses a declared video type Nova does not take, or video when it is off (field `kind`). */
export function checkDeclaredVideo(contentType: string, video: VideoLimits | undefined): VideoType {
  if (!video) throw fail("MEDIA_VIDEO_UNAVAILABLE", "kind");
  const t = contentType.trim().toLowerCase();
  if (!isVideoType(t)) throw fail("MEDIA_TYPE_UNSUPPORTED", "contentType", `${contentType} is not a video Nova takes`);
  return t;
}

/** The bytes in a private temporary folder for ffmpeg (MP4's index may be at the end: no pipe). */
async function withFile<T>(bytes: Buffer, fn: (path: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "nova-video-"));
  try {
    const path = join(dir, "in");
    await writeFile(path, bytes, { mode: 0o600 });
    return await fn(path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ProbeJson {
  format?: { format_name?: string; duration?: string };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    disposition?: { attached_pic?: number };
    side_data_list?: { rotation?: number }[];
  }[];
}

/** Everything that can be learnt without decoding: type, streams, codecs, size, duration. */
export async function probeVideo(bytes: Buffer, declared: string, limits: MediaLimits): Promise<Probed> {
  const video = limits.video;
  if (!video) throw fail("MEDIA_VIDEO_UNAVAILABLE", "kind");
  if (bytes.length === 0) throw fail("MEDIA_EMPTY", "file");
  if (bytes.length > video.maxBytes) throw fail("MEDIA_TOO_LARGE", "file");
  const found = await fileTypeFromBuffer(bytes);
  if (!found || !isVideoType(found.mime)) {
    throw fail("MEDIA_TYPE_UNSUPPORTED", "file", `the bytes are ${found ? found.mime : "not a video Nova takes"}`);
  }
  if (found.mime !== declared) {
    throw fail("MEDIA_TYPE_MISMATCH", "contentType", `declared ${declared} but the bytes are ${found.mime}`);
  }
  const info = await withFile(bytes, async (path) => {
    try {
      const args = ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path];
      const { stdout } = await run(video.ffprobe, args, { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 });
      return JSON.parse(stdout) as ProbeJson;
    } catch {
      throw fail("MEDIA_CORRUPT", "file", "the video cannot be read");
    }
  });
  return checkProbe(info, found.mime, limits, video);
}

function checkProbe(info: ProbeJson, contentType: VideoType, limits: MediaLimits, video: VideoLimits): Probed {
  const streams = info.streams ?? [];
  const pictures = streams.filter((s) => s.codec_type === "video" && !s.disposition?.attached_pic);
  const first = pictures[0];
  if (!first) throw fail("MEDIA_TYPE_UNSUPPORTED", "file", "the file has no video stream");
  if (!VIDEO_CODECS.has(first.codec_name ?? "")) {
    throw fail("MEDIA_TYPE_UNSUPPORTED", "file", `the video codec ${first.codec_name} is not one browsers play`);
  }
  const audio = streams.find((s) => s.codec_type === "audio");
  if (audio && !AUDIO_CODECS.has(audio.codec_name ?? "")) {
    throw fail("MEDIA_TYPE_UNSUPPORTED", "file", `the audio codec ${audio.codec_name} is not one browsers play`);
  }
  const seconds = Number(info.format?.duration);
  if (!Number.isFinite(seconds) || seconds <= 0) throw fail("MEDIA_CORRUPT", "file", "the video has no duration");
  if (seconds > video.maxSeconds) {
    throw fail("MEDIA_TOO_LONG", "file", `${seconds.toFixed(1)} s is over ${video.maxSeconds} s`);
  }
  const [w, h] = [first.width ?? 0, first.height ?? 0];
  if (w <= 0 || h <= 0) throw fail("MEDIA_CORRUPT", "file", "the video has no size");
  if (w * h > limits.maxPixels) throw fail("MEDIA_TOO_MANY_PIXELS", "file", `${w}×${h} is over the limit`);
  const quarter = Math.abs(first.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0) % 180 === 90;
  return { contentType, width: quarter ? h : w, height: quarter ? w : h, durationMs: Math.round(seconds * 1000) };
}

/** The output container of each input type (QuickTime's H.264/AAC go into MP4 as they are). */
const CONTAINER: Record<VideoType, { format: string; contentType: "video/mp4" | "video/webm"; extra: string[] }> = {
  "video/mp4": { format: "mp4", contentType: "video/mp4", extra: ["-movflags", "+faststart"] },
  "video/quicktime": { format: "mp4", contentType: "video/mp4", extra: ["-movflags", "+faststart"] },
  "video/webm": { format: "webm", contentType: "video/webm", extra: [] },
};

/**
 * Probes, remuxes without metadata (a damaged packet fails it: -xerror), takes the poster frame and
 * makes its image variants. A failure of ffmpeg on a file ffprobe read is MEDIA_CORRUPT.
 */
export async function processVideo(bytes: Buffer, declared: string, limits: MediaLimits): Promise<Processed> {
  const probed = await probeVideo(bytes, declared, limits);
  const video = limits.video as VideoLimits;
  const out = CONTAINER[probed.contentType];
  const { stream, poster } = await withFile(bytes, async (path, dir) => {
    const target = join(dir, `out.${out.format}`);
    const strip = ["-map_metadata", "-1", "-map_metadata:s:v", "-1", "-map_metadata:s:a", "-1", "-map_chapters", "-1"];
    const exact = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"];
    const at = Math.min(1, probed.durationMs / 3000).toFixed(3);
    try {
      await run(
        video.ffmpeg,
        ["-v", "error", "-xerror", "-i", path, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy"].concat(
          strip,
          exact,
          out.extra,
          ["-f", out.format, "-y", target],
        ),
        { timeout: 120_000 },
      );
      const frame = await run(
        video.ffmpeg,
        ["-v", "error", "-ss", at, "-i", target, "-frames:v", "1", "-c:v", "png", "-f", "image2pipe", "pipe:1"],
        { timeout: 60_000, encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
      );
      return { stream: await readFile(target), poster: frame.stdout };
    } catch {
      throw fail("MEDIA_CORRUPT", "file", "the video cannot be decoded");
    }
  });
  if (poster.length === 0) throw fail("MEDIA_CORRUPT", "file", "the video has no frame to show");
  // The poster is ours, not the uploader's: the image size limit does not apply to it, the pixel limit does.
  const image = await processImage(poster, "image/png", {
    ...limits,
    maxBytes: Math.max(limits.maxBytes, poster.length),
  });
  const clip: OutputVariant = {
    name: "video",
    width: image.width,
    height: image.height,
    contentType: out.contentType,
    bytes: stream,
  };
  return { ...image, animated: false, durationMs: probed.durationMs, variants: [...image.variants, clip] };
}
