/** The search service's settings, and what every RPC handler is built with. */
import type { Kysely } from "kysely";
import { LANGUAGES } from "./validation.ts";

export interface SearchOptions {
  /** ISO 639-1 code of the default language (posts without one, queries without one). */
  language: string;
  /** Minimum trigram (word) similarity of a fuzzy user or hashtag match, 0 to 1. */
  fuzzyThreshold: number;
  /** How many of the newest matching posts are ranked. */
  postCandidates: number;
  /**
   * How many of the newest posts a post search reads in time order (btree) looking for its candidates
   * before it takes every match from the full-text index instead (words in fewer than 1 post in
   * postRecentScan / postCandidates get there); 0: 16 times postCandidates.
   */
  postRecentScan: number;
  /** Half-life of a hashtag use in the trending score. */
  trendingHalfLifeHours: number;
}

export const SEARCH_DEFAULTS: SearchOptions = {
  language: "en",
  fuzzyThreshold: 0.3,
  postCandidates: 500,
  postRecentScan: 0,
  trendingHalfLifeHours: 6,
};

/** What the RPC handlers (rpc/) read: the replica, the options and the default text search configuration. */
export interface SearchContext {
  reader: Kysely<unknown>;
  options: SearchOptions;
  /** The text search configuration of options.language. */
  defaultConfig: string;
}

export function searchContext(reader: Kysely<unknown>, options?: Partial<SearchOptions>): SearchContext {
  const opt = { ...SEARCH_DEFAULTS, ...options };
  return { reader, options: opt, defaultConfig: LANGUAGES[opt.language] ?? "english" };
}

/**
 * A post's text search configuration: its language code (from the event) when it is a known one,
 * else the default's.
 */
export function postLanguageOf(defaultConfig: string): (code: string | undefined) => string {
  return (code) => (code !== undefined && LANGUAGES[code.toLowerCase()]) || defaultConfig;
}
