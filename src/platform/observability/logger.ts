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

/**
 * How lines are written: readable (pino-pretty) for a person at a terminal in development, JSON lines
 * everywhere else (a pipe, a file, a log shipper, production), so machines always get JSON.
 */
export function logFormat(env: { isTTY: boolean | undefined; nodeEnv: string | undefined }): "pretty" | "json" {
  return env.isTTY === true && env.nodeEnv !== "production" ? "pretty" : "json";
}

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
  if (opts.destination) return pino(options, opts.destination);
  if (logFormat({ isTTY: process.stdout.isTTY, nodeEnv: process.env.NODE_ENV }) === "pretty")
    // A transport formats in a worker thread; redaction and the trace mixin still run here first.
    return pino({
      ...options,
      transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } },
    });
  return pino(options);
}

export function logger(): Logger {
  root ??= createLogger();
  return root;
}

export function setRootLogger(l: Logger): void {
  root = l;
}
