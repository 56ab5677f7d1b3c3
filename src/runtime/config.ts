/**
 * Configuration from the environment, validated with zod at start-up. A secret
 * may come from `NAME` or from a file named by `NAME_FILE` (Kubernetes
 * Secrets, Docker secrets). A bad or missing value stops start-up with a
 * message that names the variable.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const postgresUrl = z.string().refine((v) => /^postgres(ql)?:\/\/.+/.test(v), "expected a postgres:// URL");

export const SECRET_VARS = [
  "DATABASE_URL",
  "DATABASE_READ_URL",
  "REDIS_URL",
  "JWT_PRIVATE_KEY",
  "S3_ACCESS_KEY_ID",
  "S3_SECRET_ACCESS_KEY",
  "SMTP_URL",
  "PUSH_VAPID_PRIVATE_KEY",
] as const;

const httpUrl = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), "expected an http:// or https:// URL");

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: port.default(4000),
  RPC_PORT: port.default(50051),
  ADMIN_PORT: port.default(9090),
  NOVA_DATA_DIR: z.string().min(1).default(".nova"),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_READ_URL: postgresUrl.optional(),
  DB_POOL_MAX: positiveInt.max(200).default(10),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "expected a redis:// URL")
    .optional(),
  NOVA_TLS_DIR: z.string().min(1).optional(),
  NOVA_TLS_CA_FILE: z.string().min(1).optional(),
  NOVA_TLS_CERT_FILE: z.string().min(1).optional(),
  NOVA_TLS_KEY_FILE: z.string().min(1).optional(),
  JWT_PRIVATE_KEY: z.string().includes("PRIVATE KEY", { message: "expected a PKCS#8 PEM private key" }).optional(),
  RPC_TIMEOUT_MS: positiveInt.max(600_000).default(5_000),
  REQUEST_TIMEOUT_MS: positiveInt.max(600_000).default(10_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  MIGRATE_ON_START: z.enum(["true", "false"]).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, "expected host:port[,host:port…]")
    .optional(),
  EVENT_MAX_ATTEMPTS: positiveInt.max(100).default(5),
  OUTBOX_RETENTION_HOURS: positiveInt.max(24 * 365).default(168),
  CONTENT_PURGE_AFTER_DAYS: positiveInt.max(3650).default(30),
  // Account deletion's grace period: the account is erased this long after its owner asked.
  ACCOUNT_ERASE_AFTER_DAYS: positiveInt.max(3650).default(30),
  // Mail (README "Mail"): SMTP when set, otherwise the folder $NOVA_DATA_DIR/mail.
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, "expected an smtp:// or smtps:// URL")
    .optional(),
  MAIL_FROM: z
    .string()
    .regex(/^[^\r\n<>]*<[^\s@<>]+@[^\s@<>]+>$|^[^\s@<>]+@[^\s@<>]+$/, "expected an address or Name <address>")
    .default("Nova <no-reply@nova.localhost>"),
  // Where the links in mails point (the web client's origin).
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+$/, "expected an origin: http(s)://host[:port]")
    .default("http://localhost:4000"),
  // Unset: on in production, off otherwise (README "Accounts").
  IDENTITY_REQUIRE_VERIFIED_EMAIL: z.enum(["true", "false"]).optional(),
  IDENTITY_MAIL_BUDGET_PER_HOUR: positiveInt.max(100).default(3),
  GATEWAY_DATALOADER: z.enum(["true", "false"]).default("true"),
  CACHE_ENABLED: z.enum(["true", "false"]).default("true"),
  CACHE_L1_MAX_ENTRIES: positiveInt.max(10_000_000).default(50_000),
  CACHE_L1_MAX_MB: positiveInt.max(64 * 1024).default(64),
  CACHE_REDIS_TIMEOUT_MS: positiveInt.max(10_000).default(150),
  // Named prepared statements; unset: on in embedded mode, off in distributed mode (PgBouncer).
  DB_PREPARED_STATEMENTS: z.enum(["true", "false"]).optional(),
  FEED_CELEBRITY_THRESHOLD: positiveInt.default(10_000),
  FEED_TIMELINE_SIZE: positiveInt.max(10_000).default(800),
  FEED_INACTIVE_DAYS: positiveInt.max(365).default(7),
  FEED_ACTIVITY_RECHECK_S: nonNegativeInt.max(3_600).default(60),
  // Notifications (README "Notifications").
  NOTIFICATIONS_GROUP_WINDOW_HOURS: positiveInt.max(24 * 30).default(24),
  NOTIFICATIONS_MAX_DEVICES: positiveInt.max(100).default(10),
  // Web Push (services/notifications/webpush.ts): the VAPID key pair, base64url as `web-push
  // generate-vapid-keys` prints it. Unset outside production: made once into <NOVA_DATA_DIR>/push/.
  PUSH_VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{87}$/, "expected a base64url uncompressed P-256 public key (87 characters)")
    .optional(),
  PUSH_VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "expected a base64url P-256 private key (43 characters)")
    .optional(),
  PUSH_VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:\S+@\S+|https:\/\/\S+)$/, "expected mailto:<address> or an https URL")
    .default("mailto:admin@localhost"),
  // A CA (PEM file) to trust for push endpoints besides the system's: a private push service, tests.
  PUSH_CA_FILE: z.string().min(1).optional(),
  // Tests only (refused in production): Web Push endpoints on loopback are allowed.
  PUSH_ALLOW_LOOPBACK: z.enum(["true", "false"]).default("false"),
  // Search (README "Search").
  SEARCH_BACKEND: z.enum(["postgres"]).default("postgres"),
  SEARCH_LANGUAGE: z
    .string()
    .regex(/^[a-z]{2}$/, "expected an ISO 639-1 language code, e.g. en")
    .default("en"),
  SEARCH_FUZZY_THRESHOLD: z.coerce.number().gt(0).lt(1).default(0.3),
  SEARCH_POST_CANDIDATES: positiveInt.max(100_000).default(500),
  SEARCH_TRENDING_HALF_LIFE_HOURS: z.coerce.number().positive().max(24).default(6),
  // Media uploads (services/media): the size and pixel limits, processing concurrency, upload expiry.
  MEDIA_MAX_BYTES: positiveInt.max(1024 * 1024 * 1024).default(20 * 1024 * 1024),
  MEDIA_MAX_PIXELS: positiveInt.max(1_000_000_000).default(50_000_000),
  MEDIA_CONCURRENCY: positiveInt.max(64).default(2),
  MEDIA_UPLOAD_EXPIRY_S: positiveInt.max(7 * 86_400).default(3_600),
  // Short video (services/media/video.ts): on where ffmpeg and ffprobe run (these paths, else PATH).
  MEDIA_VIDEO_MAX_BYTES: positiveInt.max(1024 * 1024 * 1024).default(50 * 1024 * 1024),
  MEDIA_VIDEO_MAX_S: positiveInt.max(3_600).default(60),
  MEDIA_FFMPEG: z.string().min(1).default("ffmpeg"),
  MEDIA_FFPROBE: z.string().min(1).default("ffprobe"),
  // Per-user upload quotas, counted over what createUpload declared (QUOTA_EXCEEDED past them).
  MEDIA_QUOTA_BYTES_PER_DAY: positiveInt.max(1024 * 1024 * 1024 * 1024).default(500 * 1024 * 1024),
  MEDIA_QUOTA_FILES_PER_HOUR: positiveInt.max(100_000).default(100),
  // The gateway's edges (README "Security limits").
  GATEWAY_BODY_LIMIT_BYTES: positiveInt.max(64 * 1024 * 1024).default(1_048_576),
  GATEWAY_MAX_DEPTH: positiveInt.max(100).default(10),
  GATEWAY_MAX_COST: positiveInt.default(5_000),
  GATEWAY_MAX_ALIASES: nonNegativeInt.default(15),
  GATEWAY_MAX_TOKENS: positiveInt.max(1_000_000).default(2_000),
  GATEWAY_MAX_DIRECTIVES: nonNegativeInt.default(10),
  GATEWAY_MAX_BATCH: nonNegativeInt.max(1_000).default(0),
  GATEWAY_PERSISTED_ONLY: z.enum(["true", "false"]).optional(),
  GATEWAY_INTROSPECTION: z.enum(["true", "false"]).optional(),
  GATEWAY_RATE_WINDOW_S: positiveInt.max(86_400).default(60),
  GATEWAY_RATE_USER_QUERIES: nonNegativeInt.default(1_200),
  GATEWAY_RATE_USER_MUTATIONS: nonNegativeInt.default(300),
  GATEWAY_RATE_IP_QUERIES: nonNegativeInt.default(3_000),
  GATEWAY_RATE_IP_MUTATIONS: nonNegativeInt.default(600),
  // PUTs to the gateway's media upload route per user per window (the fs store's uploads); 0 = off.
  GATEWAY_RATE_USER_UPLOADS: nonNegativeInt.default(30),
  // Mutations that send mail, per hour: per address (or signed-in user) and per IP; 0 = off.
  GATEWAY_RATE_MAIL_PER_ADDRESS: nonNegativeInt.default(5),
  GATEWAY_RATE_MAIL_PER_IP: nonNegativeInt.default(30),
  GATEWAY_IDEMPOTENCY_TTL_HOURS: positiveInt.max(24 * 30).default(24),
  // 12: a page hydrates its authors' profiles for the moderation rule (suspended and banned authors hidden).
  GATEWAY_CALL_BUDGET: positiveInt.max(10_000).default(12),
  // GraphQL subscriptions (gateway/realtime): per connection, per subscription, per socket.
  REALTIME_MAX_SUBSCRIPTIONS: positiveInt.max(1_000).default(20),
  REALTIME_MAX_QUEUE: positiveInt.max(100_000).default(256),
  REALTIME_MAX_BUFFER_KB: positiveInt.max(1_048_576).default(1_024),
  REALTIME_FEED_MAX_FOLLOWING: positiveInt.max(100_000).default(2_000),
  GATEWAY_BACKEND_CONCURRENCY: positiveInt.max(100_000).default(64),
  GATEWAY_BACKEND_QUEUE: nonNegativeInt.max(1_000_000).default(256),
  GATEWAY_MAX_EVENT_LOOP_DELAY_MS: nonNegativeInt.default(1_000),
  GATEWAY_MAX_HEAP_USED_BYTES: nonNegativeInt.optional(),
  GATEWAY_CORS_ORIGINS: z
    .string()
    .regex(/^(\*|https?:\/\/[^\s,/]+(,https?:\/\/[^\s,/]+)*)$/, "expected * or origin[,origin…] (https://host[:port])")
    .optional(),
  // Object storage (media): S3 when S3_BUCKET is set, else a folder under NOVA_DATA_DIR/media.
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, "expected a region name, e.g. us-east-1")
    .default("us-east-1"),
  S3_BUCKET: z
    .string()
    .regex(
      /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      "expected a bucket name: 3-63 lowercase letters, digits, dots and hyphens",
    )
    .optional(),
  S3_ACCESS_KEY_ID: z.string().regex(/^\S+$/, "expected an access key id without spaces").optional(),
  S3_SECRET_ACCESS_KEY: z.string().regex(/^\S+$/, "expected a secret access key without spaces").optional(),
  S3_FORCE_PATH_STYLE: z.enum(["true", "false"]).optional(),
  MEDIA_PUBLIC_BASE_URL: httpUrl.refine((v) => !/[?#]/.test(v), "expected a base URL without ? or #").optional(),
  GATEWAY_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d+|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/, "expected true, false, a hop count or CIDRs")
    .default("false"),
});

export type Env = z.infer<typeof schema>;

export interface Config extends Env {
  production: boolean;
  dataDir: string;
  /** IDENTITY_REQUIRE_VERIFIED_EMAIL, or its default (on in production). */
  requireVerifiedEmail: boolean;
  /** Kafka bootstrap brokers; empty: events travel through the Postgres log (embedded transport). */
  kafkaBrokers: string[];
  tls: { ca: string; cert: string; key: string };
  /**
   * The S3-compatible object store the media blobs live in (S3_BUCKET set); undefined: the folder
   * `<dataDir>/media` (embedded). Without a key pair the SDK's default credential chain applies (IRSA,
   * instance roles). `media` in distributed mode requires it.
   */
  s3: S3Settings | undefined;
  /** A CDN (or public-read bucket) base URL media reads are served under; undefined: presigned URLs. */
  mediaPublicBaseUrl: string | undefined;
  /** Address of a module that runs in another process (`<MODULE>_ADDR`, default https://<module>:50051). */
  peerAddr(module: string): string;
}

