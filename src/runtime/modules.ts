/**
 * THE topology of Nova (ARCHITECTURE §1): module name -> the modules it calls
 * -> what it serves -> how it starts. Targets are names in this table; `all`
 * is every module. Nothing else decides what runs where.
 */
import { ContentService } from "../gen/nova/content/v1/content_pb.ts";
import { ExportService } from "../gen/nova/export/v1/export_pb.ts";
import { FeedService } from "../gen/nova/feed/v1/feed_pb.ts";
import { GraphService } from "../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../gen/nova/identity/v1/identity_pb.ts";
import { MediaService } from "../gen/nova/media/v1/media_pb.ts";
import { MessagingService } from "../gen/nova/messaging/v1/messaging_pb.ts";
import { ModerationService } from "../gen/nova/moderation/v1/moderation_pb.ts";
import { NotificationService } from "../gen/nova/notifications/v1/notifications_pb.ts";
import { SearchService } from "../gen/nova/search/v1/search_pb.ts";
import { eventLog } from "../platform/events/sets.ts";
import type { ModuleDef } from "./module.ts";

export const modules = {
  identity: {
    deps: [],
    provides: [IdentityService],
    migrations: { schema: "identity", dir: new URL("../services/identity/migrations/", import.meta.url) },
    // nova.identity.account: its own account events, turned into mail (services/identity/mail.ts);
    // nova.moderation.action: suspensions and bans end sessions and refuse sign-in (restrictions.ts).
    consumes: ["nova.graph.relationship", "nova.identity.account", "nova.moderation.action"],
    init: async (ctx) => (await import("../services/identity/module.ts")).init(ctx),
  },
  graph: {
    deps: ["identity"],
    provides: [GraphService],
    migrations: { schema: "graph", dir: new URL("../services/graph/migrations/", import.meta.url) },
    // nova.identity.account: an erased account's relationships go (AccountErased; README "Account deletion").
    consumes: ["nova.identity.account"],
    init: async (ctx) => (await import("../services/graph/module.ts")).init(ctx),
  },
  content: {
    deps: ["identity", "graph", "media"],
    provides: [ContentService],
    migrations: { schema: "content", dir: new URL("../services/content/migrations/", import.meta.url) },
    consumes: ["nova.identity.account"],
    init: async (ctx) => (await import("../services/content/module.ts")).init(ctx),
  },
  // Uploads, their checks and processing into variants (a consumer of its own events), the blobs;
  // a purged post's media go with it (content's PostPurged).
  media: {
    deps: [],
    provides: [MediaService],
    migrations: { schema: "media", dir: new URL("../services/media/migrations/", import.meta.url) },
    consumes: ["nova.media.media", "nova.content.post", "nova.identity.account"],
    init: async (ctx) => (await import("../services/media/module.ts")).init(ctx),
  },
  feed: {
    deps: [],
    provides: [FeedService],
    migrations: { schema: "feed", dir: new URL("../services/feed/migrations/", import.meta.url) },
    consumes: ["nova.graph.relationship", "nova.content.post", "nova.identity.account"],
    init: async (ctx) => (await import("../services/feed/module.ts")).init(ctx),
  },
  messaging: {
    deps: ["identity", "graph", "media"],
    provides: [MessagingService],
    migrations: { schema: "messaging", dir: new URL("../services/messaging/migrations/", import.meta.url) },
    consumes: ["nova.identity.account"],
    init: async (ctx) => (await import("../services/messaging/module.ts")).init(ctx),
  },
  // Every service but realtime also consumes nova.identity.account for AccountErased: it erases what it
  // holds of the account (README "Account deletion").
  // Grouped notifications from the graph's, content's, messaging's and moderation's events; push tokens and delivery.
  notifications: {
    deps: [],
    provides: [NotificationService],
    migrations: { schema: "notifications", dir: new URL("../services/notifications/migrations/", import.meta.url) },
    consumes: [
      "nova.graph.relationship",
      "nova.content.post",
      "nova.messaging.conversation",
      "nova.moderation.action",
      "nova.notifications.notification",
      "nova.identity.account",
    ],
    init: async (ctx) => (await import("../services/notifications/module.ts")).init(ctx),
  },
  // Turns events into pushes on the bus, which the gateways' GraphQL subscriptions listen to.
  // Its schema holds only the platform's processed_events and dlq.
  realtime: {
    deps: [],
    migrations: { schema: "realtime", dir: new URL("../services/realtime/migrations/", import.meta.url) },
    consumes: [
      "nova.graph.relationship",
      "nova.content.post",
      "nova.messaging.conversation",
      "nova.notifications.notification",
    ],
    init: async (ctx) => (await import("../services/realtime/module.ts")).init(ctx),
  },
  // Read-only projection of users, posts, hashtags and blocks; rebuilt through the sources' scan RPCs.
  search: {
    deps: ["identity", "graph", "content"],
    provides: [SearchService],
    migrations: { schema: "search", dir: new URL("../services/search/migrations/", import.meta.url) },
    consumes: ["nova.identity.user", "nova.graph.relationship", "nova.content.post", "nova.identity.account"],
    init: async (ctx) => (await import("../services/search/module.ts")).init(ctx),
  },
  // Users' reports and the moderators' queue of them; what a report names is checked with its owner.
  moderation: {
    deps: ["identity", "content", "messaging"],
    provides: [ModerationService],
    migrations: { schema: "moderation", dir: new URL("../services/moderation/migrations/", import.meta.url) },
    consumes: ["nova.identity.account"],
    init: async (ctx) => (await import("../services/moderation/module.ts")).init(ctx),
  },
  // Users' archives of their own data: gathered from each owner as the user, a ZIP in the media store,
  // a signed link mailed (a consumer of its own events builds and mails).
  export: {
    deps: ["identity", "graph", "content", "media", "messaging"],
    provides: [ExportService],
    migrations: { schema: "export", dir: new URL("../services/export/migrations/", import.meta.url) },
    // nova.identity.account: an erased account's archives go (AccountErased).
    consumes: ["nova.export.archive", "nova.identity.account"],
    init: async (ctx) => (await import("../services/export/module.ts")).init(ctx),
  },
  gateway: {
    deps: [
      "identity",
      "graph",
      "content",
      "feed",
      "media",
      "messaging",
      "notifications",
      "search",
      "moderation",
      "export",
    ],
    init: async (ctx) => (await import("../gateway/module.ts")).init(ctx),
  },
  // Moves every service's committed outbox rows to Kafka, or (no KAFKA_BROKERS) orders them into the
  // embedded log. Owns nova_events: the log head and the embedded consumers' offsets.
  relay: {
    deps: [],
    migrations: eventLog,
    init: async (ctx) => (await import("../relay/module.ts")).init(ctx),
  },
} as const satisfies Record<string, ModuleDef>;

