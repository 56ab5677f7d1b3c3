import { trace } from "@opentelemetry/api";
import pino, { type DestinationStream, type Logger } from "pino";

/** Paths that never reach a log line. */
export const redactPaths = [
  "password",
  "*.password",
  "token",
  "*.token",
  "refreshToken",
  "*.refreshToken",
  "accessToken",
  "*.accessToken",
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "*.secret",
  "secret",
  "config.databaseUrl",
  "config.databaseReadUrl",
  "config.redisUrl",
  "config.jwtPrivateKey",
];

let root: Logger | undefined;

export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name ?? "nova",
    level: opts.level ?? process.env.LOG_LEVEL ?? "info",
    redact: { paths: redactPaths, censor: "[redacted]" },
    // The active trace id goes on every line (ARCHITECTURE §8).
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const sc = span.spanContext();
      return { trace_id: sc.traceId, span_id: sc.spanId };
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export function logger(): Logger {
  root ??= createLogger();
  return root;
}

export function setRootLogger(l: Logger): void {
  root = l;
}