export interface S3Settings {
  /** undefined: AWS's endpoint for the region */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  /** `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint>/<key>` (default: on with S3_ENDPOINT) */
  forcePathStyle: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { identity?: string } = {}): Config {
  const raw: Record<string, string | undefined> = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_VARS) {
    const file = env[`${name}_FILE`];
    if (!file) continue;
    if (env[name]) {
      problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      raw[name] = readFileSync(file, "utf8").trim();
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  // Empty strings count as unset.
  for (const [k, v] of Object.entries(raw)) if (v === "") delete raw[k];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "?");
      const secret = (SECRET_VARS as readonly string[]).includes(name);
      const got = secret || raw[name] === undefined ? "" : ` (got ${JSON.stringify(raw[name])})`;
      problems.push(`${name}: ${issue.message}${got}`);
    }
  }
  if (parsed.success) problems.push(...s3Problems(parsed.data), ...pushProblems(parsed.data));
  if (problems.length) throw new ConfigError(problems);
  const e = parsed.data as Env;
  const dataDir = resolve(e.NOVA_DATA_DIR);
  const tlsDir = resolve(e.NOVA_TLS_DIR ?? join(dataDir, "tls"));
  const identity = opts.identity ?? "nova";
  return {
    ...e,
    production: e.NODE_ENV === "production",
    dataDir,
    requireVerifiedEmail:
      (e.IDENTITY_REQUIRE_VERIFIED_EMAIL ?? (e.NODE_ENV === "production" ? "true" : "false")) === "true",
    kafkaBrokers: e.KAFKA_BROKERS ? e.KAFKA_BROKERS.split(",") : [],
    s3: s3Settings(e),
    mediaPublicBaseUrl: e.MEDIA_PUBLIC_BASE_URL,
    tls: {
      ca: e.NOVA_TLS_CA_FILE ?? join(tlsDir, "ca.crt"),
      cert: e.NOVA_TLS_CERT_FILE ?? join(tlsDir, `${identity}.crt`),
      key: e.NOVA_TLS_KEY_FILE ?? join(tlsDir, `${identity}.key`),
    },
    peerAddr(module: string) {
      const name = `${module.toUpperCase()}_ADDR`;
      const v = env[name];
      if (v === undefined || v === "") return `https://${module}:50051`;
      if (!/^https:\/\/[^/]+$/.test(v))
        throw new ConfigError([`${name}: expected https://host:port (got ${JSON.stringify(v)})`]);
      return v;
    },
  };
}

