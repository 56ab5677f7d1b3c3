/**
 * Input rules of the search service. Every validator returns the normalized
 * value or throws a VALIDATION_FAILED error that names the field; nothing a
 * client sends reaches SQL except as a bound parameter, and query text only
 * through websearch_to_tsquery (which has no syntax errors) or escaped LIKE
 * patterns.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { invalid } from "../../platform/errors.ts";
import {
  decodeCursor as decodePosition,
  encodeCursor as encodePosition,
  type PageSize,
} from "../../platform/paging.ts";
import { isUuid, text } from "../../platform/validate.ts";

export const LIMITS = {
  queryMax: 200,
} as const;

/** Page sizes: results (users, posts, hashtags, a hashtag's posts), suggestions, trending hashtags. */
export const PAGES = {
  results: { max: 50, dflt: 20 },
  suggestions: { max: 20, dflt: 8 },
  trending: { max: 50, dflt: 10 },
} as const satisfies Record<string, PageSize>;

/** A query: 1 to 200 characters of well-formed text without control characters, NFC, trimmed. */
export function validateQuery(field: string, value: string): string {
  return text(field, value, { max: LIMITS.queryMax });
}

const HASHTAG = /^[\p{L}\p{N}_]{1,64}$/u;

/** A hashtag as content stores it: without '#', NFKC, lower-cased. */
export function validateTag(field: string, value: string): string {
  const v = validateQuery(field, value).replace(/^#/, "").normalize("NFKC").toLowerCase();
  if (!HASHTAG.test(v)) throw invalid(field, "must be a hashtag (letters, digits and _, at most 64)");
  return v;
}

/** Search configurations by ISO 639-1 code (PostgreSQL's built-in snowball stemmers). */
export const LANGUAGES: Readonly<Record<string, string>> = {
  ar: "arabic",
  hy: "armenian",
  eu: "basque",
  ca: "catalan",
  da: "danish",
  nl: "dutch",
  en: "english",
  et: "estonian",
  fi: "finnish",
  fr: "french",
  de: "german",
  el: "greek",
  hi: "hindi",
  hu: "hungarian",
  id: "indonesian",
  ga: "irish",
  it: "italian",
  lt: "lithuanian",
  ne: "nepali",
  no: "norwegian",
  nb: "norwegian",
  nn: "norwegian",
  pt: "portuguese",
  ro: "romanian",
  ru: "russian",
  sr: "serbian",
  es: "spanish",
  sv: "swedish",
  ta: "tamil",
  tr: "turkish",
  yi: "yiddish",
};

/** The text search configuration of an ISO 639-1 code; empty means `dflt`. */
export function validateLanguage(field: string, code: string, dflt: string): string {
  const c = code.trim().toLowerCase();
  if (c === "") return dflt;
  const cfg = LANGUAGES[c];
  if (!cfg)
    throw invalid(field, `must be an ISO 639-1 code of a supported language (${Object.keys(LANGUAGES).join(", ")})`);
  return cfg;
}

/** LIKE pattern matching strings that start with `s` (its wildcards escaped; ESCAPE '\'). */
export function prefixPattern(s: string): string {
  return `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Cursors (platform/paging.ts) whose position is a JSON array [fingerprint,
 * ...position]. The fingerprint binds a cursor to the search it came from, so
 * a cursor of another query is refused instead of silently skipping results.
 */
export function fingerprint(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("base64url").slice(0, 10);
}

export function encodeCursor(fp: string, position: unknown[]): string {
  return encodePosition(JSON.stringify([fp, ...position]));
}

export function decodeCursor<T extends z.ZodTypeAny>(cursor: string, fp: string, position: T): z.infer<T> | undefined {
  let found: z.infer<T> | undefined;
  const rule = {
    problem: "is not a cursor from this search",
    test(text: string) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        return false;
      }
      const r = Array.isArray(raw) && raw[0] === fp ? position.safeParse(raw.slice(1)) : undefined;
      found = r?.success ? r.data : undefined;
      return r?.success === true;
    },
  };
  return decodePosition(cursor, rule) === undefined ? undefined : found;
}

export const uuid = z.string().refine(isUuid);
export const finite = z.number().finite();
export const isoTime = z.iso.datetime({ offset: true });
