/**
 * The one validator of input text and ids (ARCHITECTURE §2: "ids, text rules
 * (one validator)"). Every rule returns the normalized value or throws
 * VALIDATION_FAILED naming the field.
 *
 * Text, in two layers:
 * - `wellFormed`: what no Nova input accepts at all, whatever the field
 *   (identifiers, passwords, tokens, ids): NUL (PostgreSQL text cannot hold
 *   it) and a lone UTF-16 surrogate (not Unicode; jsonb refuses its escape
 *   and UTF-8 encoding silently turns it into U+FFFD). The gateway applies it
 *   to every string input; the services apply it to the RPC inputs they use,
 *   since they can be called directly over gRPC.
 * - `text`: human text (posts, comments, messages, profiles, queries):
 *   well-formed, optionally NFC, trimmed, bounded in code points, without
 *   control characters (one line, or several lines with tabs).
 *
 * Ids: `uuid` (an id input: trimmed, lower-cased, a UUID), `uuids` (a batch
 * of them, each named by its index), `isUuid` (the test alone, for ids in
 * events and cursors) and `uuidv7`, the ids Nova makes.
 */
import { randomBytes } from "node:crypto";
import { invalid } from "./errors.ts";

// A UTF-16 surrogate without its pair (String.prototype.isWellFormed is ES2024; the typings here are ES2023).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// One line: every control character (C0 with tab and newline, DEL, C1) and the line/paragraph separators.
const CONTROL_LINE = /[\p{Cc}\u2028\u2029]/u;
// Several lines: the same, but tab and newline are text.
const CONTROL_LINES = /(?![\t\n])[\p{Cc}\u2028\u2029]/u;

/** Length as people count it: code points, not UTF-16 units. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Why no input may carry this string, or undefined when it is well-formed text without NUL. */
export function textProblem(value: string): string | undefined {
  if (value.includes("\u0000")) return "must not contain control characters (U+0000 NUL)";
  if (LONE_SURROGATE.test(value)) return "must be valid Unicode text (it has a lone UTF-16 surrogate)";
  return undefined;
}

/** The rule every string input obeys: well-formed UTF-16 without NUL. Returns the value unchanged. */
export function wellFormed(field: string, value: string): string {
  const problem = textProblem(value);
  if (problem) throw invalid(field, problem);
  return value;
}

export interface TextRule {
  /** At most this many code points, after normalizing and trimming. */
  readonly max: number;
  /** Tabs and newlines are text (CRLF and CR become LF); otherwise the text is one line. */
  readonly multiline?: boolean;
  /** "" (after trimming) is accepted; otherwise it is refused as "is required". */
  readonly optional?: boolean;
  /** Normalize to NFC (the default). */
  readonly nfc?: boolean;
}

/** Human text: well-formed, NFC (unless told), trimmed, 1 to `max` code points, no control characters. */
export function text(field: string, value: string, rule: TextRule): string {
  // Bound the work before normalizing: NFC never shrinks text to under a quarter.
  if (value.length > rule.max * 4) throw invalid(field, `must be at most ${rule.max} characters`);
  wellFormed(field, value);
  let v = rule.nfc === false ? value : value.normalize("NFC");
  if (rule.multiline) v = v.replace(/\r\n?/g, "\n");
  v = v.trim();
  if (!rule.optional && v === "") throw invalid(field, "is required");
  if (codePoints(v) > rule.max) throw invalid(field, `must be at most ${rule.max} characters`);
  if ((rule.multiline ? CONTROL_LINES : CONTROL_LINE).test(v)) {
    throw invalid(field, "must not contain control characters");
  }
  return v;
}

// A UUID as Nova writes it: lower-case hex in groups of 8-4-4-4-12 (any version).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a UUID in Nova's form (lower case); ids in events are checked with this. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** An id input: a UUID, trimmed and lower-cased; anything else is refused as "must be `noun` (UUID)". */
export function uuid(field: string, value: string, noun = "an id"): string {
  const v = value.trim().toLowerCase();
  if (!isUuid(v)) throw invalid(field, `must be ${noun} (UUID)`);
  return v;
}

/** At most `max` ids, in their order; a bad one is named by its index (`postIds[3]`). */
export function uuids(field: string, values: readonly string[], max: number, noun = "an id"): string[] {
  if (values.length > max) throw invalid(field, `must have at most ${max} ids`);
  return values.map((v, i) => uuid(`${field}[${i}]`, v, noun));
}

let lastMs = 0;
let seq = 0;

/** UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits; sortable by creation time. */
export function uuidv7(now = Date.now()): string {
  const b = randomBytes(16);
  // Monotonic within one process: same ms -> bump a 12-bit counter in rand_a.
  if (now <= lastMs) {
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs++;
    now = lastMs;
  } else {
    lastMs = now;
    seq = b.readUInt16BE(6) & 0x7ff;
  }
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((seq >> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** An uploaded media item of a post or a message: the media service's id and its text alternative. */
export interface AttachmentInput {
  mediaId: string;
  alt: string;
}

/** How many media a post or a message carries, and how long an alt text is (posts and messages alike). */
export const ATTACHMENT_LIMITS = { max: 10, altMax: 1_500 } as const;

/**
 * `attachments`: at most 10 distinct media ids, each with an alt text of at most 1,500 characters
 * (may be empty); `container` names what they are in ("post", "message") in the duplicate's error.
 */
export function attachments(items: readonly AttachmentInput[], container: string): AttachmentInput[] {
  const { max, altMax } = ATTACHMENT_LIMITS;
  if (items.length > max) throw invalid("attachments", `must have at most ${max} items`);
  const seen = new Set<string>();
  return items.map((a, i) => {
    const f = `attachments[${i}]`;
    const mediaId = uuid(`${f}.mediaId`, a.mediaId, "a media id");
    if (seen.has(mediaId)) throw invalid(`${f}.mediaId`, `is already in this ${container}`);
    seen.add(mediaId);
    const alt = text(`${f}.alt`, a.alt, { max: altMax, multiline: true, optional: true });
    return { mediaId, alt };
  });
}
