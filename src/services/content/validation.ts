/**
 * Input rules of the content service. Each validator returns the normalized
 * value or throws a VALIDATION_FAILED error that names the field.
 */
import { invalid } from "../../platform/errors.ts";
import { type AttachmentInput, attachments, text } from "../../platform/validate.ts";

export const LIMITS = {
  postTextMax: 2_000,
  commentTextMax: 1_000,
  mediaMax: 10,
  mediaUrlMax: 2_048,
  mediaDimensionMax: 16_384,
  altMax: 1_500,
  hashtagMax: 64,
  batchMax: 100,
  contentWarningMax: 200,
} as const;

export function validateText(field: string, value: string, max: number, allowEmpty = false): string {
  return text(field, value, { max, multiline: true, optional: allowEmpty });
}

/** A content warning: one line, at most 200 characters; "" is none. */
export function validateContentWarning(field: string, value: string): string {
  return text(field, value, { max: LIMITS.contentWarningMax, optional: true });
}

export interface MediaInput {
  url: string;
  mimeType: string;
  width: number;
  height: number;
}

export function validateMedia(media: MediaInput[]): MediaInput[] {
  if (media.length > LIMITS.mediaMax) throw invalid("media", `must have at most ${LIMITS.mediaMax} items`);
  return media.map((m, i) => {
    const f = `media[${i}]`;
    if (m.url.length > LIMITS.mediaUrlMax)
      throw invalid(`${f}.url`, `must be at most ${LIMITS.mediaUrlMax} characters`);
    let u: URL;
    try {
      u = new URL(m.url);
    } catch {
      throw invalid(`${f}.url`, "is not a valid URL");
    }
    if (u.protocol !== "https:") throw invalid(`${f}.url`, "must be an https URL");
    if (u.username || u.password) throw invalid(`${f}.url`, "must not contain credentials");
    const mime = m.mimeType.trim().toLowerCase();
    if (!/^(image|video)\/[a-z0-9.+-]{1,64}$/.test(mime))
      throw invalid(`${f}.mimeType`, "must be an image/* or video/* type");
    for (const d of ["width", "height"] as const) {
      if (!Number.isInteger(m[d]) || m[d] < 1 || m[d] > LIMITS.mediaDimensionMax) {
        throw invalid(`${f}.${d}`, `must be 1 to ${LIMITS.mediaDimensionMax}`);
      }
    }
    return { url: u.toString(), mimeType: mime, width: m.width, height: m.height };
  });
}

export type { AttachmentInput } from "../../platform/validate.ts";

/** At most 10 distinct media ids, each with an alt text of at most 1,500 characters (may be empty). */
export const validateAttachments = (items: readonly AttachmentInput[]) => attachments(items, "post");

const HASHTAG = /(^|[^\p{L}\p{N}_#])#([\p{L}\p{N}_]{1,64})/gu;
const MENTION = /(^|[^\p{L}\p{N}_@])@([A-Za-z0-9_]{3,30})\b/gu;

/** Hashtags: lower-cased, NFKC, without '#', unique, in order of first appearance. */
export function parseHashtags(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(HASHTAG)) out.add((m[2] as string).normalize("NFKC").toLowerCase());
  return [...out].slice(0, 30);
}

/** @usernames: lower-cased, unique, in order of first appearance. */
export function parseMentions(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(MENTION)) out.add((m[2] as string).toLowerCase());
  return [...out].slice(0, 20);
}