/** S3 settings that only make sense together. */
function pushProblems(e: Env): string[] {
  const out: string[] = [];
  if ((e.PUSH_VAPID_PUBLIC_KEY === undefined) !== (e.PUSH_VAPID_PRIVATE_KEY === undefined))
    out.push("PUSH_VAPID_PUBLIC_KEY: set both VAPID keys or neither");
  if (e.PUSH_ALLOW_LOOPBACK === "true" && e.NODE_ENV === "production")
    out.push("PUSH_ALLOW_LOOPBACK: a test setting, refused in production");
  return out;
}

function s3Problems(e: Env): string[] {
  const out: string[] = [];
  const orphans = (["S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_FORCE_PATH_STYLE"] as const).filter(
    (k) => e[k] !== undefined,
  );
  if (!e.S3_BUCKET && orphans.length)
    out.push(`S3_BUCKET: required when ${orphans.join(", ")} ${orphans.length > 1 ? "are" : "is"} set`);
  if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined))
    out.push(
      e.S3_ACCESS_KEY_ID === undefined
        ? "S3_ACCESS_KEY_ID: required with S3_SECRET_ACCESS_KEY (set both, or neither for the default credential chain)"
        : "S3_SECRET_ACCESS_KEY: required with S3_ACCESS_KEY_ID (set both, or neither for the default credential chain)",
    );
  return out;
}

function s3Settings(e: Env): S3Settings | undefined {
  if (!e.S3_BUCKET) return undefined;
  return {
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION,
    bucket: e.S3_BUCKET,
    accessKeyId: e.S3_ACCESS_KEY_ID,
    secretAccessKey: e.S3_SECRET_ACCESS_KEY,
    forcePathStyle: e.S3_FORCE_PATH_STYLE ? e.S3_FORCE_PATH_STYLE === "true" : e.S3_ENDPOINT !== undefined,
  };
}

/** The config as it may be logged: secrets masked. */
export function redactedConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const mask = (v: unknown) => (v === undefined ? v : "[redacted]");
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === "function") continue;
    out[k] = (SECRET_VARS as readonly string[]).includes(k) ? mask(v) : v;
  }
  if (c.s3) out.s3 = { ...c.s3, accessKeyId: mask(c.s3.accessKeyId), secretAccessKey: mask(c.s3.secretAccessKey) };
  return out;
}
