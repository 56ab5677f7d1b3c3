/** What the feed's handlers and consumers share: options, databases, the timeline store, the queries and two per-process memories. */
import type { Kysely } from "kysely";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { FeedQueries } from "./queries.ts";
import type { TimelineStore } from "./store.ts";

export interface FeedOptions {
  /** Authors with more followers are merged at read time instead of fanned out. */
  celebrityThreshold: number;
  /** Entries kept per timeline. */
  timelineSize: number;
  /** Followers idle this long are skipped by fan-out; their timeline is rebuilt when they return. */
  inactiveMs: number;
  /**
   * A viewer this process served within this long counts as active without asking the database,
   * and their last_seen_at is written at most this often.
   */
  activityRecheckMs: number;
}

export interface FeedDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  store: TimelineStore;
  options: FeedOptions;
  log: Logger;
}

export interface FeedContext extends FeedDeps {
  queries: FeedQueries;
  /** The celebrities a viewer follows and does not hide (reused for 30 s; a relationship event forgets both sides). */
  stars: LRUCache<string, string[]>;
  /** Viewers this process knows were active, and since when. */
  seen: ActivityMemory;
}

export function feedContext(deps: FeedDeps): FeedContext {
  return {
    ...deps,
    queries: new FeedQueries(deps.options),
    stars: new LRUCache<string, string[]>({ max: 50_000, ttl: 30_000 }),
    seen: new ActivityMemory(deps.options.activityRecheckMs),
  };
}

/**
 * When this process last knew each viewer active: within `recheckMs` of that they count as active
 * without asking the database, and their activity is not yet due to be recorded again.
 */
export class ActivityMemory {
  private readonly at = new Map<string, number>();

  constructor(private readonly recheckMs: number) {}

  fresh(viewer: string, now = Date.now()): boolean {
    return now - (this.at.get(viewer) ?? 0) < this.recheckMs;
  }

  remember(viewer: string, at = Date.now()): void {
    this.at.set(viewer, at);
    if (this.at.size > 100_000) this.at.clear();
  }
}