export type ModuleName = keyof typeof modules;

export const moduleNames = Object.keys(modules) as ModuleName[];

export function isModuleName(s: string): s is ModuleName {
  return Object.hasOwn(modules, s);
}

export function moduleDef(name: ModuleName): ModuleDef {
  return modules[name];
}

/** Expands a target list ("all", "gateway,identity") into module names, validated. */
export function resolveTargets(targets: string[]): ModuleName[] {
  const out = new Set<ModuleName>();
  for (const t of targets
    .flatMap((x) => x.split(","))
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (t === "all") for (const m of moduleNames) out.add(m);
    else if (isModuleName(t)) out.add(t);
    else throw new Error(`unknown target "${t}"; targets are: all, ${moduleNames.join(", ")}`);
  }
  if (out.size === 0) throw new Error("no target given");
  return startOrder([...out]);
}

/** Dependencies first (a module's local deps start before it and stop after it). */
export function startOrder(names: ModuleName[]): ModuleName[] {
  const order: ModuleName[] = [];
  const seen = new Set<ModuleName>();
  const visit = (n: ModuleName, path: ModuleName[]) => {
    if (seen.has(n)) return;
    if (path.includes(n)) throw new Error(`module dependency cycle: ${[...path, n].join(" -> ")}`);
    for (const d of moduleDef(n).deps) if (names.includes(d as ModuleName)) visit(d as ModuleName, [...path, n]);
    seen.add(n);
    order.push(n);
  };
  for (const n of names) visit(n, []);
  return order;
}

/** Services own a schema and write events through its outbox (ARCHITECTURE §3, §4). */
export function ownsOutbox(name: ModuleName): boolean {
  const def: ModuleDef = moduleDef(name);
  return Boolean(def.migrations && def.provides?.length);
}

/** Modules whose schema gets the platform's event tables: an outbox, or consumers' processed_events and dlq. */
export function hasEventTables(name: ModuleName): boolean {
  const def: ModuleDef = moduleDef(name);
  return Boolean(def.migrations && (def.provides?.length || def.consumes?.length));
}

/** Every outbox the relay serves. */
export function outboxSchemas(): string[] {
  return moduleNames.filter(ownsOutbox).map((m) => moduleDef(m).migrations?.schema as string);
}

/** The module that serves a service type name. */
export function providerOf(serviceTypeName: string): ModuleName | undefined {
  return moduleNames.find((m) => (moduleDef(m).provides ?? []).some((s) => s.typeName === serviceTypeName));
}

/** Modules allowed to call a service: those that declare its provider as a dependency. */
export function allowedCallers(serviceTypeName: string): ReadonlySet<string> {
  const provider = providerOf(serviceTypeName);
  if (!provider) return new Set();
  return new Set(moduleNames.filter((m) => moduleDef(m).deps.includes(provider)));
}
